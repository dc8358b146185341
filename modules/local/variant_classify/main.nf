/*
 * Supervised variant classifier of one model (note 05 §3.6): an MLP on the standardised [ref, alt]
 * window embeddings, tuned by a seeded Optuna search inside every outer fold, outer folds
 * stratified and grouped by UTR; logistic regression on the same features as the reference.
 * Writes the pooled out-of-fold probabilities (VARIANT_METRICS scores them beside the model's
 * zero-shot scores) and each outer fold's tuned hyperparameters. Trains on CUDA when the task has one.
 * ext.args may set --epochs, --learning-rate, --batch-size, --tuning first_fold.
 */
process VARIANT_CLASSIFY {
    tag "${meta.id}"
    label 'process_gpu'

    input:
    // meta: id, orientation ('dna' or 'rna') of the windows the model embedded
    tuple val(meta), path(embeddings), path(variants), path(windows_index)
    val options  // map: trials, outer_folds, inner_folds, pruning
    val seed

    output:
    tuple val(meta), path("${meta.id}.variant_classify.tsv"), emit: predictions
    tuple val(meta), path("${meta.id}.variant_classify_folds.tsv"), emit: folds
    tuple val("${task.process}"), val('utrbench'), eval('variant_classify.py --version'), topic: versions

    script:
    def args = task.ext.args ?: ''
    def device = task.accelerator ? 'cuda' : 'cpu'
    def pruning = options.pruning ? '--pruning' : '--no-pruning'
    """
    variant_classify.py --variants ${variants} --windows-index ${windows_index} --embeddings ${embeddings} --orientation ${meta.orientation} --model-id ${meta.id} --trials ${options.trials} --outer-folds ${options.outer_folds} --inner-folds ${options.inner_folds} ${pruning} --seed ${seed} --device ${device} --out ${meta.id}.variant_classify.tsv --out-folds ${meta.id}.variant_classify_folds.tsv ${args}
    """

    stub:
    """
    touch ${meta.id}.variant_classify.tsv ${meta.id}.variant_classify_folds.tsv
    """
}
