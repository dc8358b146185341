/*
 * TASK_RBP: do per-nucleotide probabilities tell RBNS k-mers inside eCLIP peaks of their RBP from
 * the same k-mers outside every peak (Figure 1 of the 3'UTR study)? Site table from the peaks,
 * the k-mer table and the dataset's human UTRs; one score column per probability or baseline
 * HDF5 of that dataset (language models from ZEROSHOT, Zoo-AL, PhyloP, CADD); signed ROC AUC and
 * PR-AUC with bootstrap intervals on all sites and the PhyloP strata; the bar chart.
 */
include { RBP_SITES   } from '../../../modules/local/rbp_sites'
include { RBP_SCORES  } from '../../../modules/local/rbp_scores'
include { RBP_METRICS } from '../../../modules/local/rbp_metrics'

workflow TASK_RBP {
    take:
    utrs            // channel: [dataset(id), UTR BED6, UTR FASTA] of the dataset step
    eclip           // channel: eCLIP peak BED files (empty: no task)
    motifs          // channel: RBNS k-mer table (empty: no task)
    probabilities   // channel: [meta, dataset, strategy, probabilities HDF5] (ZEROSHOT.out.probs)
    zooal           // channel: [dataset, Zoo-AL HDF5]
    baselines       // channel: [dataset, PhyloP / CADD scores HDF5] (ZEROSHOT.out.baselines)
    stepwise_r_min  // value: RBNS stepwise R - 1 threshold
    n_bootstrap     // value: bootstrap resamples
    bootstrap_seed  // value: first random_state of the resamples
    seed            // value: seed of the negative subsampling

    main:
    RBP_SITES(utrs, eclip.collect(), motifs, stepwise_r_min, seed)
    // every score file of the dataset, in a fixed order, so the score columns do not depend on task order
    score_files = probabilities.map { _meta, dataset, _strategy, h5 -> [dataset, h5] }
        .mix(zooal, baselines)
        .groupTuple(sort: { a, b -> a.name <=> b.name })
    fastas = utrs.map { dataset, _bed, fasta -> [dataset, fasta] }
    scoring = RBP_SITES.out.sites.join(fastas).join(score_files)
    RBP_SCORES(scoring.map { dataset, sites, fasta, _files -> [dataset, sites, fasta] },
               scoring.map { _dataset, _sites, _fasta, files -> files })
    RBP_METRICS(RBP_SITES.out.sites.join(RBP_SCORES.out.scores), n_bootstrap, bootstrap_seed)

    emit:
    sites   = RBP_SITES.out.sites      // channel: [dataset, site table TSV]
    counts  = RBP_SITES.out.counts     // channel: [dataset, counts per step TSV]
    scores  = RBP_SCORES.out.scores    // channel: [dataset, score table TSV]
    metrics = RBP_METRICS.out.metrics  // channel: metrics TSV
    figures = RBP_METRICS.out.png.mix(RBP_METRICS.out.pdf)
}
