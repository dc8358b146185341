#!/usr/bin/env nextflow
/*
 * utrbench entry workflow: validates params, runs the studies, publishes their outputs.
 * Params are read here and in the output block only; named workflows get them as inputs.
 */

include { validateParameters; samplesheetToList } from 'plugin/nf-schema'
include { UTRBENCH           } from './workflows/utrbench'
include { EXPRESSION         } from './workflows/expression'
include { DUMP_VERSIONS      } from './modules/local/dump_versions'
include { REPORT             } from './subworkflows/local/report'

workflow {
    main:
    validateParameters()

    gtf = params.utr_gtf ? channel.value(file(params.utr_gtf, checkIfExists: true)) : channel.empty()
    genome = params.utr_genome ? channel.value(file(params.utr_genome, checkIfExists: true)) : channel.empty()
    maf = params.utr_maf ? channel.fromPath(params.utr_maf, checkIfExists: true) : channel.empty()
    hal = params.utr_hal ? channel.fromPath(params.utr_hal, checkIfExists: true) : channel.empty()
    dataset_options = [
        reference: params.utr_reference,
        // `--utr_single_exon_only false` arrives as the string 'false' under the strict parser.
        single_exon_only: params.utr_single_exon_only.toString().toBoolean(),
        min_length: params.utr_min_length,
        min_coverage: params.utr_min_coverage,
        pseudocount: params.zooal_pseudocount,
        valid_fraction: params.pretrain_valid_fraction,
        shards: params.pretrain_shards,
    ]
    // One recipe per family and size, shipped in conf/recipes/ (or a user's --pretrain_recipes folder).
    recipe_dir = params.pretrain_recipes ?: "${projectDir}/conf/recipes"
    recipes = channel.fromList(params.pretrain_families.tokenize(',').collect { name -> name.trim() }.findAll { name -> name })
        .unique()
        .map { family ->
            def id = "${family}_${params.pretrain_size}"
            [[id: id, family: family, size: params.pretrain_size], file("${recipe_dir}/${id}.json", checkIfExists: true)]
        }

    // Pretraining checkpoints outlive the task's work directory (a retried attempt gets a new one):
    // an absolute path, resolved against the launch directory when relative.
    pretrain_options = [
        checkpoint_dir: file(params.pretrain_checkpoint_dir ?: "${params.outdir}/pretraining/checkpoints").toAbsolutePath().toString(),
        max_hours: params.pretrain_max_hours,
    ]

    // --models rows: [meta(id, family, species, ...), folder]; a relative path is relative to the sheet.
    external_models = params.models
        ? channel.fromList(samplesheetToList(params.models, "${projectDir}/assets/schema_models.json"))
            .map { meta, model_path ->
                def folder = file(params.models).parent.resolve(model_path.toString())
                [meta.findAll { _key, value -> value != null && value != [] }, file(folder.toString(), checkIfExists: true)]
            }
        : channel.empty()
    // The study's MPRA cross-validation per format unless given (reference 01, task 3): Griesemer leave one gene
    // out with its own Ridge grid, Siegel leave one chromosome out; fastUTR's thousands of near-identical-oligo
    // clusters (and a generic table's groups) go into 10 grouped folds.
    def mpra_study_folds = [griesemer: 0, siegel: 0, fastutr: 10, generic: 10]
    task_options = [
        predictors: params.task_predictors,
        mpra_baselines: params.mpra_baselines,
        mpra_alphas: params.mpra_alphas ?: (params.mpra_format == 'griesemer' ? 'griesemer' : 'siegel'),
        mpra_n_folds: params.mpra_n_folds != null ? params.mpra_n_folds : mpra_study_folds[params.mpra_format],
        halflife_baselines: params.halflife_baselines,
        rbp_stepwise_r_min: params.rbp_stepwise_r_min,
        rbp_bootstrap: params.rbp_bootstrap,
        rbp_bootstrap_seed: params.rbp_bootstrap_seed,
    ]
    if (params.rbp_eclip && !params.rbp_motifs) {
        error("--rbp_eclip needs --rbp_motifs (the RBNS k-mer table) as well.")
    }
    // eCLIP peaks: a glob of BED files, or a CSV samplesheet with one 'peaks' column
    rbp_eclip = !params.rbp_eclip ? channel.empty()
        : params.rbp_eclip.endsWith('.csv')
        ? channel.fromList(samplesheetToList(params.rbp_eclip, "${projectDir}/assets/schema_rbp_eclip.json")).map { row -> row instanceof List ? row[0] : row }
        : channel.fromPath(params.rbp_eclip, checkIfExists: true)

    // Variant task inputs; gnomAD VCFs travel with their tabix/CSI indices (read by region).
    gnomad_vcfs = params.variants_gnomad ? files(params.variants_gnomad, checkIfExists: true) : []
    gnomad_indices = gnomad_vcfs.collectMany { vcf -> [file("${vcf}.tbi"), file("${vcf}.csi")].findAll { index -> index.exists() } }
    has_variants = params.variants_clinvar || params.variants_gnomad || params.variants_eqtl || params.variants_cadd || params.variants_table
    variant_sources = has_variants
        ? channel.value([
            params.variants_clinvar ? file(params.variants_clinvar, checkIfExists: true) : [],
            gnomad_vcfs + gnomad_indices,
            params.variants_eqtl ? files(params.variants_eqtl, checkIfExists: true) : [],
            params.variants_cadd ? files(params.variants_cadd, checkIfExists: true) : [],
            params.variants_table ? files(params.variants_table, checkIfExists: true) : [],
        ])
        : channel.empty()
    zeroshot_strategies = params.zeroshot_strategies.tokenize(',').collect { name -> name.trim() }
    variant_options = [
        per_class: params.variants_per_class,
        shared_negatives: params.variants_shared_negatives.toString().toBoolean(),
        gnomad_pass_only: params.variants_gnomad_pass_only.toString().toBoolean(),
        window: params.variants_window,
        vis_widths: params.variants_vis_widths,
        strategies: params.variants_strategies,
        // pref, palt_inv and pratio read the full-UTR probabilities of the first zero-shot strategy
        utr_strategy: zeroshot_strategies[0],
        classify: [
            trials: params.classify_trials,
            outer_folds: params.classify_outer_folds,
            inner_folds: params.classify_inner_folds,
            pruning: params.classify_pruning.toString().toBoolean(),
        ],
    ]

    bench = UTRBENCH(
        gtf, genome, maf, hal,
        params.utr_species ? file(params.utr_species, checkIfExists: true) : [],
        params.pretrain_exclude_genes ? file(params.pretrain_exclude_genes, checkIfExists: true) : [],
        dataset_options,
        params.utr_gtf ? recipes : channel.empty(),
        params.pretrain_selection,
        pretrain_options,
        external_models,
        channel.fromList(zeroshot_strategies),
        params.phylop_bigwig ? channel.value(file(params.phylop_bigwig, checkIfExists: true)) : channel.empty(),
        params.cadd_tsv ? channel.value([file(params.cadd_tsv, checkIfExists: true), file("${params.cadd_tsv}.tbi", checkIfExists: true)]) : channel.empty(),
        params.mpra_tables ? channel.of([[id: params.mpra_dataset, format: params.mpra_format], files(params.mpra_tables, checkIfExists: true)]) : channel.empty(),
        params.halflife_table ? channel.value(file(params.halflife_table, checkIfExists: true)) : channel.empty(),
        rbp_eclip,
        params.rbp_eclip && params.rbp_motifs ? channel.value(file(params.rbp_motifs, checkIfExists: true)) : channel.empty(),
        task_options,
        variant_sources,
        variant_options,
        params.inference_shard_nt,
        params.seed
    )

    // Gene expression study: fine-tunes the pipeline's models of the named families and/or a given
    // model directory (e.g. the published DNABERT-2-117M), next to DExTER.
    finetune_families = params.expression_finetune_families.tokenize(',').collect { name -> name.trim() }
    expression_models = bench.models.filter { meta, _model_dir -> meta.family in finetune_families }
    if (params.expression_model) {
        def given = file(params.expression_model, checkIfExists: true)
        expression_models = expression_models.mix(channel.of([[id: given.name, family: params.expression_model_family], given]))
    }
    expression = EXPRESSION(
        params.expression_genome ? channel.value(file(params.expression_genome, checkIfExists: true)) : channel.empty(),
        params.expression_gtf ? channel.value(file(params.expression_gtf, checkIfExists: true)) : channel.empty(),
        params.expression_table ? channel.value(file(params.expression_table, checkIfExists: true)) : channel.empty(),
        params.expression_tissue,
        expression_models,
        params.expression_split_seed,
        params.expression_finetune_seed,
        params.expression_bootstrap_seed
    )

    // Sorted so the file, and so the cached DUMP_VERSIONS task, do not depend on task order.
    versions_tsv = channel.topic('versions')
        .unique()
        .map { process_name, tool, version -> "${process_name}\t${tool}\t${version}" }
        .collectFile(name: 'versions.tsv', newLine: true, sort: true)
    versions = DUMP_VERSIONS(versions_tsv, workflow.manifest.version, workflow.nextflow.version.toString())

    // The report: every task beside the published numbers, with the run's parameters and models.
    params_json = channel.value(groovy.json.JsonOutput.prettyPrint(groovy.json.JsonOutput.toJson(params)))
        .collectFile(name: 'params.json')
    report = REPORT(
        bench.metrics.mix(expression.metrics.map { _meta, tsv -> tsv }),
        bench.figures.mix(expression.figures.flatMap { _meta, folder -> files("${folder}/*.png") }),
        bench.models,
        bench.runs,
        bench.probabilities,
        bench.zooal,
        file("${projectDir}/assets/published", checkIfExists: true),
        params_json,
        versions.yml
    )

    // Records as maps, so models/index.csv has named columns.
    model_records = bench.models.map { meta, model_dir -> meta + [model_dir: model_dir] }

    publish:
    models = model_records
    pretraining = bench.runs.map { meta, run -> meta + [run: run] }
    dataset = bench.human.mix(bench.orthologs, bench.coverage, bench.regions, bench.counts, bench.bed, bench.table, bench.train, bench.valid)
    expression = expression.dataset.mix(
        expression.dataset_summary, expression.dexter_variables, expression.dexter_model, expression.dexter_graph,
        expression.comparison, expression.summary, expression.figures
    )
    expression_models = expression.finetuned_models
    embeddings = bench.embeddings.map { meta, data, h5 -> [model: meta.id, family: meta.family, dataset: data.id, embeddings: h5] }
    probabilities = bench.probabilities
        .map { meta, data, strategy, h5 -> [model: meta.id, family: meta.family, dataset: data.id, strategy: strategy, probabilities: h5] }
        .mix(bench.zooal.map { h5 -> [model: 'zooal', family: 'alignment', dataset: 'utrs', strategy: 'alignment', probabilities: h5] })
        .mix(bench.baseline_scores.map { data, h5 -> [model: h5.baseName, family: 'baseline', dataset: data.id, strategy: 'score', probabilities: h5] })
    variants = bench.variant_sets
    variant_scores = bench.variant_scores.map { meta, tsv -> [model: meta.id, kind: meta.kind, orientation: meta.orientation, scores: tsv] }
    variant_classify = bench.variant_predictions.join(bench.variant_folds)
        .map { meta, predictions, folds -> [model: meta.id, orientation: meta.orientation, predictions: predictions, folds: folds] }
    metrics = expression.metrics.map { _meta, tsv -> tsv }.mix(bench.metrics, report.agreement)
    figures = bench.figures
    predictions = bench.predictions.map { _meta, tsv -> tsv }
    rbp = bench.rbp_sites.join(bench.rbp_counts).join(bench.rbp_scores)
        .map { data, sites, counts, scores -> [dataset: data.id, sites: sites, counts: counts, scores: scores] }
    pipeline_info = versions.yml
    multiqc = report.html.mix(report.content)
}

