/*
 * Regression fine-tuning of one model (any family; published checkpoints need meta.family) on the TSS windows:
 * first-token head, MSE, AdamW with warm-up and linear decay, best dev-loss checkpoint kept; test predictions.
 */
process FINETUNE_REGRESSION {
    tag "${meta.id}:${model_meta.id}"
    label 'process_gpu'

    input:
    tuple val(meta), path(windows), path(labels), val(model_meta), path(model_dir, stageAs: 'base_model')
    val seed

    output:
    tuple val(meta), val(model_meta), path("${meta.id}_${model_meta.id}_predictions.tsv"), emit: predictions
    tuple val(meta), val(model_meta), path("${meta.id}_${model_meta.id}_finetuned"), emit: model
    tuple val(meta), val(model_meta), path("${meta.id}_${model_meta.id}_finetune_log.tsv"), emit: log
    tuple val(meta), val(model_meta), path("${meta.id}_${model_meta.id}_metrics.tsv"), emit: metrics
    tuple val("${task.process}"), val('utrbench'), eval('finetune_regression.py --version'), topic: versions

    script:
    def args = task.ext.args ?: ''
    def device = task.accelerator ? 'cuda' : 'cpu'
    def prefix = "${meta.id}_${model_meta.id}"
    """
    finetune_regression.py --model ${model_dir} --family ${model_meta.family} --fasta ${windows} --labels ${labels} --seed ${seed} --device ${device} --dataset ${meta.id} --out-model ${prefix}_finetuned --out-predictions ${prefix}_predictions.tsv --out-log ${prefix}_finetune_log.tsv --out-metrics ${prefix}_metrics.tsv ${args}
    """

    stub:
    def prefix = "${meta.id}_${model_meta.id}"
    """
    mkdir -p ${prefix}_finetuned
    touch ${prefix}_finetuned/config.json ${prefix}_predictions.tsv ${prefix}_finetune_log.tsv ${prefix}_metrics.tsv
    """
}
