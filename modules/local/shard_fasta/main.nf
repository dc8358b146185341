/*
 * Split one dataset FASTA into consecutive shards of at most shard_nt nucleotides, in file order
 * (shards/shard_00000.fa, ...); EMBED and ZEROSHOT run one task per shard and MERGE_SHARDS joins
 * their results. Model-agnostic: one split per dataset serves every model.
 */
process SHARD_FASTA {
    tag "${dataset.id}"
    label 'process_single'

    input:
    tuple val(dataset), path(fasta)
    val shard_nt

    output:
    tuple val(dataset), path("shards/shard_*.fa"), emit: shards
    tuple val("${task.process}"), val('utrbench'), eval('shard_fasta.py --version'), topic: versions

    script:
    """
    shard_fasta.py --fasta ${fasta} --shard-nt ${shard_nt} --out-dir shards
    """

    stub:
    """
    mkdir shards
    touch shards/shard_00000.fa
    """
}
