/*
 * Half-life target table (group = the ten published folds) joined to 3'UTR sequences by gene id,
 * its FASTA, and the list of genes without a sequence.
 */
process HALFLIFE_PREP {
    tag "${dataset}"
    label 'process_single'

    input:
    path halflife_table   // binnedgenes.txt
    path utr_fasta        // 3'UTR FASTA (BUILD_UTR_DATASET human UTRs, or keyed by gene id)
    path utr_table        // utr_id -> gene_id table of BUILD_UTR_DATASET; [] when the FASTA is keyed by gene
    val dataset

    output:
    tuple val(dataset), path("halflife/${dataset}.all.tsv"), emit: targets
    tuple val(dataset), path("halflife/${dataset}.fa"), emit: fasta
    path "halflife/${dataset}.missing.txt", emit: missing
    tuple val("${task.process}"), val('utrbench'), eval('halflife_prep.py --version'), topic: versions

    script:
    def args = task.ext.args ?: ''
    def mapping = utr_table ? "--utr-table ${utr_table}" : ''
    """
    halflife_prep.py --table ${halflife_table} --fasta ${utr_fasta} ${mapping} --dataset ${dataset} --out-dir halflife ${args}
    """

    stub:
    """
    mkdir -p halflife
    touch halflife/${dataset}.all.tsv halflife/${dataset}.fa halflife/${dataset}.missing.txt
    """
}
