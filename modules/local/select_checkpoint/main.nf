/*
 * The checkpoint of a pretraining run that later steps use (the study's plateau rule or the
 * lowest validation loss), written as a model directory.
 */
process SELECT_CHECKPOINT {
    tag "${meta.id}"
    label 'process_single'

    input:
    tuple val(meta), path(run)
    val rule

    output:
    tuple val(meta), path("${meta.id}"), emit: model
    tuple val("${task.process}"), val('utrbench'), eval('select_checkpoint.py --version'), topic: versions

    script:
    def args = task.ext.args ?: ''
    """
    select_checkpoint.py --run ${run} --rule ${rule} --out ${meta.id} ${args}
    """

    stub:
    """
    mkdir -p ${meta.id}
    touch ${meta.id}/config.json ${meta.id}/model.safetensors ${meta.id}/utrbench.json
    """
}
