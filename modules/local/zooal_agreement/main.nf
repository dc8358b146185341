/*
 * Fig S2: Pearson r between one model's per-nucleotide probabilities of the human 3'UTRs and the
 * Zoo-AL column frequencies of the same UTRs, as a metrics row.
 */
process ZOOAL_AGREEMENT {
    tag "${meta.id}:${strategy}"
    label 'process_low'

    input:
    tuple val(meta), val(strategy), path(probabilities), path(zooal)

    output:
    path "${meta.id}.${strategy.replace(':', '')}.zooal_agreement.tsv", emit: metrics
    tuple val("${task.process}"), val('utrbench'), eval('zooal_agreement.py --version'), topic: versions

    script:
    def args = task.ext.args ?: ''
    def prefix = "${meta.id}.${strategy.replace(':', '')}"
    """
    zooal_agreement.py --probabilities ${probabilities} --zooal ${zooal} --model ${meta.id} --strategy ${strategy} --out ${prefix}.zooal_agreement.tsv ${args}
    """

    stub:
    def prefix = "${meta.id}.${strategy.replace(':', '')}"
    """
    touch ${prefix}.zooal_agreement.tsv
    """
}
