/*
 * ZEROSHOT_SHARDED: per-nucleotide probabilities of any (model, dataset, strategy) jobs, sharded.
 *
 * Each dataset FASTA is cut once into shards of shard_nt nucleotides (SHARD_FASTA), every job is
 * scored one task per shard (a failed shard reruns alone; -resume keeps the finished ones), and the
 * shards' files are joined in shard order (MERGE_SHARDS) into one file per model x dataset x strategy.
 * ZEROSHOT runs it on the UTRs for every strategy; TASK_VARIANTS on the variant windows with one
 * strategy per family.
 */
include { SHARD_FASTA                } from '../../../modules/local/shard_fasta'
include { ZEROSHOT as ZEROSHOT_SHARD } from '../../../modules/local/zeroshot'
include { MERGE_SHARDS               } from '../../../modules/local/merge_shards'

workflow ZEROSHOT_SHARDED {
    take:
    jobs      // channel: [meta(id, family, ...), model directory, dataset(id), FASTA, strategy]; dataset ids name one FASTA each
    shard_nt  // Integer: nucleotides per shard

    main:
    SHARD_FASTA(jobs.map { _meta, _model_dir, dataset, fasta, _strategy -> [dataset, fasta] }.unique(), shard_nt)
    shards = SHARD_FASTA.out.shards.flatMap { dataset, fastas ->
        def files = fastas instanceof List ? fastas : [fastas]
        files.collect { fasta -> [dataset.id, dataset, [index: fasta.baseName, count: files.size()], fasta] }
    }
    per_shard = jobs
        .map { meta, model_dir, dataset, _fasta, strategy -> [dataset.id, meta, model_dir, strategy] }
        .combine(shards, by: 0)
        .map { _id, meta, model_dir, strategy, dataset, shard, fasta -> [meta, model_dir, dataset, shard, fasta, strategy] }
    ZEROSHOT_SHARD(per_shard, shard_nt)
    // shard file names differ only in the zero-padded shard index: name order is shard order
    per_result = ZEROSHOT_SHARD.out.probs
        .map { meta, dataset, shard, strategy, h5 -> [groupKey([meta, dataset, strategy], shard.count), h5] }
        .groupTuple()
        .map { key, files ->
            def (meta, dataset, strategy) = key.getGroupTarget()
            [[meta, dataset, strategy], "${meta.id}.${dataset.id}.${strategy.replace(':', '')}.probs.h5", files.sort { h5 -> h5.name }]
        }
    MERGE_SHARDS(per_result)

    emit:
    probs = MERGE_SHARDS.out.merged.map { key, h5 -> [key[0], key[1], key[2], h5] }  // channel: [meta, dataset, strategy, HDF5]
}
