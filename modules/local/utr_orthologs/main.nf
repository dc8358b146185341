/*
 * Per-species 3'UTR sequences ('>utr_id:species', transcript orientation) and their coverage
 * from one or more MAFs whose reference rows must match the genome.
 */
process UTR_ORTHOLOGS {
    label 'process_low'

    input:
    path bed
    path genome
    path mafs, stageAs: 'maf/*'
    val reference

    output:
    path "orthologs.fa", emit: fasta
    path "coverage.tsv", emit: coverage
    tuple val("${task.process}"), val('utrbench'), eval('utr_orthologs.py --version'), topic: versions

    script:
    def args = task.ext.args ?: ''
    """
    utr_orthologs.py --bed ${bed} --genome ${genome} --maf-dir maf --reference ${reference} --out-fasta orthologs.fa --out-coverage coverage.tsv ${args}
    """

    stub:
    """
    touch orthologs.fa coverage.tsv
    """
}
