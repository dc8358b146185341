/*
 * One species' 3'UTRs ('>utr_id:species', transcript orientation) cut from its genome, which
 * hal2fasta streams out of the HAL file; one task per species, in the published Cactus container.
 */
process HAL_SPECIES_UTRS {
    tag "${species_name}"
    label 'process_low'
    container 'quay.io/comparative-genomics-toolkit/cactus:v2.9.3'

    input:
    tuple val(species_name), path(hal), path(regions)

    output:
    path "${species_name}.fa", emit: fasta
    tuple val("${task.process}"), val('utrbench'), eval('hal_species_utrs.py --version'), topic: versions

    script:
    def args = task.ext.args ?: ''
    """
    hal_species_utrs.py --hal ${hal} --species ${species_name} --regions ${regions} --out ${species_name}.fa ${args}
    """

    stub:
    """
    touch ${species_name}.fa
    """
}
