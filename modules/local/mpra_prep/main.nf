/*
 * MPRA target tables (id sequence target group), one per cell line x measure, and the FASTA of
 * their oligos, from a published MPRA table (format: fastutr, siegel, griesemer or generic).
 */
process MPRA_PREP {
    tag "${meta.id}"
    label 'process_single'

    input:
    tuple val(meta), path(tables)   // meta: id (dataset name), format

    output:
    tuple val(meta), path("mpra/${meta.id}.*.tsv"), emit: targets
    tuple val(meta), path("mpra/${meta.id}.fa"), emit: fasta
    tuple val("${task.process}"), val('utrbench'), eval('mpra_prep.py --version'), topic: versions

    script:
    def args = task.ext.args ?: ''
    """
    mpra_prep.py --format ${meta.format} --dataset ${meta.id} --out-dir mpra ${args} ${tables}
    """

    stub:
    """
    mkdir -p mpra
    touch mpra/${meta.id}.stub_stability.tsv mpra/${meta.id}.fa
    """
}
