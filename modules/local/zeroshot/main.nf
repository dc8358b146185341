/*
 * Per-nucleotide A/C/G/T probabilities of one masked language model over one shard of a dataset
 * FASTA (SHARD_FASTA), with a masking strategy (exact, strided:S or unmasked); ext.args may add
 * --readout, --orientation, --species-from-id, --probs-dtype. shard_nt is the size SHARD_FASTA
 * cut with, so the shard is batched as in an unsharded run.
 */
process ZEROSHOT {
    tag "${meta.id}:${dataset.id}:${shard.index}:${strategy}"
    label 'process_gpu'

    input:
    tuple val(meta), path(model_dir), val(dataset), val(shard), path(fasta), val(strategy)  // meta from the --models samplesheet; shard: index, count
    val shard_nt

    output:
    tuple val(meta), val(dataset), val(shard), val(strategy), path("${meta.id}.${dataset.id}.${strategy.replace(':', '')}.${shard.index}.probs.h5"), emit: probs
    tuple val("${task.process}"), val('utrbench'), eval('zeroshot.py --version'), topic: versions

    script:
    def args = task.ext.args ?: ''
    def device = task.accelerator ? 'cuda' : 'cpu'
    def prefix = "${meta.id}.${dataset.id}.${strategy.replace(':', '')}.${shard.index}"
    // optional per-model settings of the --models samplesheet
    def model_args = [meta.species ? "--species ${meta.species}" : '', meta.token_budget ? "--token-budget ${meta.token_budget}" : '', meta.window ? "--window ${meta.window}" : '', meta.precision ? "--precision ${meta.precision}" : ''].findAll { arg -> arg }.join(' ')
    """
    zeroshot.py --model ${model_dir} --family ${meta.family} --model-id ${meta.id} --fasta ${fasta} --shard-nt ${shard_nt} --strategy ${strategy} --device ${device} ${model_args} --out ${prefix}.probs.h5 ${args}
    """

    stub:
    def prefix = "${meta.id}.${dataset.id}.${strategy.replace(':', '')}.${shard.index}"
    """
    touch ${prefix}.probs.h5
    """
}
