/*
 * Sequence embeddings of one model over one shard of a dataset FASTA (SHARD_FASTA; mean over real
 * tokens by default; ext.args may add --layer, --pooling, --per-nucleotide, --species-from-id).
 * shard_nt is the size SHARD_FASTA cut with, so the shard is batched as in an unsharded run.
 */
process EMBED {
    tag "${meta.id}:${dataset.id}:${shard.index}"
    label 'process_gpu'

    input:
    tuple val(meta), path(model_dir), val(dataset), val(shard), path(fasta)  // meta from the --models samplesheet; shard: index, count
    val shard_nt

    output:
    tuple val(meta), val(dataset), val(shard), path("${meta.id}.${dataset.id}.${shard.index}.embeddings.h5"), emit: embeddings
    tuple val("${task.process}"), val('utrbench'), eval('embed.py --version'), topic: versions

    script:
    def args = task.ext.args ?: ''
    def device = task.accelerator ? 'cuda' : 'cpu'
    // optional per-model settings of the --models samplesheet
    def model_args = [meta.species ? "--species ${meta.species}" : '', meta.token_budget ? "--token-budget ${meta.token_budget}" : '', meta.window ? "--window ${meta.window}" : '', meta.precision ? "--precision ${meta.precision}" : ''].findAll { arg -> arg }.join(' ')
    """
    embed.py --model ${model_dir} --family ${meta.family} --model-id ${meta.id} --fasta ${fasta} --shard-nt ${shard_nt} --device ${device} ${model_args} --out ${meta.id}.${dataset.id}.${shard.index}.embeddings.h5 ${args}
    """

    stub:
    """
    touch ${meta.id}.${dataset.id}.${shard.index}.embeddings.h5
    """
}
