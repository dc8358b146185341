/*
 * Variant-task metrics of every model's scores (signed and direction-free ROC AUC, PR-AUC, seeded
 * bootstrap CI) and the figures: ROC curves (Fig 2), VIS window gain (Fig S3), AUC heat map (Table S3).
 * ext.args may set --n-resamples.
 */
process VARIANT_METRICS {
    tag "variants"
    label 'process_single'

    input:
    path scores, stageAs: 'scores/*'  // VARIANT_SCORES tables, one per model
    val seed

    output:
    path "variants/metrics.tsv", emit: metrics
    path "variants/*.png", emit: png
    path "variants/*.pdf", emit: pdf
    tuple val("${task.process}"), val('utrbench'), eval('variant_metrics.py --version'), topic: versions

    script:
    def args = task.ext.args ?: ''
    """
    variant_metrics.py --seed ${seed} --out-dir variants ${args} ${scores}
    """

    stub:
    """
    mkdir -p variants
    touch variants/metrics.tsv variants/variants_roc.png variants/variants_roc.pdf
    """
}
