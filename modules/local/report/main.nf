/*
 * The run's MultiQC report (multiqc_report.html): every task's metrics as the studies' tables beside
 * the published values of assets/published/, the task figures, and provenance (parameters, models,
 * pretraining loss curves, software versions). report.py writes MultiQC custom content and runs MultiQC.
 */
process REPORT {
    label 'process_single'

    input:
    path metrics, stageAs: 'metrics/?/*'
    path figures, stageAs: 'figures/?/*'
    path cards, stageAs: 'cards/*'
    path runs, stageAs: 'runs/?/*'
    path published, stageAs: 'published'
    path params_json
    path versions_yml

    output:
    path 'multiqc/multiqc_report.html', emit: html
    path 'multiqc/multiqc_content', emit: content

    // No versions topic output: the report reads software_versions.yml, which is written only once
    // the topic has closed, so sending to it here would wait on itself.
    script:
    def args = task.ext.args ?: ''
    """
    report.py --metrics metrics --figure figures --model-card cards --pretraining-run runs --published ${published} --params ${params_json} --versions ${versions_yml} --out-dir multiqc ${args}
    """

    stub:
    """
    mkdir -p multiqc/multiqc_content
    touch multiqc/multiqc_report.html
    """
}
