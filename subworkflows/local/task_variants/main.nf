/*
 * TASK_VARIANTS: functional 3'UTR variants (the study's Fig 2, Fig S3, Tables S3-S5).
 * Variant sets -> reference/alternative windows -> ZEROSHOT of every model on the windows of its
 * orientation with its family's strategy, and EMBED of every model on the same windows ->
 * scores per model (zero-shot with its full-UTR probabilities, embedding distances) and per
 * alignment baseline (Zoo-AL, PhyloP, CADD); VARIANT_CLASSIFY (MLP and logistic regression on
 * the [ref, alt] window embeddings, out of fold) per model -> metrics and figures.
 */
include { VARIANT_SETS } from '../../../modules/local/variant_sets'
include { VARIANT_WINDOWS } from '../../../modules/local/variant_windows'
include { ZEROSHOT_SHARDED as ZEROSHOT_WINDOWS } from '../zeroshot_sharded'
include { EMBED_SHARDED as EMBED_WINDOWS } from '../embed_sharded'
include { VARIANT_CLASSIFY } from '../../../modules/local/variant_classify'
include { VARIANT_SCORES } from '../../../modules/local/variant_scores'
include { VARIANT_METRICS } from '../../../modules/local/variant_metrics'

// The strategy of `family` in a spec like 'dnabert:exact,default:unmasked' (strategies may hold ':').
def windowStrategy(String spec, String family) {
    def entries = spec.tokenize(',').collect { entry -> entry.trim() }.findAll { entry -> entry }
    def byFamily = entries.collectEntries { entry -> [(entry.takeBefore(':')): entry.takeAfter(':')] }
    return byFamily[family] ?: byFamily['default']
}

workflow TASK_VARIANTS {
    take:
    sources      // channel: [clinvar, gnomad VCFs + indices, eQTL tables, CADD files, tables] ([] when absent)
    bed          // channel: the dataset's UTR BED6
    genome       // channel: genome FASTA (GRCh38)
    models       // channel: [meta(id, family, orientation?, ...), model_dir]; models with an LM head
    utr_probs    // channel: [meta, dataset, strategy, HDF5] of ZEROSHOT on the UTRs
    zooal        // channel: Zoo-AL probabilities HDF5 (or empty)
    baselines    // channel: [dataset, PhyloP / CADD HDF5] of ZEROSHOT (or empty)
    options      // map: per_class, shared_negatives, gnomad_pass_only, window, vis_widths, strategies, utr_strategy,
                 //      classify (map: trials, outer_folds, inner_folds, pruning)
    shard_nt     // Integer: nucleotides per ZEROSHOT / EMBED shard of the windows FASTA
    seed         // Integer

    main:
    sets = VARIANT_SETS(sources, bed, genome, options.per_class, options.shared_negatives, options.gnomad_pass_only, seed)
    made_windows = VARIANT_WINDOWS(sets.variants, bed, genome, options.window)

    // Each model scores the windows of its orientation (meta.orientation, default 'rna') with its family's strategy.
    jobs = models
        .filter { meta, _model_dir -> windowStrategy(options.strategies, meta.family) }
        .combine(made_windows.dna).combine(made_windows.rna)
        .map { meta, model_dir, dna, rna ->
            def orientation = meta.orientation ?: 'rna'
            [meta, model_dir, [id: "variant_windows_${orientation}"], orientation == 'dna' ? dna : rna]
        }
    window_zeroshot = ZEROSHOT_WINDOWS(
        jobs.map { meta, model_dir, dataset, fasta -> [meta, model_dir, dataset, fasta, windowStrategy(options.strategies, meta.family)] },
        shard_nt
    )
    // Every model embeds the windows of its orientation (models without an LM head too).
    window_embeddings = EMBED_WINDOWS(
        models.combine(made_windows.dna).combine(made_windows.rna).map { meta, model_dir, dna, rna ->
            def orientation = meta.orientation ?: 'rna'
            [meta, model_dir, [id: "variant_windows_${orientation}"], orientation == 'dna' ? dna : rna]
        },
        shard_nt
    ).embeddings
    embeddings_by_model = window_embeddings.map { meta, _dataset, h5 -> [meta.id, h5] }

    utr_by_model = utr_probs
        .filter { _meta, dataset, strategy, _h5 -> dataset.id == 'utrs' && strategy == options.utr_strategy }
        .map { meta, _dataset, _strategy, h5 -> [meta.id, h5] }
    model_jobs = window_zeroshot.probs
        .map { meta, _dataset, _strategy, h5 -> [meta.id, meta, h5] }
        .join(utr_by_model)
        .join(embeddings_by_model)
        .combine(made_windows.dna).combine(made_windows.rna)
        .map { _id, meta, window_h5, utr_h5, embeddings_h5, dna, rna ->
            def orientation = meta.orientation ?: 'rna'
            [[id: meta.id, kind: 'model', orientation: orientation], utr_h5, window_h5, orientation == 'dna' ? dna : rna, embeddings_h5]
        }
    baseline_jobs = zooal.map { h5 -> [[id: 'zooal', kind: 'model', orientation: 'rna'], h5, [], [], []] }
        .mix(baselines
            .filter { dataset, _h5 -> dataset.id == 'utrs' }
            .map { _dataset, h5 ->
                def kind = h5.name.endsWith('.phylop.h5') ? 'phylop' : 'cadd'
                [[id: kind, kind: kind, orientation: 'rna'], h5, [], [], []]
            })
    score_jobs = model_jobs.mix(baseline_jobs)
        .combine(sets.variants).combine(made_windows.index).combine(bed)
    scored = VARIANT_SCORES(score_jobs, options.vis_widths)
    classify_jobs = window_embeddings
        .map { meta, _dataset, h5 -> [[id: meta.id, orientation: meta.orientation ?: 'rna'], h5] }
        .combine(sets.variants).combine(made_windows.index)
    classified = VARIANT_CLASSIFY(classify_jobs, options.classify, seed)
    // a model's zero-shot scores and its classifier's predictions are two tables of one model
    score_tables = scored.scores.mix(classified.predictions).map { _meta, tsv -> tsv }
    evaluated = VARIANT_METRICS(score_tables.collect(sort: true), seed)

    emit:
    variants     = sets.variants                                            // channel: variants TSV
    counts       = sets.counts                                              // channel: counts after each filter step
    windows      = made_windows.dna.mix(made_windows.rna, made_windows.index)  // channel: windows FASTAs and their index
    window_probs = window_zeroshot.probs                                    // channel: [meta, dataset, strategy, HDF5]
    window_embeddings = window_embeddings                                   // channel: [meta, dataset, HDF5]
    scores       = scored.scores                                            // channel: [meta(id, kind, orientation), scores TSV]
    predictions  = classified.predictions                                   // channel: [meta(id, orientation), out-of-fold TSV]
    folds        = classified.folds                                         // channel: [meta(id, orientation), tuned folds TSV]
    metrics      = evaluated.metrics                                        // channel: metrics TSV
    figures      = evaluated.png.mix(evaluated.pdf)                         // channel: PNG + PDF
}
