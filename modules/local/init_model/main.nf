/*
 * A randomly initialised model directory for one family at a named size: the training-free
 * baselines (kmer) and the starting point of pretraining.
 */
process INIT_MODEL {
    tag "${meta.id}"
    label 'process_single'

    input:
    val meta    // [id: '<family>_<size>', family: '<family>']
    val size
    val seed

    output:
    tuple val(meta), path("${meta.id}"), emit: model
    tuple val("${task.process}"), val('utrbench'), eval('init_model.py --version'), topic: versions

    script:
    def args = task.ext.args ?: ''
    """
    init_model.py --family ${meta.family} --size ${size} --seed ${seed} --out ${meta.id} ${args}
    """

    stub:
    """
    mkdir -p ${meta.id}
    touch ${meta.id}/config.json ${meta.id}/utrbench.json
    """
}
