/*
 * Zoo-AL baseline: per-nucleotide ACGT frequencies of each human UTR position across the
 * aligned species, as a per-nucleotide probability HDF5 that tasks read like a model's.
 */
process ZOOAL {
    label 'process_medium'

    input:
    path bed
    path genome
    path mafs, stageAs: 'maf/*'
    val reference
    val pseudocount

    output:
    path "zooal.h5", emit: probabilities
    tuple val("${task.process}"), val('utrbench'), eval('zooal.py --version'), topic: versions

    script:
    def args = task.ext.args ?: ''
    """
    zooal.py --bed ${bed} --genome ${genome} --maf-dir maf --reference ${reference} --workers ${task.cpus} --pseudocount ${pseudocount} --out zooal.h5 ${args}
    """

    stub:
    """
    touch zooal.h5
    """
}