output {
    models {
        // Each model directory is named after meta.id, so it lands at models/<id>/.
        path 'models'
        index {
            path 'models/index.csv'
            header true
        }
    }
    pretraining {
        // train_log.tsv of every run and links to its checkpoints, at pretraining/<id>_run/; the
        // checkpoints themselves are in --pretrain_checkpoint_dir (default pretraining/checkpoints/<id>/).
        path 'pretraining'
        index {
            path 'pretraining/index.csv'
            header true
        }
    }
    dataset {
        path 'dataset'
    }
    embeddings {
        path { rec -> "embeddings/${rec.model}" }
        index {
            path 'embeddings/index.csv'
            header true
        }
    }
    probabilities {
        path { rec -> "probabilities/${rec.model}" }
        index {
            path 'probabilities/index.csv'
            header true
        }
    }
    figures {
        path 'figures'
    }
    variants {
        // variants.tsv, variant_counts.tsv, the windows FASTAs and their index
        path 'variants'
    }
    variant_scores {
        path 'variants/scores'
        index {
            path 'variants/scores/index.csv'
            header true
        }
    }
    variant_classify {
        // out-of-fold MLP and logistic-regression probabilities and the tuned folds, per model
        path 'variants/classify'
        index {
            path 'variants/classify/index.csv'
            header true
        }
    }
    predictions {
        path 'predictions'
    }
    rbp {
        // Site table, counts per step and score table of the RBP task, per dataset.
        path 'rbp'
        index {
            path 'rbp/index.csv'
            header true
        }
    }
    expression {
        // File names start with the tissue, so several tissues can share the folder.
        path 'expression'
    }
    expression_models {
        path 'expression/models'
    }
    metrics {
        // One file per task and method, all in the shared metrics format.
        path 'metrics'
    }
    pipeline_info {
        path 'pipeline_info'
    }
    multiqc {
        // multiqc/multiqc_report.html and the custom content it was built from (multiqc/multiqc_content/):
        // the task writes them under multiqc/ already
        path '.'
    }
}
