/*
 * ZEROSHOT: per-nucleotide A/C/G/T probabilities of every model with an LM head for every dataset
 * and masking strategy, the alignment baselines PhyloP and CADD over the datasets' UTR regions
 * (when given), and an index of what was produced (model, family, dataset, strategy, file).
 *
 * The scoring is sharded (ZEROSHOT_SHARDED): one task per model x shard x strategy, merged in shard
 * order into one file per model x dataset x strategy.
 */
include { ZEROSHOT_SHARDED } from '../zeroshot_sharded'
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
    jobs = models.combine(datasets).combine(strategies)
        .map { meta, model_dir, dataset, fasta, strategy -> [meta, model_dir, dataset, fasta, strategy] }
    probs = ZEROSHOT_SHARDED(jobs, shard_nt).probs
    PHYLOP(regions.combine(phylop).map { dataset, bed, _bigwig -> [dataset, bed] }, phylop)
    CADD(regions.combine(cadd).map { dataset, bed, _tsv, _tbi -> [dataset, bed] }, cadd)
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
