/*
 * Per-task figures: bar charts of Pearson r per model and subset (PNG + PDF per task and dataset)
 * and the merged metrics table of the task.
 */
process PLOT_TASK {
    tag "${task_name}"
    label 'process_single'

    input:
    path metrics, stageAs: 'metrics/?/*'
    val task_name

    output:
    path "${task_name}/metrics.tsv", emit: metrics
    path "${task_name}/*.png", emit: png
    path "${task_name}/*.pdf", emit: pdf
    tuple val("${task.process}"), val('utrbench'), eval('plot_task.py --version'), topic: versions

    script:
    def args = task.ext.args ?: ''
    """
    plot_task.py --out-dir ${task_name} ${args} ${metrics}
    """

    stub:
    """
    mkdir -p ${task_name}
    touch ${task_name}/metrics.tsv ${task_name}/${task_name}.stub.pearson_r.png ${task_name}/${task_name}.stub.pearson_r.pdf
    """
}
