/*
 * Baseline "embeddings" without a model: a k-mer spectrum (kmer1..kmer6) or the minimal MPRA
 * sequence features (minseq), in the embeddings HDF5 format so regression treats them as models.
 */
process SEQUENCE_FEATURES {
    tag "${features}:${meta.dataset}"
    label 'process_single'

    input:
    tuple val(meta), path(fasta), val(features)   // meta: dataset

    output:
    tuple val(meta + [model: features]), path("${features}.${meta.dataset}.h5"), emit: embeddings
    tuple val("${task.process}"), val('utrbench'), eval('sequence_features.py --version'), topic: versions

    script:
    def args = task.ext.args ?: ''
    """
    sequence_features.py --fasta ${fasta} --features ${features} --out ${features}.${meta.dataset}.h5 ${args}
    """

    stub:
    """
    touch ${features}.${meta.dataset}.h5
    """
}
