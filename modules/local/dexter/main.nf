/*
 * DExTER: greedy k-mer x region exploration on the training genes, then a 10-fold LassoCV; test predictions,
 * variables, the fitted model and the exploration graph.
 */
process DEXTER {
    tag "${meta.id}"
    label 'process_medium'

    input:
    tuple val(meta), path(windows), path(labels)

    output:
    tuple val(meta), path("${meta.id}_dexter_predictions.tsv"), emit: predictions
    tuple val(meta), path("${meta.id}_dexter_variables.tsv"), emit: variables
    tuple val(meta), path("${meta.id}_dexter_model.json"), emit: model
    tuple val(meta), path("${meta.id}_dexter_exploration.tsv"), emit: graph
    tuple val(meta), path("${meta.id}_dexter_metrics.tsv"), emit: metrics
    tuple val("${task.process}"), val('utrbench'), eval('dexter.py --version'), topic: versions

    script:
    def args = task.ext.args ?: ''
    """
    dexter.py --fasta ${windows} --labels ${labels} --dataset ${meta.id} --out-predictions ${meta.id}_dexter_predictions.tsv --out-variables ${meta.id}_dexter_variables.tsv --out-model ${meta.id}_dexter_model.json --out-graph ${meta.id}_dexter_exploration.tsv --out-metrics ${meta.id}_dexter_metrics.tsv ${args}
    """

    stub:
    """
    touch ${meta.id}_dexter_predictions.tsv ${meta.id}_dexter_variables.tsv ${meta.id}_dexter_model.json ${meta.id}_dexter_exploration.tsv ${meta.id}_dexter_metrics.tsv
    """
}
