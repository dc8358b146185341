/*
 * One model directory's provenance row for the report: family, size, parameter count, tokenizer,
 * context length, species, and where it came from (read from its files, weights not loaded).
 */
process MODEL_CARD {
    tag "${meta.id}"
    label 'process_single'

    input:
    tuple val(meta), path(model_dir)

    output:
    path "${meta.id}.card.json", emit: card
    tuple val("${task.process}"), val('utrbench'), eval('model_card.py --version'), topic: versions

    script:
    def args = task.ext.args ?: ''
    def study_name = meta.study_name ? "--study-name ${meta.study_name}" : ''
    """
    model_card.py --model-dir ${model_dir} --id ${meta.id} ${study_name} --out ${meta.id}.card.json ${args}
    """

    stub:
    """
    echo '{"id": "${meta.id}"}' > ${meta.id}.card.json
    """
}
