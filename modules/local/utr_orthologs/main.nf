/*
 * Aligned-bases orthologs (the MAF route): per-species 3'UTR sequences ('>utr_id:species',
 * transcript orientation) joined from the bases aligned to the human UTR, kept when they cover
 * at least min_coverage of it; coverage per UTR and species and its distribution per species.
 */
process UTR_ORTHOLOGS {
    label 'process_medium'

    input:
    path bed
    path genome
    path mafs, stageAs: 'maf/*'
    path species        // species to keep, or [] for all
    val reference
    val min_coverage    // fraction of the human UTR a species' aligned bases must cover

    output:
    path "orthologs.fa", emit: fasta
    path "coverage.tsv", emit: coverage
    path "coverage_summary.tsv", emit: summary
    tuple val("${task.process}"), val('utrbench'), eval('utr_orthologs.py --version'), topic: versions

    script:
    def args = task.ext.args ?: ''
    def species_option = species ? "--species ${species}" : ''
    """
    utr_orthologs.py --bed ${bed} --genome ${genome} --maf-dir maf ${species_option} --reference ${reference} --workers ${task.cpus} --min-coverage ${min_coverage} --out-fasta orthologs.fa --out-coverage coverage.tsv --out-summary coverage_summary.tsv ${args}
    """

    stub:
    """
    touch orthologs.fa coverage.tsv coverage_summary.tsv
    """
}
