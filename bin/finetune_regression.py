#!/usr/bin/env python3
"""Fine-tune a model of any registered family to predict log10 TPM from TSS windows."""

import click

from utrbench.cli import command, device_option


@command()
@click.option("--model", "model_dir", required=True, type=click.Path(), help="Model directory (ours or a published checkpoint).")
@click.option("--family", default=None, help="Family of a published checkpoint without utrbench.json (e.g. dnabert2).")
@click.option("--fasta", required=True, type=click.Path(), help="Windows FASTA, id = gene.")
@click.option("--labels", required=True, type=click.Path(), help="TSV with gene, log10_tpm, split (train/dev/test).")
@click.option("--max-tokens", default=1000, show_default=True,
              help="Tokens per window incl. specials (the study's model_max_length); a model with a learned "
                   "position table is cut to its context.")
@click.option("--species", default="Homo_sapiens", show_default=True,
              help="Species of the windows; a species-aware model gets its id from the model's species list.")
@click.option("--epochs", default=5, show_default=True)
@click.option("--batch-size", default=8, show_default=True, help="Sequences per forward pass.")
@click.option("--gradient-accumulation", default=4, show_default=True, help="Batches per optimizer step (8 x 4 = 32).")
@click.option("--learning-rate", default=3e-5, show_default=True)
@click.option("--weight-decay", default=0.01, show_default=True)
@click.option("--warmup-steps", default=50, show_default=True)
@click.option("--eval-every", default=0, show_default=True, help="Optimizer steps between dev evaluations; 0 = twice per epoch.")
@click.option("--patience", default=2, show_default=True, help="Evaluations without dev improvement before stopping; 0 = off.")
@click.option("--dropout", default=0.1, show_default=True, help="Dropout of the regression head.")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16", "fp16"]), default="auto", show_default=True,
              help="auto: bf16 (fp16 without bf16 support) on GPU, fp32 on CPU.")
@click.option("--seed", default=42, show_default=True)
@device_option
@click.option("--dataset", default="expression", show_default=True, help="Dataset name in the metrics table.")
@click.option("--out-model", required=True, type=click.Path(), help="Directory for the fine-tuned model and head.")
@click.option("--out-predictions", required=True, type=click.Path(), help="TSV: gene y_true y_pred for test genes.")
@click.option("--out-log", required=True, type=click.Path(), help="TSV of the dev evaluations.")
@click.option("--out-metrics", required=True, type=click.Path(), help="Metrics table (test MSE, Pearson r, R2).")
def main(model_dir, family, fasta, labels, max_tokens, species, epochs, batch_size, gradient_accumulation, learning_rate,
         weight_decay, warmup_steps, eval_every, patience, dropout, precision, seed, device, dataset, out_model,
         out_predictions, out_log, out_metrics):
    import pandas as pd
    import torch

    from utrbench.cli import resolve_device
    from utrbench.errors import UserError
    from utrbench.expression.dexter import regression_metrics
    from utrbench.expression.finetune import (Regressor, TrainingSettings, new_head, optimizer_steps, predict,
                                              save_regressor, token_limit, tokenize, train_regressor)
    from utrbench.expression.labels import read_labeled_windows
    from utrbench.io import write_metrics, write_tsv
    from utrbench.models import load_model
    from utrbench.progress import Progress

    device = resolve_device(device)
    if device == "cpu":
        torch.use_deterministic_algorithms(True)
    genes, sequences, y, split = read_labeled_windows(fasta, labels)
    loaded = load_model(model_dir, family_name=family, device=device)
    requested, max_tokens = max_tokens, token_limit(loaded, max_tokens)
    if max_tokens < requested:
        click.echo(f"windows cut to {max_tokens} tokens: the model's learned position table ends there", err=True)
    token_ids = tokenize(loaded.tokenizer, sequences, max_tokens)
    head = new_head(loaded, dropout=dropout, seed=seed)
    regressor = Regressor(loaded.model, head, loaded.info.species_index(species, str(model_dir)))
    settings = TrainingSettings(epochs=epochs, batch_size=batch_size, gradient_accumulation=gradient_accumulation,
                                learning_rate=learning_rate, weight_decay=weight_decay, warmup_steps=warmup_steps,
                                eval_every=eval_every, patience=patience, precision=precision, seed=seed)
    parts = {name: [i for i, s in enumerate(split) if s == name] for name in ("train", "dev", "test")}
    if not parts["test"]:
        raise UserError(f"{labels}: no test genes in the split column.")
    with Progress("fine-tuning", optimizer_steps(len(parts["train"]), settings), "steps") as progress:
        result = train_regressor(
            regressor, loaded.tokenizer.pad_id, [token_ids[i] for i in parts["train"]], y[parts["train"]],
            [token_ids[i] for i in parts["dev"]], y[parts["dev"]], settings, device, progress)
    test_predictions = predict(regressor, [token_ids[i] for i in parts["test"]], loaded.tokenizer.pad_id,
                               batch_size, device, precision)
    metrics = regression_metrics(y[parts["test"]], test_predictions)
    save_regressor(loaded, head, out_model, {
        "finetuned_from": str(model_dir), "task": "log10_tpm_regression", "max_tokens": max_tokens, "species": species,
        "best_step": result.best_step, "best_dev_loss": result.best_dev_loss, "seed": seed})
    write_tsv(pd.DataFrame({"gene": genes[parts["test"]], "y_true": y[parts["test"]], "y_pred": test_predictions}),
              out_predictions, float_format="%.9g")
    write_tsv(pd.DataFrame(result.log), out_log, float_format="%.9g")
    model_name = f"{loaded.info.family}" + (f"_{loaded.info.size}" if loaded.info.size else "")
    write_metrics([("expression", dataset, "test", model_name, "finetuned", name, value, "", "", len(parts["test"]))
                   for name, value in metrics.items()], out_metrics)
    click.echo(f"best dev loss {result.best_dev_loss:.4f} at step {result.best_step}; test {metrics}", err=True)


if __name__ == "__main__":
    main()
