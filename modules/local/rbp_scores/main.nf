/*
 * RBP task scores: one column per per-nucleotide HDF5 (language models, Zoo-AL: mean p(reference)
 * over the motif; PhyloP, CADD: maximum over the motif), read one file at a time.
 */
process RBP_SCORES {
    tag "${dataset.id}"
    label 'process_single'

    input:
    tuple val(dataset), path(sites), path(fasta)
    path scores, stageAs: 'scores/?/*'   // probability and baseline score HDF5s of this dataset

    output:
    tuple val(dataset), path("${dataset.id}.rbp_scores.tsv"), emit: scores
    tuple val("${task.process}"), val('utrbench'), eval('rbp_scores.py --version'), topic: versions

    script:
    def args = task.ext.args ?: ''
    // [x].flatten(): one staged file or a list alike (valid Groovy; nf-lint's type check does not know List.flatten)
    def score_flags = [scores].flatten().collect { h5 -> "--scores ${h5}" }.join(' ')
    """
    rbp_scores.py --sites ${sites} --fasta ${fasta} ${score_flags} --out ${dataset.id}.rbp_scores.tsv ${args}
    """

    stub:
    """
    touch ${dataset.id}.rbp_scores.tsv
    """
}
