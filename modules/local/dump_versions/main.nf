/*
 * One software_versions.yml from the (process, tool, version) tuples of the versions topic.
 *
 * This process reads the versions topic, so it must not send to it (the topic would never close);
 * dump_versions.py writes its own version under "Workflow" instead.
 */
process DUMP_VERSIONS {
    label 'process_single'

    input:
    path versions_tsv    // process <TAB> tool <TAB> version, one line per tuple
    val pipeline_version
    val nextflow_version

    output:
    path 'software_versions.yml', emit: yml

    script:
    def args = task.ext.args ?: ''
    """
    dump_versions.py --versions ${versions_tsv} --pipeline-version ${pipeline_version} --nextflow-version ${nextflow_version} --out software_versions.yml ${args}
    """

    stub:
    """
    touch software_versions.yml
    """
}
