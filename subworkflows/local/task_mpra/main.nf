/*
 * TASK_MPRA: MPRA activity regressed on embeddings of every model and on sequence-feature
 * baselines (k-mer spectra, minimal MPRA features); grouped CV, Pearson r, bar charts.
 * The caller runs MPRA_PREP (module) first and embeds its oligo FASTA with each language model
 * (EMBED), so the embeddings exist before this subworkflow starts; baselines are computed here.
 */
include { SEQUENCE_FEATURES } from '../../../modules/local/sequence_features'
include { REGRESS } from '../../../modules/local/regress'
include { PLOT_TASK } from '../../../modules/local/plot_task'

workflow TASK_MPRA {
    take:
    targets       // channel: [meta(id), target table(s)]  (MPRA_PREP.out.targets)
    oligo_fasta   // channel: [meta(id), oligo FASTA]      (MPRA_PREP.out.fasta)
    embeddings    // channel: [meta(model, dataset = meta.id of MPRA_PREP), embeddings HDF5] of that FASTA (EMBED)
    baselines     // value: comma-separated baseline features, e.g. 'kmer5,minseq'
    predictors    // value: 'ridge', 'svr' or 'ridge,svr'
    alphas        // value: RidgeCV grid, 'siegel' or 'griesemer'
    n_folds       // value: 0 = leave one group out, N = GroupKFold(N)
    seed          // value

    main:
    feature_inputs = oligo_fasta
        .combine(channel.of(baselines).flatMap { names -> names.tokenize(',') })
        .map { meta, fasta, features -> [[dataset: meta.id, model: features], fasta] }
    SEQUENCE_FEATURES(feature_inputs)
    all_embeddings = embeddings.mix(SEQUENCE_FEATURES.out.embeddings)
        .map { meta, h5 -> [meta.dataset, meta.model, h5] }
    tables = targets
        .flatMap { meta, files -> (files instanceof List ? files : [files]).collect { file -> [meta.id, file] } }
    regress_inputs = all_embeddings.combine(tables, by: 0)
        .map { dataset, model, h5, table ->
            def subset = table.name.substring(dataset.length() + 1).replaceAll(/\.tsv$/, '')
            [[model: model, dataset: dataset, subset: subset], h5, table]
        }
    REGRESS(regress_inputs, 'mpra', predictors, alphas, n_folds, seed)
    PLOT_TASK(REGRESS.out.metrics.map { _meta, metrics -> metrics }.collect(), 'mpra')

    emit:
    predictions = REGRESS.out.predictions      // channel: [meta(model, dataset, subset), predictions TSV]
    metrics     = PLOT_TASK.out.metrics        // channel: merged metrics TSV of the task
    figures     = PLOT_TASK.out.png.mix(PLOT_TASK.out.pdf)
}
