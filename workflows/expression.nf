/*
 * The expression study: TSS windows + GTEx labels -> DExTER and fine-tuned language models on the same split ->
 * side-by-side comparison on the shared test genes.
 */

include { EXPRESSION_DATASET  } from '../modules/local/expression_dataset'
include { DEXTER              } from '../modules/local/dexter'
include { FINETUNE_REGRESSION } from '../modules/local/finetune_regression'
include { COMPARE_EXPRESSION  } from '../modules/local/compare_expression'

workflow EXPRESSION {
    take:
    genome           // channel: genome FASTA (plain or bgzip); empty = the study is not run
    gtf              // channel: annotation GTF with 'gene' features
    expression       // channel: GTEx median-TPM GCT or gene x tissue table
    tissue           // String: tissue column, e.g. 'Pituitary'
    models           // channel: [meta(id, family), model_dir] to fine-tune; may be empty (DExTER only)
    split_seed       // Integer: seed of DExTER's Python random split (686185200 published)
    finetune_seed    // Integer: seed of the head initialisation and batch order
    bootstrap_seed   // Integer: seed of the comparison's bootstrap resamples

    main:
    meta = [id: tissue.toString().toLowerCase().replaceAll(/[^a-z0-9]+/, '_')]
    dataset_input = channel.of(meta).combine(genome).combine(gtf).combine(expression)
    EXPRESSION_DATASET(dataset_input, tissue, split_seed)
    dataset = EXPRESSION_DATASET.out.dataset

    DEXTER(dataset)
    FINETUNE_REGRESSION(dataset.combine(models), finetune_seed)

    // One [meta, [name, predictions]] per method, grouped per dataset; DExTER first, then models by name, so the
    // comparison's inputs (and its reference method) do not depend on which task finished first.
    dexter_predictions = DEXTER.out.predictions.map { dataset_meta, file -> [dataset_meta, ['dexter', file]] }
    model_predictions = FINETUNE_REGRESSION.out.predictions.map { dataset_meta, model_meta, file -> [dataset_meta, [model_meta.id, file]] }
    compare_input = dexter_predictions.mix(model_predictions)
        .groupTuple()
        .map { dataset_meta, entries ->
            def ordered = entries.sort { entry -> (entry[0] == 'dexter' ? '0' : '1') + entry[0] }
            [dataset_meta, ordered.collect { entry -> entry[0] }, ordered.collect { entry -> entry[1] }]
        }
    COMPARE_EXPRESSION(compare_input, tissue, bootstrap_seed)

    metrics = DEXTER.out.metrics
        .mix(FINETUNE_REGRESSION.out.metrics.map { dataset_meta, _model_meta, file -> [dataset_meta, file] })
        .mix(COMPARE_EXPRESSION.out.metrics)

    emit:
    dataset = dataset                                   // [meta, windows.fa, labels.tsv]
    dataset_summary = EXPRESSION_DATASET.out.summary    // [meta, summary.json]
    dexter_variables = DEXTER.out.variables             // [meta, variables.tsv]
    dexter_model = DEXTER.out.model                     // [meta, model.json]
    dexter_graph = DEXTER.out.graph                     // [meta, exploration.tsv]
    predictions = dexter_predictions.mix(model_predictions)  // [meta, [method, predictions.tsv]]
    finetuned_models = FINETUNE_REGRESSION.out.model    // [meta, model_meta, model_dir]
    finetune_logs = FINETUNE_REGRESSION.out.log         // [meta, model_meta, log.tsv]
    comparison = COMPARE_EXPRESSION.out.table           // [meta, comparison.tsv]
    summary = COMPARE_EXPRESSION.out.summary            // [meta, comparison.md]
    figures = COMPARE_EXPRESSION.out.figures            // [meta, figures/]
    metrics = metrics                                   // [meta, metrics.tsv] in the shared metrics format
}
