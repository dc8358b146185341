/*
 * BUILD_UTR_DATASET: human 3'UTRs from a gene annotation, their orthologous sequences in the
 * aligned mammals, the Zoo-AL baseline and the pretraining split.
 *
 * HAL route (the study): hal2maf per chromosome over the stop codons, the species UTR after
 * each matching stop codon, cut per species with hal2fasta; hal2maf per chromosome over the
 * UTRs for Zoo-AL. MAF route: the species' bases aligned to each UTR (aligned-bases mode,
 * filtered by min_coverage), the only choice without the species genomes.
 */
include { UTR_ANNOTATION                   } from '../../../modules/local/utr_annotation'
include { UTR_SEQUENCES                    } from '../../../modules/local/utr_sequences'
include { HAL2MAF                          } from '../../../modules/local/hal2maf'
include { HAL2MAF as HAL2MAF_STOP_CODONS   } from '../../../modules/local/hal2maf'
include { HAL_ORTHOLOG_REGIONS             } from '../../../modules/local/hal_ortholog_regions'
include { HAL_SPECIES_UTRS                 } from '../../../modules/local/hal_species_utrs'
include { UTR_ORTHOLOGS                    } from '../../../modules/local/utr_orthologs'
include { ZOOAL                            } from '../../../modules/local/zooal'
include { SPLIT_DATASET                    } from '../../../modules/local/split_dataset'

workflow BUILD_UTR_DATASET {
    take:
    gtf               // path: GENCODE/Ensembl GTF (plain or gzip)
    genome            // path: reference genome FASTA the alignment's reference rows match
    maf               // channel of MAF paths (empty when the alignment is a HAL file)
    hal               // channel of one HAL path (empty when MAFs are given)
    species           // path: species to keep (species.txt), or [] for all
    exclude_genes     // path of genes to keep out of pretraining, or [] for none
    reference         // val: reference species name in the alignment (Homo_sapiens)
    single_exon_only  // val: true keeps only single-exon 3'UTRs (the study)
    min_length        // val: minimum UTR length
    min_coverage      // val: MAF route, fraction of the human UTR a species' aligned bases must cover
    pseudocount       // val: Zoo-AL pseudocount
    valid_fraction    // val: fraction of UTRs in the validation split
    shards            // val: number of training FASTA shards
    seed              // val: seed of the split and shuffle

    main:
    UTR_ANNOTATION(gtf, single_exon_only, min_length)
    bed = UTR_ANNOTATION.out.bed
    UTR_SEQUENCES(bed, genome)

    // HAL route: one hal2maf task per reference chromosome with UTRs
    chromosomes = bed.flatMap { utr_bed -> utr_bed.readLines().collect { line -> line.tokenize('\t')[0] }.unique() }
    hal_by_chromosome = chromosomes.combine(hal)
    HAL2MAF(hal_by_chromosome, bed, species, reference, 'utrs')
    HAL2MAF_STOP_CODONS(hal_by_chromosome, bed, species, reference, 'stop_codons')
    HAL_ORTHOLOG_REGIONS(bed, genome, HAL2MAF_STOP_CODONS.out.maf.collect(), species, reference)
    species_with_regions = HAL_ORTHOLOG_REGIONS.out.regions
        .flatMap { regions -> regions.readLines().drop(1).collect { line -> line.tokenize('\t')[1] }.unique() }
    HAL_SPECIES_UTRS(species_with_regions.combine(hal).combine(HAL_ORTHOLOG_REGIONS.out.regions))
    hal_orthologs = HAL_SPECIES_UTRS.out.fasta.collectFile(name: 'orthologs.fa', sort: { fasta -> fasta.name })

    // MAF route
    UTR_ORTHOLOGS(bed, genome, maf.collect(), species, reference, min_coverage)

    alignments = maf.mix(HAL2MAF.out.maf).collect()
    ZOOAL(bed, genome, alignments, reference, pseudocount)
    orthologs = UTR_ORTHOLOGS.out.fasta.mix(hal_orthologs)
    SPLIT_DATASET(
        UTR_SEQUENCES.out.fasta, orthologs, UTR_ANNOTATION.out.table, exclude_genes,
        reference, valid_fraction, shards, seed
    )

    emit:
    bed        = bed                           // BED6 of the UTR exons
    table      = UTR_ANNOTATION.out.table      // UTR id -> gene id / name
    counts     = UTR_ANNOTATION.out.counts     // UTRs left after each filter step
    human      = UTR_SEQUENCES.out.fasta       // human UTRs, '>utr_id', transcript orientation
    orthologs  = orthologs                     // '>utr_id:species'
    coverage   = UTR_ORTHOLOGS.out.coverage.mix(UTR_ORTHOLOGS.out.summary)  // MAF route: coverage per UTR and species, its distribution per species
    regions    = HAL_ORTHOLOG_REGIONS.out.regions.mix(HAL_ORTHOLOG_REGIONS.out.summary)  // HAL route: species UTR regions, outcome per species
    zooal      = ZOOAL.out.probabilities       // per-nucleotide probability HDF5 (model 'Zoo-AL')
    train      = SPLIT_DATASET.out.train       // train_NNN.fa shards
    valid      = SPLIT_DATASET.out.valid       // valid.fa (by UTR)
    species_list = SPLIT_DATASET.out.species   // species.txt of the dataset
}
