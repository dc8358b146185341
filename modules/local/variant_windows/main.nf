/*
 * Reference and alternative windows centred on every variant, as DNA (forward strand) and RNA
 * (UTR, transcript orientation) FASTAs with each distinct window once, and their index.
 */
process VARIANT_WINDOWS {
    tag "variants"
    label 'process_single'

    input:
    path variants   // variants TSV (VARIANT_SETS)
    path bed        // the dataset's UTR BED6
    path genome     // genome FASTA
    val window      // window length in nt

    output:
    path "variant_windows.dna.fa", emit: dna
    path "variant_windows.rna.fa", emit: rna
    path "variant_windows.tsv", emit: index
    tuple val("${task.process}"), val('utrbench'), eval('variant_windows.py --version'), topic: versions

    script:
    def args = task.ext.args ?: ''
    """
    variant_windows.py --variants ${variants} --bed ${bed} --genome ${genome} --window ${window} --out-prefix variant_windows ${args}
    """

    stub:
    """
    touch variant_windows.dna.fa variant_windows.rna.fa variant_windows.tsv
    """
}
