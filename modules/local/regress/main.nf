/*
 * Grouped cross-validated Ridge / SVR of one target table on one embeddings file: pooled
 * out-of-fold Pearson r with its Fisher CI (metrics TSV) and the out-of-fold predictions.
 */
process REGRESS {
    tag "${meta.model}:${meta.dataset}.${meta.subset}"
    label 'process_medium'

    input:
    tuple val(meta), path(embeddings), path(targets)   // meta: model, dataset, subset
    val task_name     // 'mpra' or 'halflife'
    val predictors    // e.g. 'ridge,svr'
    val alphas        // RidgeCV grid of the study: 'siegel', 'griesemer' or 'halflife'
    val n_folds       // 0: leave one group out; N: GroupKFold(N)
    val seed

    output:
    tuple val(meta), path("${meta.model}.${meta.dataset}.${meta.subset}.metrics.tsv"), emit: metrics
    tuple val(meta), path("${meta.model}.${meta.dataset}.${meta.subset}.predictions.tsv"), emit: predictions
    tuple val("${task.process}"), val('utrbench'), eval('regress.py --version'), topic: versions

    script:
    def args = task.ext.args ?: ''
    def predictor_flags = predictors.tokenize(',').collect { name -> "--predictor ${name}" }.join(' ')
    """
    regress.py --embeddings ${embeddings} --targets ${targets} --task ${task_name} --model ${meta.model} ${predictor_flags} --alphas ${alphas} --n-folds ${n_folds} --seed ${seed} --threads ${task.cpus} --out-metrics ${meta.model}.${meta.dataset}.${meta.subset}.metrics.tsv --out-predictions ${meta.model}.${meta.dataset}.${meta.subset}.predictions.tsv ${args}
    """

    stub:
    """
    touch ${meta.model}.${meta.dataset}.${meta.subset}.metrics.tsv ${meta.model}.${meta.dataset}.${meta.subset}.predictions.tsv
    """
}
