/*
 * MAF of one reference chromosome from a HAL alignment (Cactus hal2maf, --onlyOrthologs
 * --noAncestors), over the UTRs or over their stop codons, in the published Cactus container.
 * One task per chromosome, so chromosomes convert in parallel and a failed one reruns alone.
 */
process HAL2MAF {
    tag "${chrom} ${targets}"
    label 'process_medium'
    container 'quay.io/comparative-genomics-toolkit/cactus:v2.9.3'

    input:
    tuple val(chrom), path(hal)
    path bed
    path species    // genomes to keep (--targetGenomes), or [] for all
    val reference
    val targets     // 'utrs' (Zoo-AL, aligned-bases orthologs) or 'stop_codons' (the study's ortholog rule)

    output:
    path "maf/*.maf", emit: maf
    tuple val("${task.process}"), val('utrbench'), eval('hal2maf_batch.py --version'), topic: versions

    script:
    def args = task.ext.args ?: ''
    def species_option = species ? "--species ${species}" : ''
    def target_option = targets == 'stop_codons' ? '--stop-codons' : ''
    """
    hal2maf_batch.py --hal ${hal} --bed ${bed} --chrom ${chrom} ${target_option} ${species_option} --reference ${reference} --out-dir maf ${args}
    """

    stub:
    """
    mkdir -p maf
    touch maf/${chrom}.maf
    """
}
