/*
 * CADD scores of every substitution at every UTR position from the tabix-indexed whole-genome
 * TSV, in the per-nucleotide HDF5 layout: the raw score, as the study (ext.args may set --cadd-column PHRED).
 */
process CADD {
    tag "${meta.id}"
    label 'process_single'

    input:
    tuple val(meta), path(bed)  // UTR BED6, one line per exon
    tuple path(tsv), path(tbi)  // whole_genome_SNVs.tsv.gz and its .tbi

    output:
    tuple val(meta), path("${meta.id}.cadd.h5"), emit: scores
    tuple val("${task.process}"), val('utrbench'), eval('baseline_scores.py --version'), topic: versions

    script:
    def args = task.ext.args ?: ''
    """
    baseline_scores.py --bed ${bed} --cadd ${tsv} --out ${meta.id}.cadd.h5 ${args}
    """

    stub:
    """
    touch ${meta.id}.cadd.h5
    """
}
