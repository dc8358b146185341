/*
 * PhyloP conservation of every UTR position from a bigWig, in the per-nucleotide HDF5 layout.
 */
process PHYLOP {
    tag "${meta.id}"
    label 'process_single'

    input:
    tuple val(meta), path(bed)  // UTR BED6, one line per exon
    path bigwig

    output:
    tuple val(meta), path("${meta.id}.phylop.h5"), emit: scores
    tuple val("${task.process}"), val('utrbench'), eval('baseline_scores.py --version'), topic: versions

    script:
    def args = task.ext.args ?: ''
    """
    baseline_scores.py --bed ${bed} --phylop ${bigwig} --out ${meta.id}.phylop.h5 ${args}
    """

    stub:
    """
    touch ${meta.id}.phylop.h5
    """
}
