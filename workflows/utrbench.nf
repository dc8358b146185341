/*
 * UTRBENCH: the 3'UTR study. Builds the multi-species 3'UTR dataset from a whole-genome
 * alignment, pretrains the requested model families on it, and adds training-free baseline
 * models. Embeddings, zero-shot probabilities and the benchmark tasks consume `models`.
 */

include { BUILD_UTR_DATASET } from '../subworkflows/local/build_utr_dataset'
include { PRETRAIN          } from '../subworkflows/local/pretrain'
include { INIT_MODEL        } from '../modules/local/init_model'

workflow UTRBENCH {
    take:
    gtf               // channel: GENCODE/Ensembl GTF (empty: no dataset, no pretraining)
    genome            // channel: genome FASTA whose sequence the alignment's reference rows match
    maf               // channel: MAF file(s) sorted by reference position (or empty)
    hal               // channel: one HAL file (or empty)
    species           // path or []: species to extract from the HAL
    exclude_genes     // path or []: genes kept out of pretraining
    dataset_options   // map: reference, single_exon_only, min_length, pseudocount, valid_fraction, shards
    recipes           // channel: [meta(id, family, size), recipe JSON] to pretrain
    selection_rule    // String: checkpoint rule, 'plateau' (the study) or 'valid'
    init_families     // String: comma-separated training-free families (e.g. 'kmer')
    init_size         // String: named size of those models
    seed              // Integer: seed of every random step

    main:
    dataset = BUILD_UTR_DATASET(
        gtf, genome, maf, hal, species, exclude_genes,
        dataset_options.reference, dataset_options.single_exon_only, dataset_options.min_length,
        dataset_options.pseudocount, dataset_options.valid_fraction, dataset_options.shards, seed
    )
    pretrained = PRETRAIN(recipes, dataset.train, dataset.valid, dataset.species_list, seed, selection_rule)

    family_names = init_families.tokenize(',').collect { name -> name.trim() }.findAll { name -> name }
    model_meta = channel.fromList(family_names)
        .unique()
        .map { family -> [id: [family, init_size].join('_'), family: family, size: init_size] }
    initialised = INIT_MODEL(model_meta, init_size, seed)

    emit:
    models    = pretrained.models.mix(initialised.model)  // [meta(id, family, size), model_dir]
    runs      = pretrained.runs                           // [meta, pretraining run directory]
    human     = dataset.human                             // human 3'UTRs, transcript orientation
    orthologs = dataset.orthologs                         // '>utr_id:species' sequences
    coverage  = dataset.coverage                          // aligned bases per UTR and species
    counts    = dataset.counts                            // UTRs left after each filter step
    bed       = dataset.bed                               // UTR exons, BED6
    table     = dataset.table                             // UTR id -> gene id / name
    zooal     = dataset.zooal                             // Zoo-AL per-nucleotide probabilities
    train     = dataset.train                             // pretraining shards
    valid     = dataset.valid                             // validation split (by UTR)
}
