/*
 * Scores of one model (or alignment baseline) for every variant: pref, palt_inv, pratio from
 * full-UTR probabilities; VIS, VIS_W, loss_* from window probabilities; l1, l2, dot, cosine from
 * window embeddings; or PhyloP / CADD.
 */
process VARIANT_SCORES {
    tag "${meta.id}"
    label 'process_single'

    input:
    // meta: id, kind ('model', 'phylop' or 'cadd'), orientation ('dna' or 'rna') of the windows scored;
    // utr_scores: full-UTR probabilities or baseline HDF5; window_probs + windows_fasta, window_embeddings: [] when absent
    tuple val(meta), path(utr_scores), path(window_probs), path(windows_fasta), path(window_embeddings), path(variants), path(windows_index), path(bed)
    val vis_widths  // comma-separated window widths W of VIS_W

    output:
    tuple val(meta), path("${meta.id}.variant_scores.tsv"), emit: scores
    tuple val("${task.process}"), val('utrbench'), eval('variant_scores.py --version'), topic: versions

    script:
    def args = task.ext.args ?: ''
    def utr_arg = utr_scores ? (meta.kind == 'model' ? "--utr-probs ${utr_scores}" : "--${meta.kind} ${utr_scores}") : ''
    def window_arg = window_probs ? "--window-probs ${window_probs} --windows-fasta ${windows_fasta}" : ''
    def embedding_arg = window_embeddings ? "--window-embeddings ${window_embeddings}" : ''
    def index_arg = window_probs || window_embeddings ? "--windows-index ${windows_index} --orientation ${meta.orientation}" : ''
    """
    variant_scores.py --variants ${variants} --bed ${bed} --model-id ${meta.id} ${utr_arg} ${window_arg} ${embedding_arg} ${index_arg} --vis-widths ${vis_widths} --out ${meta.id}.variant_scores.tsv ${args}
    """

    stub:
    """
    touch ${meta.id}.variant_scores.tsv
    """
}
