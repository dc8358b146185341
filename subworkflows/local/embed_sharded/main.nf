/*
 * EMBED_SHARDED: sequence embeddings of any (model, dataset) jobs, sharded.
 *
 * Each dataset FASTA is cut once into shards of shard_nt nucleotides (SHARD_FASTA), every job is
 * embedded one task per shard (a failed shard reruns alone; -resume keeps the finished ones), and
 * the shards' files are joined in shard order (MERGE_SHARDS) into one file per model x dataset.
 * EMBED runs it on every model x dataset; TASK_VARIANTS on the variant windows of each model's orientation.
 */
include { SHARD_FASTA          } from '../../../modules/local/shard_fasta'
include { EMBED as EMBED_SHARD } from '../../../modules/local/embed'
include { MERGE_SHARDS         } from '../../../modules/local/merge_shards'

workflow EMBED_SHARDED {
    take:
    jobs      // channel: [meta(id, family, species?, token_budget?, window?, precision?), model directory, dataset(id), FASTA]; dataset ids name one FASTA each
    shard_nt  // Integer: nucleotides per shard

    main:
    SHARD_FASTA(jobs.map { _meta, _model_dir, dataset, fasta -> [dataset, fasta] }.unique(), shard_nt)
    shards = SHARD_FASTA.out.shards.flatMap { dataset, fastas ->
        def files = fastas instanceof List ? fastas : [fastas]
        files.collect { fasta -> [dataset.id, dataset, [index: fasta.baseName, count: files.size()], fasta] }
    }
    per_shard = jobs
        .map { meta, model_dir, dataset, _fasta -> [dataset.id, meta, model_dir] }
        .combine(shards, by: 0)
        .map { _id, meta, model_dir, dataset, shard, fasta -> [meta, model_dir, dataset, shard, fasta] }
    EMBED_SHARD(per_shard, shard_nt)
    // shard file names differ only in the zero-padded shard index: name order is shard order
    per_result = EMBED_SHARD.out.embeddings
        .map { meta, dataset, shard, h5 -> [groupKey([meta, dataset], shard.count), h5] }
        .groupTuple()
        .map { key, files ->
            def (meta, dataset) = key.getGroupTarget()
            [[meta, dataset], "${meta.id}.${dataset.id}.embeddings.h5", files.sort { h5 -> h5.name }]
        }
    MERGE_SHARDS(per_result)

    emit:
    embeddings = MERGE_SHARDS.out.merged.map { key, h5 -> [key[0], key[1], h5] }  // channel: [meta, dataset, embeddings HDF5]
}
