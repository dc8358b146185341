/*
 * Masked-language-model pretraining of one model family from a recipe, on the dataset shards.
 * pretrain.py relaunches itself under torchrun with one process per accelerator (one process on the CPU); the run
 * directory holds checkpoints/step-N model directories and train_log.tsv.
 */
process PRETRAIN {
    tag "${meta.id}"
    label 'process_gpu'

    input:
    tuple val(meta), path(recipe)
    path train_shards, stageAs: 'train/*'
    path valid
    path species
    val seed

    output:
    tuple val(meta), path("${meta.id}_run"), emit: run
    tuple val("${task.process}"), val('utrbench'), eval('pretrain.py --version'), topic: versions

    script:
    def args = task.ext.args ?: ''
    def nproc = task.accelerator ? "${task.accelerator.request}" : '1'
    def device = task.accelerator ? 'cuda' : 'cpu'
    """
    pretrain.py --recipe ${recipe} --valid ${valid} --species ${species} --seed ${seed} --device ${device} --nproc-per-node ${nproc} --resume --no-progress --out ${meta.id}_run ${args} ${train_shards}
    """

    stub:
    """
    mkdir -p ${meta.id}_run/checkpoints
    touch ${meta.id}_run/train_log.tsv
    """
}
