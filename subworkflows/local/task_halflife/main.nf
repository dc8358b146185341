/*
 * TASK_HALFLIFE: mRNA half-life (Agarwal & Kelley 2022) regressed on 3'UTR embeddings of every
 * model and on k-mer baselines, over the ten published folds; Pearson r, bar chart.
 */
include { HALFLIFE_PREP } from '../../../modules/local/halflife_prep'
include { SEQUENCE_FEATURES } from '../../../modules/local/sequence_features'
include { REGRESS } from '../../../modules/local/regress'
include { PLOT_TASK } from '../../../modules/local/plot_task'

workflow TASK_HALFLIFE {
    take:
    halflife_table  // value: binnedgenes.txt
    utr_fasta       // value: human 3'UTR FASTA (BUILD_UTR_DATASET)
    utr_table       // value: utr_id -> gene_id table (BUILD_UTR_DATASET), or [] for a FASTA keyed by gene
    embeddings      // channel: [meta(model, ...), embeddings HDF5] of utr_fasta, from EMBED
    baselines       // value: comma-separated baseline features, e.g. 'kmer6'
    predictors      // value: 'ridge', 'svr' or 'ridge,svr'
    seed            // value

    main:
    HALFLIFE_PREP(halflife_table, utr_fasta, utr_table, 'halflife')
    feature_inputs = HALFLIFE_PREP.out.fasta
        .combine(channel.of(baselines).flatMap { names -> names.tokenize(',') })
        .map { dataset, fasta, features -> [[dataset: dataset, model: features], fasta] }
    SEQUENCE_FEATURES(feature_inputs)
    all_embeddings = embeddings.map { meta, h5 -> [meta.model, h5] }
        .mix(SEQUENCE_FEATURES.out.embeddings.map { meta, h5 -> [meta.model, h5] })
    regress_inputs = all_embeddings.combine(HALFLIFE_PREP.out.targets)
        .map { model, h5, dataset, table -> [[model: model, dataset: dataset, subset: 'all'], h5, table] }
    // The ten published folds are the table's groups: leave one group out (n_folds 0) is the published CV.
    REGRESS(regress_inputs, 'halflife', predictors, 'halflife', 0, seed)
    PLOT_TASK(REGRESS.out.metrics.map { _meta, metrics -> metrics }.collect(), 'halflife')

    emit:
    targets     = HALFLIFE_PREP.out.targets     // channel: [dataset, target table]
    missing     = HALFLIFE_PREP.out.missing     // channel: genes without a 3'UTR sequence
    predictions = REGRESS.out.predictions       // channel: [meta(model, dataset, subset), predictions TSV]
    metrics     = PLOT_TASK.out.metrics         // channel: merged metrics TSV of the task
    figures     = PLOT_TASK.out.png.mix(PLOT_TASK.out.pdf)
}
