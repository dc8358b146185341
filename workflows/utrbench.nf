/*
 * UTRBENCH: the 3'UTR study. Builds the multi-species 3'UTR dataset from a whole-genome
 * alignment, pretrains the requested model families on it, adds the models of the --models
 * samplesheet (importing downloaded checkpoints), computes their embeddings and per-nucleotide zero-shot
 * probabilities, and benchmarks them on RBP binding motifs, functional variants (zero-shot and supervised), MPRA
 * activity and mRNA half-life.
 */

include { BUILD_UTR_DATASET } from '../subworkflows/local/build_utr_dataset'
include { PRETRAIN          } from '../subworkflows/local/pretrain'
include { IMPORT_MODEL      } from '../modules/local/import_model'
include { MPRA_PREP         } from '../modules/local/mpra_prep'
include { EMBED             } from '../subworkflows/local/embed'
include { ZEROSHOT          } from '../subworkflows/local/zeroshot'
include { TASK_RBP          } from '../subworkflows/local/task_rbp'
include { TASK_MPRA         } from '../subworkflows/local/task_mpra'
include { TASK_HALFLIFE     } from '../subworkflows/local/task_halflife'
include { TASK_VARIANTS     } from '../subworkflows/local/task_variants'

workflow UTRBENCH {
    take:
    gtf               // channel: GENCODE/Ensembl GTF (empty: no dataset, no pretraining)
    genome            // channel: genome FASTA whose sequence the alignment's reference rows match
    maf               // channel: MAF file(s) sorted by reference position (or empty)
    hal               // channel: one HAL file (or empty)
    species           // path or []: species to extract from the HAL
    exclude_genes     // path or []: genes kept out of pretraining
    dataset_options   // map: reference, single_exon_only, min_length, min_coverage, pseudocount, valid_fraction, shards
    recipes           // channel: [meta(id, family, size), recipe JSON] to pretrain
    selection_rule    // String: checkpoint rule, 'plateau' (the study) or 'valid'
    pretrain_options  // map: checkpoint_dir (absolute, outside the work directory), max_hours (per attempt)
    external_models   // channel: [meta(id, family, ...), folder] from the --models samplesheet
    strategies        // channel: zero-shot masking strategies ('exact', 'strided:S', 'unmasked')
    phylop            // channel: PhyloP bigWig (or empty)
    cadd              // channel: [CADD TSV (bgzip), .tbi] (or empty)
    mpra_tables       // channel: [meta(id, format), MPRA table file(s)] (or empty)
    halflife_table    // channel: half-life targets with folds (or empty)
    rbp_eclip         // channel: eCLIP peak BED files (or empty: no RBP task)
    rbp_motifs        // channel: RBNS k-mer table (or empty: no RBP task)
    task_options      // map: predictors, mpra_baselines, mpra_alphas, mpra_n_folds, halflife_baselines,
                      //      rbp_stepwise_r_min, rbp_bootstrap, rbp_bootstrap_seed
    variant_sources   // channel: [clinvar, gnomad VCFs + indices, eQTL tables, CADD files, tables] (or empty)
    variant_options   // map: per_class, shared_negatives, gnomad_pass_only, window, vis_widths, strategies, utr_strategy,
                      //      classify (map: trials, outer_folds, inner_folds, pruning)
    shard_nt          // Integer: nucleotides per EMBED / ZEROSHOT shard
    seed              // Integer: seed of every random step

    main:
    dataset = BUILD_UTR_DATASET(
        gtf, genome, maf, hal, species, exclude_genes,
        dataset_options.reference, dataset_options.single_exon_only, dataset_options.min_length,
        dataset_options.min_coverage, dataset_options.pseudocount, dataset_options.valid_fraction, dataset_options.shards, seed
    )
    pretrained = PRETRAIN(
        recipes, dataset.train, dataset.valid, dataset.species_list, seed, selection_rule,
        pretrain_options.checkpoint_dir, pretrain_options.max_hours
    )

    // Models trained on the dataset score human sequences with the reference species' embedding
    // (species-aware families; the others ignore it).
    trained = pretrained.models.map { meta, model_dir -> [meta + [species: dataset_options.reference], model_dir] }
    // A --models folder with utrbench.json is a model directory; any other is a downloaded checkpoint.
    external = external_models.branch { _meta, folder ->
        model_dir: folder.resolve('utrbench.json').exists()
        checkpoint: true
    }
    imported = IMPORT_MODEL(external.checkpoint)
    models = trained.mix(external.model_dir, imported.model)

    // Embeddings and zero-shot probabilities of the human 3'UTRs (dataset 'utrs') and the MPRA oligos.
    utrs = dataset.human.map { fasta -> [[id: 'utrs'], fasta] }
    mpra = MPRA_PREP(mpra_tables)
    embedded = EMBED(models, utrs.mix(mpra.fasta.map { meta, fasta -> [[id: meta.id], fasta] }), shard_nt)
    zeroshot = ZEROSHOT(models, utrs, strategies, dataset.bed.map { bed -> [[id: 'utrs'], bed] }, phylop, cadd, shard_nt)
    variants_task = TASK_VARIANTS(
        variant_sources, dataset.bed, genome, models, zeroshot.probs, dataset.zooal, zeroshot.baselines,
        variant_options, shard_nt, seed
    )

    // RBP motifs from the per-nucleotide probabilities of the human UTRs, Zoo-AL and the baselines
    rbp_task = TASK_RBP(
        dataset.bed.combine(dataset.human).map { bed, fasta -> [[id: 'utrs'], bed, fasta] },
        rbp_eclip, rbp_motifs,
        zeroshot.probs, dataset.zooal.map { h5 -> [[id: 'utrs'], h5] }, zeroshot.baselines,
        task_options.rbp_stepwise_r_min, task_options.rbp_bootstrap, task_options.rbp_bootstrap_seed, seed
    )

    // Task inputs: [meta(model, dataset), embeddings HDF5]
    embeddings = embedded.embeddings.map { meta, data, h5 -> [[model: meta.id, dataset: data.id], h5] }
    mpra_task = TASK_MPRA(
        mpra.targets, mpra.fasta, embeddings.filter { meta, _h5 -> meta.dataset != 'utrs' },
        task_options.mpra_baselines, task_options.predictors, task_options.mpra_alphas, task_options.mpra_n_folds, seed
    )
    halflife_task = TASK_HALFLIFE(
        halflife_table, dataset.human, dataset.table, embeddings.filter { meta, _h5 -> meta.dataset == 'utrs' },
        task_options.halflife_baselines, task_options.predictors, seed
    )

    emit:
    models    = models                                    // [meta(id, family, ...), model_dir]
    embeddings = embedded.embeddings.mix(variants_task.window_embeddings)   // [meta, dataset, embeddings HDF5]
    probabilities = zeroshot.probs.mix(variants_task.window_probs)   // [meta, dataset, strategy, HDF5]
    baseline_scores = zeroshot.baselines                  // [dataset, PhyloP / CADD HDF5]
    metrics   = rbp_task.metrics.mix(mpra_task.metrics, halflife_task.metrics, variants_task.metrics)   // metrics TSV per task
    figures   = rbp_task.figures.mix(mpra_task.figures, halflife_task.figures, variants_task.figures)   // PNG + PDF per task
    rbp_sites = rbp_task.sites                            // [dataset, site table]
    rbp_counts = rbp_task.counts                          // [dataset, counts per step]
    rbp_scores = rbp_task.scores                          // [dataset, score table]
    variant_sets = variants_task.variants.mix(variants_task.counts, variants_task.windows)  // variants, counts, windows
    variant_scores = variants_task.scores                 // [meta(id, kind, orientation), scores TSV]
    variant_predictions = variants_task.predictions       // [meta(id, orientation), out-of-fold predictions TSV]
    variant_folds = variants_task.folds                   // [meta(id, orientation), tuned outer folds TSV]
    predictions = mpra_task.predictions.mix(halflife_task.predictions)
    runs      = pretrained.runs                           // [meta, pretraining run directory]
    human     = dataset.human                             // human 3'UTRs, transcript orientation
    orthologs = dataset.orthologs                         // '>utr_id:species' sequences
    coverage  = dataset.coverage                          // MAF route: aligned bases per UTR and species, per-species summary
    regions   = dataset.regions                           // HAL route: species UTR regions, per-species outcomes
    counts    = dataset.counts                            // UTRs left after each filter step
    bed       = dataset.bed                               // UTR exons, BED6
    table     = dataset.table                             // UTR id -> gene id / name
    zooal     = dataset.zooal                             // Zoo-AL per-nucleotide probabilities
    train     = dataset.train                             // pretraining shards
    valid     = dataset.valid                             // validation split (by UTR)
}
