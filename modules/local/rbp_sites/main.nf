/*
 * RBP task site table: RBNS k-mers inside merged eCLIP IDR peaks of their RBP (positives) and the
 * same k-mers outside every peak, subsampled per k-mer (negatives); counts of every step.
 */
process RBP_SITES {
    tag "${dataset.id}"
    label 'process_single'

    input:
    tuple val(dataset), path(bed), path(fasta)   // the dataset step's UTR BED6 and FASTA
    path eclip, stageAs: 'eclip/?/*'              // eCLIP peak BEDs (narrowPeak, plain or gzip)
    path motifs                                   // RBNS k-mer table (.xlsx or TSV)
    val stepwise_r_min
    val seed

    output:
    tuple val(dataset), path("${dataset.id}.rbp_sites.tsv"), emit: sites
    tuple val(dataset), path("${dataset.id}.rbp_counts.tsv"), emit: counts
    tuple val("${task.process}"), val('utrbench'), eval('rbp_sites.py --version'), topic: versions

    script:
    def args = task.ext.args ?: ''
    // [x].flatten(): one staged file or a list alike (valid Groovy; nf-lint's type check does not know List.flatten)
    def eclip_flags = [eclip].flatten().collect { peaks -> "--eclip ${peaks}" }.join(' ')
    """
    rbp_sites.py ${eclip_flags} --motifs ${motifs} --bed ${bed} --fasta ${fasta} --stepwise-r-min ${stepwise_r_min} --seed ${seed} --out ${dataset.id}.rbp_sites.tsv --out-counts ${dataset.id}.rbp_counts.tsv ${args}
    """

    stub:
    """
    touch ${dataset.id}.rbp_sites.tsv ${dataset.id}.rbp_counts.tsv
    """
}
