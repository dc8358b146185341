/*
 * Join the per-shard HDF5 results of one model x dataset (x strategy) into one file of the same
 * layout, records in shard order (= the dataset FASTA's order). `key` is passed through untouched;
 * `shards` must be in shard order.
 */
process MERGE_SHARDS {
    tag "${name}"
    label 'process_single'

    input:
    tuple val(key), val(name), path(shards, stageAs: 'shards/*')

    output:
    tuple val(key), path("${name}"), emit: merged
    tuple val("${task.process}"), val('utrbench'), eval('merge_shards.py --version'), topic: versions

    script:
    """
    merge_shards.py --out ${name} ${shards}
    """

    stub:
    """
    touch ${name}
    """
}
