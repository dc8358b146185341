/*
 * RBP task metrics: signed ROC AUC and PR-AUC with percentile bootstrap intervals per score column,
 * on all sites and the PhyloP top / bottom 10 % strata; the Figure 1 bar chart (PNG + PDF).
 */
process RBP_METRICS {
    tag "${dataset.id}"
    label 'process_single'

    input:
    tuple val(dataset), path(sites), path(scores)
    val n_bootstrap
    val seed

    output:
    path "rbp/metrics.tsv", emit: metrics
    path "rbp/*.png", emit: png
    path "rbp/*.pdf", emit: pdf
    tuple val("${task.process}"), val('utrbench'), eval('rbp_metrics.py --version'), topic: versions

    script:
    def args = task.ext.args ?: ''
    """
    rbp_metrics.py --sites ${sites} --scores ${scores} --bootstrap ${n_bootstrap} --seed ${seed} --dataset ${dataset.id} --out-dir rbp ${args}
    """

    stub:
    """
    mkdir -p rbp
    touch rbp/metrics.tsv rbp/rbp.${dataset.id}.roc_auc.png rbp/rbp.${dataset.id}.roc_auc.pdf
    """
}
