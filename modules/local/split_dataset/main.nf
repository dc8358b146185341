/*
 * Pretraining dataset: shuffled '>utr_id:species' FASTA shards, a validation split by UTR,
 * species.txt; genes listed in exclude_genes (e.g. evaluation genes) are left out.
 */
process SPLIT_DATASET {
    label 'process_low'

    input:
    path human_fasta
    path ortholog_fasta
    path utr_table
    path exclude_genes    // [] for none
    val reference
    val valid_fraction
    val shards
    val seed

    output:
    path "dataset/train_*.fa", emit: train
    path "dataset/valid.fa", emit: valid
    path "dataset/species.txt", emit: species
    tuple val("${task.process}"), val('utrbench'), eval('split_dataset.py --version'), topic: versions

    script:
    def args = task.ext.args ?: ''
    def exclusion = exclude_genes ? "--exclude-genes ${exclude_genes}" : ''
    """
    split_dataset.py --human ${human_fasta} --orthologs ${ortholog_fasta} --utr-table ${utr_table} ${exclusion} --reference ${reference} --valid-fraction ${valid_fraction} --shards ${shards} --seed ${seed} --out dataset ${args}
    """

    stub:
    """
    mkdir -p dataset
    touch dataset/train_000.fa dataset/valid.fa dataset/species.txt
    """
}
