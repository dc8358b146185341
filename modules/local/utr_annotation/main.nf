/*
 * Human 3'UTRs from a GENCODE/Ensembl GTF: one per gene, from its Ensembl_canonical transcript.
 */
process UTR_ANNOTATION {
    tag "${gtf.name}"
    label 'process_single'

    input:
    path gtf
    val single_exon_only    // true: the study's single-exon 3'UTRs; false: spliced UTRs too
    val min_length

    output:
    path "utrs.bed", emit: bed
    path "utrs.tsv", emit: table
    path "utr_counts.tsv", emit: counts
    tuple val("${task.process}"), val('utrbench'), eval('utr_annotation.py --version'), topic: versions

    script:
    def args = task.ext.args ?: ''
    def exon_rule = single_exon_only ? '--single-exon-only' : '--spliced'
    """
    utr_annotation.py --gtf ${gtf} ${exon_rule} --min-length ${min_length} --out-bed utrs.bed --out-table utrs.tsv --counts utr_counts.tsv ${args}
    """

    stub:
    """
    touch utrs.bed utrs.tsv utr_counts.tsv
    """
}
