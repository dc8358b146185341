/*
 * ZEROSHOT: per-nucleotide A/C/G/T probabilities of every model with an LM head for every dataset
 * and masking strategy, the alignment baselines PhyloP and CADD over the datasets' UTR regions
 * (when given), and an index of what was produced (model, family, dataset, strategy, file).
 *
 * Each dataset is cut into shards of shard_nt nucleotides (SHARD_FASTA), scored one task per
 * model x shard x strategy (a failed shard reruns alone; -resume keeps the finished ones), and the
 * shards' files are joined in shard order (MERGE_SHARDS) into one file per model x dataset x strategy.
 */
include { SHARD_FASTA                } from '../../../modules/local/shard_fasta'
include { ZEROSHOT as ZEROSHOT_SHARD } from '../../../modules/local/zeroshot'
include { MERGE_SHARDS               } from '../../../modules/local/merge_shards'
include { PHYLOP } from '../../../modules/local/phylop'
include { CADD } from '../../../modules/local/cadd'

workflow ZEROSHOT {
    take:
    models      // channel: [meta(id, family, species?, token_budget?, window?, precision?), model directory]; models with an LM head only
    datasets    // channel: [dataset(id), FASTA]
    strategies  // channel: strategy strings, e.g. 'exact', 'strided:24', 'unmasked'
    regions     // channel: [dataset(id), UTR BED6] for the baselines; empty to skip them
    phylop      // channel: PhyloP bigWig; empty to skip
    cadd        // channel: [CADD TSV (bgzip), its .tbi]; empty to skip
    shard_nt    // Integer: nucleotides per shard

    main:
    SHARD_FASTA(datasets, shard_nt)
    shards = SHARD_FASTA.out.shards.flatMap { dataset, fastas ->
        def files = fastas instanceof List ? fastas : [fastas]
        files.collect { fasta -> [dataset, [index: fasta.baseName, count: files.size()], fasta] }
    }
    ZEROSHOT_SHARD(models.combine(shards).combine(strategies), shard_nt)
    // shard file names differ only in the zero-padded shard index: name order is shard order
    per_result = ZEROSHOT_SHARD.out.probs
        .map { meta, dataset, shard, strategy, h5 -> [groupKey([meta, dataset, strategy], shard.count), h5] }
        .groupTuple()
        .map { key, files ->
            def (meta, dataset, strategy) = key.getGroupTarget()
            [[meta, dataset, strategy], "${meta.id}.${dataset.id}.${strategy.replace(':', '')}.probs.h5", files.sort { h5 -> h5.name }]
        }
    MERGE_SHARDS(per_result)
    probs = MERGE_SHARDS.out.merged.map { key, h5 -> [key[0], key[1], key[2], h5] }
    PHYLOP(regions.combine(phylop).map { dataset, bed, _bigwig -> [dataset, bed] }, phylop.first())
    CADD(regions.combine(cadd).map { dataset, bed, _tsv, _tbi -> [dataset, bed] }, cadd.first())
    model_rows = probs
        .map { meta, dataset, strategy, h5 -> "${meta.id}\t${meta.family}\t${dataset.id}\t${strategy}\t${h5.name}" }
    baseline_rows = PHYLOP.out.scores.map { dataset, h5 -> "phylop\tbaseline\t${dataset.id}\tscore\t${h5.name}" }
        .mix(CADD.out.scores.map { dataset, h5 -> "cadd\tbaseline\t${dataset.id}\tscore\t${h5.name}" })
    index = model_rows.mix(baseline_rows)
        .collectFile(name: 'zeroshot_index.tsv', newLine: true, sort: true, seed: "model\tfamily\tdataset\tstrategy\tfile")

    emit:
    probs     = probs                                      // channel: [meta, dataset, strategy, probabilities HDF5]
    baselines = PHYLOP.out.scores.mix(CADD.out.scores)     // channel: [dataset, scores HDF5]
    index     = index                                      // channel: zeroshot_index.tsv
}
