/*
 * A downloaded checkpoint folder (a --models row without utrbench.json) as a utrbench model
 * directory: safetensors weights, our config, utrbench.json with the source files' SHA-256 and a
 * self-check that the imported model's outputs equal the checkpoint's.
 */
process IMPORT_MODEL {
    tag "${meta.id}"
    label 'process_single'

    input:
    tuple val(meta), path(checkpoint, stageAs: 'checkpoint')  // meta from the --models samplesheet

    output:
    tuple val(meta), path("${meta.id}"), emit: model
    tuple val("${task.process}"), val('utrbench'), eval('import_model.py --version'), topic: versions

    script:
    def args = task.ext.args ?: ''
    """
    import_model.py --source ${checkpoint} --family ${meta.family} --out ${meta.id} ${args}
    """

    stub:
    """
    mkdir -p ${meta.id}
    touch ${meta.id}/config.json ${meta.id}/model.safetensors ${meta.id}/utrbench.json
    """
}
