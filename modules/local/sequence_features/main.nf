/*
 * Baseline "embeddings" without a model: a k-mer spectrum (kmer1..kmer6) or the minimal MPRA
 * sequence features (minseq), in the embeddings HDF5 format so regression treats them as models.
 */
process SEQUENCE_FEATURES {
    tag "${meta.model}:${meta.dataset}"
    label 'process_single'

    input:
    tuple val(meta), path(fasta)   // meta: dataset, model (the feature set: kmer1..kmer6 or minseq)

    output:
    tuple val(meta), path("${meta.model}.${meta.dataset}.h5"), emit: embeddings
    tuple val("${task.process}"), val('utrbench'), eval('sequence_features.py --version'), topic: versions

    script:
    def args = task.ext.args ?: ''
    """
    sequence_features.py --fasta ${fasta} --features ${meta.model} --out ${meta.model}.${meta.dataset}.h5 ${args}
    """

    stub:
    """
    touch ${meta.model}.${meta.dataset}.h5
    """
}
