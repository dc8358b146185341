/*
 * ZEROSHOT: per-nucleotide A/C/G/T probabilities of every model with an LM head for every dataset
 * and masking strategy, the alignment baselines PhyloP and CADD over the datasets' UTR regions
 * (when given), and an index of what was produced (model, family, dataset, strategy, file).
 */
include { ZEROSHOT as ZEROSHOT_PROBS } from '../../../modules/local/zeroshot'
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

    main:
    jobs = models.combine(datasets).combine(strategies)
    ZEROSHOT_PROBS(jobs.map { meta, model_dir, dataset, fasta, _strategy -> [meta, model_dir, dataset, fasta] },
                   jobs.map { _meta, _model_dir, _dataset, _fasta, strategy -> strategy })
    PHYLOP(regions.combine(phylop).map { dataset, bed, _bigwig -> [dataset, bed] }, phylop.first())
    CADD(regions.combine(cadd).map { dataset, bed, _tsv, _tbi -> [dataset, bed] }, cadd.first())
    model_rows = ZEROSHOT_PROBS.out.probs
        .map { meta, dataset, strategy, h5 -> "${meta.id}\t${meta.family}\t${dataset.id}\t${strategy}\t${h5.name}" }
    baseline_rows = PHYLOP.out.scores.map { dataset, h5 -> "phylop\tbaseline\t${dataset.id}\tscore\t${h5.name}" }
        .mix(CADD.out.scores.map { dataset, h5 -> "cadd\tbaseline\t${dataset.id}\tscore\t${h5.name}" })
    index = model_rows.mix(baseline_rows)
        .collectFile(name: 'zeroshot_index.tsv', newLine: true, sort: true, seed: "model\tfamily\tdataset\tstrategy\tfile")

    emit:
    probs     = ZEROSHOT_PROBS.out.probs                   // channel: [meta, dataset, strategy, probabilities HDF5]
    baselines = PHYLOP.out.scores.mix(CADD.out.scores)     // channel: [dataset, scores HDF5]
    index     = index                                      // channel: zeroshot_index.tsv
}
