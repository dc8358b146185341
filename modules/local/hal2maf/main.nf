/*
 * MAF per reference chromosome over the UTR regions from a HAL alignment (Cactus hal2maf,
 * --onlyOrthologs --noAncestors), in the published Cactus container.
 */
process HAL2MAF {
    tag "${hal.name}"
    label 'process_medium'
    container 'quay.io/comparative-genomics-toolkit/cactus:v2.9.3'

    input:
    path hal
    path bed
    path species    // genomes to keep (--targetGenomes), or [] for all
    val reference

    output:
    path "maf/*.maf", emit: maf
    tuple val("${task.process}"), val('utrbench'), eval('hal2maf_batch.py --version'), topic: versions

    script:
    def args = task.ext.args ?: ''
    def species_option = species ? "--species ${species}" : ''
    """
    hal2maf_batch.py --hal ${hal} --bed ${bed} ${species_option} --reference ${reference} --out-dir maf ${args}
    """

    stub:
    """
    mkdir -p maf
    touch maf/stub.maf
    """
}
