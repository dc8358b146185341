/*
 * BUILD_UTR_DATASET: human 3'UTRs from a gene annotation, their orthologous sequences in the
 * aligned mammals (MAF, or HAL through hal2maf), the Zoo-AL baseline and the pretraining split.
 */
include { UTR_ANNOTATION } from '../../../modules/local/utr_annotation'
include { UTR_SEQUENCES  } from '../../../modules/local/utr_sequences'
include { HAL2MAF        } from '../../../modules/local/hal2maf'
include { UTR_ORTHOLOGS  } from '../../../modules/local/utr_orthologs'
include { ZOOAL          } from '../../../modules/local/zooal'
include { SPLIT_DATASET  } from '../../../modules/local/split_dataset'

workflow BUILD_UTR_DATASET {
    take:
    gtf               // path: GENCODE/Ensembl GTF (plain or gzip)
    genome            // path: reference genome FASTA the alignment's reference rows match
    maf               // channel of MAF paths (empty when the alignment is a HAL file)
    hal               // channel of one HAL path (empty when MAFs are given)
    species           // path: species to keep from the HAL (species.txt)
    exclude_genes     // path of genes to keep out of pretraining, or [] for none
    reference         // val: reference species name in the alignment (Homo_sapiens)
    single_exon_only  // val: true keeps only single-exon 3'UTRs (the study)
    min_length        // val: minimum UTR length
    pseudocount       // val: Zoo-AL pseudocount
    valid_fraction    // val: fraction of UTRs in the validation split
    shards            // val: number of training FASTA shards
    seed              // val: seed of the split and shuffle

    main:
    UTR_ANNOTATION(gtf, single_exon_only, min_length)
    UTR_SEQUENCES(UTR_ANNOTATION.out.bed, genome)
    HAL2MAF(hal, UTR_ANNOTATION.out.bed, species, reference)
    alignments = maf.mix(HAL2MAF.out.maf.flatten()).collect()
    UTR_ORTHOLOGS(UTR_ANNOTATION.out.bed, genome, alignments, reference)
    ZOOAL(UTR_ANNOTATION.out.bed, genome, alignments, reference, pseudocount)
    SPLIT_DATASET(
        UTR_SEQUENCES.out.fasta, UTR_ORTHOLOGS.out.fasta, UTR_ANNOTATION.out.table, exclude_genes,
        reference, valid_fraction, shards, seed
    )

    emit:
    bed        = UTR_ANNOTATION.out.bed        // BED6 of the UTR exons
    table      = UTR_ANNOTATION.out.table      // UTR id -> gene id / name
    counts     = UTR_ANNOTATION.out.counts     // UTRs left after each filter step
    human      = UTR_SEQUENCES.out.fasta       // human UTRs, '>utr_id', transcript orientation
    orthologs  = UTR_ORTHOLOGS.out.fasta       // '>utr_id:species'
    coverage   = UTR_ORTHOLOGS.out.coverage    // coverage per UTR and species
    zooal      = ZOOAL.out.probabilities       // per-nucleotide probability HDF5 (model 'Zoo-AL')
    train      = SPLIT_DATASET.out.train       // train_NNN.fa shards
    valid      = SPLIT_DATASET.out.valid       // valid.fa (by UTR)
    species_list = SPLIT_DATASET.out.species   // species.txt of the dataset
}
