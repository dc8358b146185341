/*
 * TSS windows (2 x flank + 1 bp, minus strand reverse-complemented) from a genome and a GTF, log10 TPM labels of
 * one tissue from a GTEx median-TPM table, and DExTER's seeded 2/3 - 1/3 split with a dev set carved from training.
 */
process EXPRESSION_DATASET {
    tag "${meta.id}"
    label 'process_low'

    input:
    tuple val(meta), path(genome), path(gtf), path(expression)
    val tissue
    val seed

    output:
    tuple val(meta), path("${meta.id}_windows.fa"), path("${meta.id}_labels.tsv"), emit: dataset
    tuple val(meta), path("${meta.id}_dataset_summary.json"), emit: summary
    tuple val("${task.process}"), val('utrbench'), eval('expression_dataset.py --version'), topic: versions

    script:
    def args = task.ext.args ?: ''
    """
    expression_dataset.py --genome ${genome} --gtf ${gtf} --expression ${expression} --tissue '${tissue}' --seed ${seed} --out-fasta ${meta.id}_windows.fa --out-labels ${meta.id}_labels.tsv --out-summary ${meta.id}_dataset_summary.json ${args}
    """

    stub:
    """
    touch ${meta.id}_windows.fa ${meta.id}_labels.tsv ${meta.id}_dataset_summary.json
    """
}
