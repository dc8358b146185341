/*
 * EMBED: sequence embeddings of every model (the --models samplesheet) for every dataset FASTA,
 * and an index of what was produced (model, family, dataset, file).
 *
 * Each dataset is cut into shards of shard_nt nucleotides (SHARD_FASTA), embedded one task per
 * model x shard (a failed shard reruns alone; -resume keeps the finished ones), and the shards'
 * files are joined in shard order (MERGE_SHARDS) into one file per model x dataset.
 */
include { SHARD_FASTA                 } from '../../../modules/local/shard_fasta'
include { EMBED as EMBED_SHARD        } from '../../../modules/local/embed'
include { MERGE_SHARDS                } from '../../../modules/local/merge_shards'

workflow EMBED {
    take:
    models      // channel: [meta(id, family, species?, token_budget?, window?, precision?), model directory]
    datasets    // channel: [dataset(id), FASTA]
    shard_nt    // Integer: nucleotides per shard

    main:
    SHARD_FASTA(datasets, shard_nt)
    shards = SHARD_FASTA.out.shards.flatMap { dataset, fastas ->
        def files = fastas instanceof List ? fastas : [fastas]
        files.collect { fasta -> [dataset, [index: fasta.baseName, count: files.size()], fasta] }
    }
    EMBED_SHARD(models.combine(shards), shard_nt)
    // shard file names differ only in the zero-padded shard index: name order is shard order
    per_result = EMBED_SHARD.out.embeddings
        .map { meta, dataset, shard, h5 -> [groupKey([meta, dataset], shard.count), h5] }
        .groupTuple()
        .map { key, files ->
            def (meta, dataset) = key.getGroupTarget()
            [[meta, dataset], "${meta.id}.${dataset.id}.embeddings.h5", files.sort { h5 -> h5.name }]
        }
    MERGE_SHARDS(per_result)
    embeddings = MERGE_SHARDS.out.merged.map { key, h5 -> [key[0], key[1], h5] }
    index = embeddings
        .map { meta, dataset, h5 -> "${meta.id}\t${meta.family}\t${dataset.id}\t${h5.name}" }
        .collectFile(name: 'embeddings_index.tsv', newLine: true, sort: true, seed: "model\tfamily\tdataset\tfile")

    emit:
    embeddings = embeddings  // channel: [meta, dataset, embeddings HDF5]
    index      = index       // channel: embeddings_index.tsv
}
