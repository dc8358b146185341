/*
 * PRETRAIN: masked-language-model pretraining of every requested family on the dataset shards,
 * then the checkpoint that later steps load (rule 'plateau' of the study, or 'valid'). A run spans
 * as many attempts as it needs: each resumes from the checkpoints under checkpoint_root.
 */
include { PRETRAIN as PRETRAIN_MODEL } from '../../../modules/local/pretrain'
include { SELECT_CHECKPOINT } from '../../../modules/local/select_checkpoint'

workflow PRETRAIN {
    take:
    recipes          // channel: [meta(id, family, size), recipe JSON]
    train_shards     // channel: list of train_*.fa shards (BUILD_UTR_DATASET.out.train)
    valid            // channel: valid.fa
    species          // channel: species.txt
    seed             // value: seed of initialisation, data order and masking
    selection_rule   // value: 'plateau' or 'valid'
    checkpoint_root  // value: absolute folder outside the work directory; checkpoints of model X in X/
    max_hours        // value: hours per attempt before it checkpoints and asks for a retry (exit 75)

    main:
    // valid and species are one-item queue channels: as values they feed every family's task, not only the first
    PRETRAIN_MODEL(recipes, train_shards.collect(), valid.first(), species.first(), seed, checkpoint_root, max_hours)
    SELECT_CHECKPOINT(PRETRAIN_MODEL.out.run, selection_rule)

    emit:
    runs   = PRETRAIN_MODEL.out.run     // channel: [meta, run directory]
    models = SELECT_CHECKPOINT.out.model // channel: [meta, model directory]
}
