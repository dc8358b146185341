/*
 * REPORT: the run's MultiQC report. Adds the Fig S2 metrics (each model's per-nucleotide
 * probabilities of the human 3'UTRs against Zoo-AL) and one provenance card per model, then
 * renders every task's metrics beside the studies' published values.
 */
include { ZOOAL_AGREEMENT } from '../../../modules/local/zooal_agreement'
include { MODEL_CARD      } from '../../../modules/local/model_card'
include { REPORT as MULTIQC_REPORT } from '../../../modules/local/report'

workflow REPORT {
    take:
    metrics        // channel: metrics TSVs of every task
    figures        // channel: task figures (PNG and PDF; the report shows the PNGs)
    models         // channel: [meta(id, family, ...), model_dir]
    runs           // channel: [meta, pretraining run folder with train_log.tsv]
    probabilities  // channel: [meta, dataset, strategy, probability HDF5] from ZEROSHOT
    zooal          // channel: Zoo-AL probability HDF5 of the human 3'UTRs (or empty)
    published      // path: folder of the studies' numbers (assets/published)
    params_json    // channel: the run's parameters as JSON
    versions_yml   // channel: software_versions.yml

    main:
    agreement_inputs = probabilities
        .filter { _meta, dataset, _strategy, _h5 -> dataset.id == 'utrs' }
        .combine(zooal)
        .map { meta, _dataset, strategy, h5, zooal_h5 -> [meta, strategy, h5, zooal_h5] }
    ZOOAL_AGREEMENT(agreement_inputs)
    MODEL_CARD(models)
    MULTIQC_REPORT(
        metrics.mix(ZOOAL_AGREEMENT.out.metrics).collect().ifEmpty([]),
        // a plotting task with several PNGs emits them as one list: flatten to files first
        figures.flatten().filter { file -> file.name.endsWith('.png') }.collect().ifEmpty([]),
        MODEL_CARD.out.card.collect().ifEmpty([]),
        runs.map { _meta, run -> run }.collect().ifEmpty([]),
        published,
        params_json,
        versions_yml
    )

    emit:
    html      = MULTIQC_REPORT.out.html      // multiqc_report.html
    content   = MULTIQC_REPORT.out.content   // the custom content it was built from
    agreement = ZOOAL_AGREEMENT.out.metrics  // Fig S2 metrics TSVs
}
