/*
 * EMBED: sequence embeddings of every model (the --models samplesheet) for every dataset FASTA,
 * and an index of what was produced (model, family, dataset, file).
 *
 * The embedding is sharded (EMBED_SHARDED): one task per model x shard of shard_nt nucleotides,
 * merged in shard order into one file per model x dataset.
 */
include { EMBED_SHARDED } from '../embed_sharded'

workflow EMBED {
    take:
    models      // channel: [meta(id, family, species?, token_budget?, window?, precision?), model directory]
    datasets    // channel: [dataset(id), FASTA]
    shard_nt    // Integer: nucleotides per shard

    main:
    embeddings = EMBED_SHARDED(models.combine(datasets), shard_nt).embeddings
    index = embeddings
        .map { meta, dataset, h5 -> "${meta.id}\t${meta.family}\t${dataset.id}\t${h5.name}" }
        .collectFile(name: 'embeddings_index.tsv', newLine: true, sort: true, seed: "model\tfamily\tdataset\tfile")

    emit:
    embeddings = embeddings  // channel: [meta, dataset, embeddings HDF5]
    index      = index       // channel: embeddings_index.tsv
}
