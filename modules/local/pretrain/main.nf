/*
 * Masked-language-model pretraining of one model family from a recipe, on the dataset shards.
 * pretrain.py relaunches itself under torchrun with one process per accelerator (one process on the CPU); the run
 * directory holds train_log.tsv and checkpoints/step-N links to the model directories in the checkpoint directory.
 *
 * A base-size recipe runs for days, longer than any scheduler lets one task live. So the checkpoints go to
 * "${checkpoint_root}/${meta.id}", outside the work directory, and every attempt resumes from the newest
 * complete checkpoint there: --max-hours ends an attempt with a checkpoint and exit status 75 ("run me
 * again") before the time limit, and the errorStrategy below turns that status into a retry. A task killed
 * by the scheduler (exit 137-143) resumes the same way. maxRetries (conf/base.config,
 * --pretrain_max_attempts) bounds the number of attempts.
 */
process PRETRAIN {
    tag "${meta.id}"
    label 'process_gpu'
    // A closure: Nextflow 25.10's default parser evaluates a bare expression once, before `task` exists
    // ("No such variable: task"); nf-lint's "closure is no longer required" holds only for the v2 parser.
    errorStrategy { task.exitStatus == 75 || task.exitStatus == 104 || task.exitStatus in (130..145) ? 'retry' : 'finish' }

    input:
    tuple val(meta), path(recipe)
    path train_shards, stageAs: 'train/*'
    path valid
    path species
    val seed
    // A value, not a path: a path input is staged (linked) into each attempt's new work directory and
    // hashed as an input, so it would have to exist before the first attempt and its growing content
    // would change the task's cache key; the plain absolute path lets every attempt write to the same
    // folder directly (it must lie on a file system the compute nodes share).
    val checkpoint_root
    val max_hours

    output:
    tuple val(meta), path("${meta.id}_run"), emit: run
    tuple val("${task.process}"), val('utrbench'), eval('pretrain.py --version'), topic: versions

    script:
    def args = task.ext.args ?: ''
    def nproc = task.accelerator ? "${task.accelerator.request}" : '1'
    def device = task.accelerator ? 'cuda' : 'cpu'
    """
    pretrain.py --recipe ${recipe} --valid ${valid} --species ${species} --seed ${seed} --device ${device} --nproc-per-node ${nproc} --resume --checkpoint-dir ${checkpoint_root}/${meta.id} --max-hours ${max_hours} --workers ${task.cpus} --out ${meta.id}_run ${args} ${train_shards}
    """

    stub:
    """
    mkdir -p ${meta.id}_run/checkpoints
    touch ${meta.id}_run/train_log.tsv
    """
}
