/*
 * The labelled 3'UTR variant sets of task 2 from ClinVar, gnomAD, eQTL Catalogue credible sets,
 * CADD training variants and user tables (any may be absent), with the counts after each filter.
 * ext.args may add --strict, --max-ref-mismatch F.
 */
process VARIANT_SETS {
    tag "variants"
    label 'process_single'

    input:
    tuple path(clinvar, stageAs: 'clinvar/*', arity: '0..*'), path(gnomad, stageAs: 'gnomad/*', arity: '0..*'), path(eqtl, stageAs: 'eqtl/*', arity: '0..*'), path(cadd, stageAs: 'cadd/*', arity: '0..*'), path(tables, stageAs: 'tables/*', arity: '0..*')  // lists, [] when absent; gnomad with its .tbi/.csi
    path bed                // the dataset's UTR BED6
    path genome             // genome FASTA (GRCh38)
    val per_class           // variants per split and label
    val shared_negatives    // true: the study's one gnomAD-common sample for all splits
    val gnomad_pass_only    // true: FILTER=PASS gnomAD records only
    val seed

    output:
    path "variants.tsv", emit: variants
    path "variant_counts.tsv", emit: counts
    tuple val("${task.process}"), val('utrbench'), eval('variant_sets.py --version'), topic: versions

    script:
    def args = task.ext.args ?: ''
    def gnomad_vcfs = gnomad.findAll { vcf -> !(vcf.name.endsWith('.tbi') || vcf.name.endsWith('.csi')) }
    def source_args = (clinvar.collect { vcf -> "--clinvar ${vcf}" } + gnomad_vcfs.collect { vcf -> "--gnomad ${vcf}" } + eqtl.collect { table -> "--eqtl ${table}" } + cadd.collect { vcf -> "--cadd ${vcf}" } + tables.collect { table -> "--table ${table}" }).join(' ')
    def flags = [shared_negatives ? '--shared-negatives' : '', gnomad_pass_only ? '--gnomad-pass-only' : ''].findAll { flag -> flag }.join(' ')
    """
    variant_sets.py --bed ${bed} --genome ${genome} ${source_args} --per-class ${per_class} ${flags} --seed ${seed} --out variants.tsv --out-counts variant_counts.tsv ${args}
    """

    stub:
    """
    touch variants.tsv variant_counts.tsv
    """
}
