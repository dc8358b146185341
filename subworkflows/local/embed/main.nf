/*
 * EMBED: sequence embeddings of every model (the --models samplesheet) for every dataset FASTA,
 * and an index of what was produced (model, family, dataset, file).
 */
include { EMBED as EMBED_SEQUENCES } from '../../../modules/local/embed'

workflow EMBED {
    take:
    models      // channel: [meta(id, family, species?, token_budget?, window?, precision?), model directory]
    datasets    // channel: [dataset(id), FASTA]

    main:
    EMBED_SEQUENCES(models.combine(datasets))
    index = EMBED_SEQUENCES.out.embeddings
        .map { meta, dataset, h5 -> "${meta.id}\t${meta.family}\t${dataset.id}\t${h5.name}" }
        .collectFile(name: 'embeddings_index.tsv', newLine: true, sort: true, seed: "model\tfamily\tdataset\tfile")

    emit:
    embeddings = EMBED_SEQUENCES.out.embeddings  // channel: [meta, dataset, embeddings HDF5]
    index      = index                           // channel: embeddings_index.tsv
}
