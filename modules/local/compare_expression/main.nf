/*
 * Pearson, Spearman and R² with paired bootstrap intervals of every method on the shared test genes, a scatter plot
 * per method, a table and a markdown summary. methods[i] names predictions[i]; the first method is the reference.
 */
process COMPARE_EXPRESSION {
    tag "${meta.id}"
    label 'process_single'

    input:
    tuple val(meta), val(methods), path(predictions)
    val tissue
    val seed

    output:
    tuple val(meta), path("${meta.id}_comparison.tsv"), emit: table
    tuple val(meta), path("${meta.id}_comparison_metrics.tsv"), emit: metrics
    tuple val(meta), path("${meta.id}_comparison.md"), emit: summary
    tuple val(meta), path("${meta.id}_figures"), emit: figures
    tuple val("${task.process}"), val('utrbench'), eval('compare_expression.py --version'), topic: versions

    script:
    def args = task.ext.args ?: ''
    def files = predictions instanceof List ? predictions : [predictions]
    def pairs = methods.indices.collect { index -> "--predictions ${methods[index]}=${files[index]}" }.join(' ')
    """
    compare_expression.py ${pairs} --tissue '${tissue}' --seed ${seed} --dataset ${meta.id} --out-table ${meta.id}_comparison.tsv --out-metrics ${meta.id}_comparison_metrics.tsv --out-summary ${meta.id}_comparison.md --out-figures ${meta.id}_figures ${args}
    """

    stub:
    """
    mkdir -p ${meta.id}_figures
    touch ${meta.id}_comparison.tsv ${meta.id}_comparison_metrics.tsv ${meta.id}_comparison.md
    """
}
