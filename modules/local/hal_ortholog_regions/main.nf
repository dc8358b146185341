/*
 * Where each species' 3'UTR lies (the study's rule): the species row over the human stop codon
 * must hold the same stop codon; its UTR is the stretch of the human UTR's length after it.
 */
process HAL_ORTHOLOG_REGIONS {
    label 'process_low'

    input:
    path bed
    path genome
    path mafs, stageAs: 'maf/*'   // stop-codon MAFs of HAL2MAF (targets 'stop_codons')
    path species                  // species to keep, or [] for all
    val reference

    output:
    path "regions.tsv", emit: regions
    path "ortholog_summary.tsv", emit: summary
    tuple val("${task.process}"), val('utrbench'), eval('hal_ortholog_regions.py --version'), topic: versions

    script:
    def args = task.ext.args ?: ''
    def species_option = species ? "--species ${species}" : ''
    """
    hal_ortholog_regions.py --bed ${bed} --genome ${genome} --maf-dir maf ${species_option} --reference ${reference} --out-regions regions.tsv --out-summary ortholog_summary.tsv ${args}
    """

    stub:
    """
    touch regions.tsv ortholog_summary.tsv
    """
}
