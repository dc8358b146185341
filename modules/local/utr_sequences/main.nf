/*
 * Human 3'UTR sequences from the genome, in transcript orientation.
 */
process UTR_SEQUENCES {
    label 'process_single'

    input:
    path bed
    path genome

    output:
    path "utrs.fa", emit: fasta
    tuple val("${task.process}"), val('utrbench'), eval('utr_sequences.py --version'), topic: versions

    script:
    def args = task.ext.args ?: ''
    """
    utr_sequences.py --bed ${bed} --genome ${genome} --out utrs.fa ${args}
    """

    stub:
    """
    touch utrs.fa
    """
}
