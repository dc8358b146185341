"""Regression fine-tuning: the head, truncation, a tiny model learning, save and reload."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from utrbench.errors import UserError
from utrbench.expression.finetune import (RegressionHead, Regressor, TrainingSettings, collate, load_regressor,
                                          new_head, predict, save_regressor, tokenize, train_regressor)
from synthetic_expression import decode, planted_windows
from utrbench.models import init_model


def test_head_uses_the_first_token_or_the_mean_of_real_tokens():
    torch.manual_seed(0)
    hidden = torch.randn(2, 5, 8)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    first = RegressionHead(8, dropout=0.0, pooling="first_token").eval()
    mean = RegressionHead(8, dropout=0.0, pooling="mean").eval()
    mean.load_state_dict(first.state_dict())
    by_hand = lambda pooled: first.out(torch.tanh(first.dense(pooled))).squeeze(-1)  # noqa: E731
    torch.testing.assert_close(first(hidden, mask), by_hand(hidden[:, 0]))
    expected_mean = torch.stack([hidden[0, :3].mean(0), hidden[1].mean(0)])
    torch.testing.assert_close(mean(hidden, mask), by_hand(expected_mean))


def test_pooling_follows_the_tokenizer():
    assert new_head(init_model("dnabert2", "tiny")).pooling == "first_token"
    assert new_head(init_model("statespace", "tiny")).pooling == "mean"  # no CLS token


def test_truncation_keeps_the_separator():
    tokenizer = init_model("dnabert2", "tiny").tokenizer
    full = tokenizer.encode("ACGTTGCA" * 50).ids
    (cut,) = tokenize(tokenizer, ["ACGTTGCA" * 50], max_tokens=10)
    assert len(cut) == 10 and cut[0] == tokenizer.cls_id and cut[-1] == tokenizer.sep_id
    assert cut[:9].tolist() == full[:9].tolist()
    no_separator = SimpleNamespace(encode=lambda s: SimpleNamespace(ids=np.arange(20)), sep_id=None)
    assert tokenize(no_separator, ["x"], 5)[0].tolist() == [0, 1, 2, 3, 4]


def test_collate_pads_on_the_right():
    input_ids, mask = collate([np.array([5, 6, 7]), np.array([8])], pad_id=3)
    assert input_ids.tolist() == [[5, 6, 7], [8, 3, 3]]
    assert mask.tolist() == [[True, True, True], [True, False, False]]


def tiny_data(n=64, seed=0, length=121):
    planted = planted_windows(n, length=length, tss_index=length // 2, region=(-20, 40), seed=seed)
    return decode(planted.codes), planted.log10_tpm


@pytest.mark.parametrize("family", ["dnabert2", "statespace"])
def test_finetuning_a_tiny_model_lowers_dev_loss(family, tmp_path):
    sequences, y = tiny_data()
    y = y + 1.5  # far from the fresh head's output of ~0, so a working optimiser must cut the loss
    loaded = init_model(family, "tiny", seed=1)
    token_ids = tokenize(loaded.tokenizer, sequences, max_tokens=64)
    head = new_head(loaded, seed=1)
    regressor = Regressor(loaded.model, head)
    settings = TrainingSettings(epochs=3, batch_size=8, gradient_accumulation=1, learning_rate=1e-2,
                                warmup_steps=2, eval_every=3, patience=0, seed=1)
    result = train_regressor(regressor, loaded.tokenizer.pad_id, token_ids[:48], y[:48], token_ids[48:], y[48:],
                             settings)
    initial = result.log[0]["dev_loss"]
    assert result.best_dev_loss < 0.5 * initial
    assert result.best_dev_loss == min(row["dev_loss"] for row in result.log)
    # The kept weights are the best checkpoint: predicting dev again gives the best dev loss.
    dev_predictions = predict(regressor, token_ids[48:], loaded.tokenizer.pad_id, 8, "cpu")
    assert np.mean((dev_predictions - y[48:]) ** 2) == pytest.approx(result.best_dev_loss, rel=1e-5)
    save_regressor(loaded, head, tmp_path / "model", {"best_step": result.best_step})
    _, reloaded = load_regressor(tmp_path / "model")
    reloaded_predictions = predict(reloaded, token_ids[48:], loaded.tokenizer.pad_id, 8, "cpu")
    np.testing.assert_allclose(reloaded_predictions, dev_predictions, rtol=1e-5, atol=1e-6)


def test_early_stopping_stops_after_patience_evaluations():
    sequences, y = tiny_data(32)
    loaded = init_model("dnabert2", "tiny", seed=2)
    token_ids = tokenize(loaded.tokenizer, sequences, max_tokens=64)
    regressor = Regressor(loaded.model, new_head(loaded, seed=2))
    # Learning rate 0: the dev loss never improves, so training stops after `patience` evaluations.
    settings = TrainingSettings(epochs=5, batch_size=8, gradient_accumulation=1, learning_rate=0.0,
                                warmup_steps=0, eval_every=1, patience=2)
    result = train_regressor(regressor, loaded.tokenizer.pad_id, token_ids[:24], y[:24], token_ids[24:], y[24:],
                             settings)
    assert [row["step"] for row in result.log] == [0, 1, 2]
    assert result.best_step == 0


def run_finetune_cli(tmp_path, loaded, n_genes=12, length=4001, extra=()):
    """Fine-tune ``loaded`` for one tiny epoch through the CLI; returns the result and every collated batch."""
    import importlib.util

    from click.testing import CliRunner

    from utrbench.models import save_model
    from utrbench.seq import write_fasta

    sequences, y = tiny_data(n_genes, length=length)
    save_model(loaded, tmp_path / "model")
    write_fasta(((f"g{i}", s) for i, s in enumerate(sequences)), tmp_path / "windows.fa")
    splits = ["train"] * (n_genes - 4) + ["dev"] * 2 + ["test"] * 2
    (tmp_path / "labels.tsv").write_text("gene\tlog10_tpm\tsplit\n" + "".join(
        f"g{i}\t{value:.4f}\t{split}\n" for i, (value, split) in enumerate(zip(y, splits))))
    spec = importlib.util.spec_from_file_location("finetune_cli", Path(__file__).parents[1] / "bin" / "finetune_regression.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    batches = []
    original = Regressor.forward

    def recording_forward(self, input_ids, attention_mask):
        batches.append((input_ids.clone(), attention_mask.clone(), self.species_id))
        return original(self, input_ids, attention_mask)

    Regressor.forward = recording_forward
    try:
        out = tmp_path / "out"
        result = CliRunner().invoke(module.main, [
            "--model", str(tmp_path / "model"), "--fasta", str(tmp_path / "windows.fa"), "--labels",
            str(tmp_path / "labels.tsv"), "--epochs", "1", "--batch-size", "4", "--gradient-accumulation", "1",
            "--out-model", str(out / "m"), "--out-predictions", str(out / "p.tsv"), "--out-log", str(out / "l.tsv"),
            "--out-metrics", str(out / "metrics.tsv"), *extra])
    finally:
        Regressor.forward = original
    return result, sequences, batches


@pytest.mark.slow
@pytest.mark.parametrize("family, expected", [
    ("dnabert2", "whole"),  # ~4.7 nt per BPE token: the 4,001-bp window is ~850 tokens, all seen (config says 512)
    ("statespace", 1000),  # one token per nucleotide: the study's 1,000-token limit cuts
    ("dnabert", 512),  # learned position table of 512: cut to the context
])
def test_finetuning_sees_the_study_token_count_of_the_4001_bp_window(family, expected, tmp_path):
    loaded = init_model(family, "tiny", seed=0)
    result, sequences, batches = run_finetune_cli(tmp_path, loaded)
    assert result.exit_code == 0, result.output
    lengths = {len(loaded.tokenizer.encode(s).ids) for s in sequences}
    if expected == "whole":
        assert 512 < min(lengths) and max(lengths) < 1000
    seen = {int(n) for _, mask, _ in batches for n in mask.sum(1)}  # real tokens per row of every collated batch
    assert seen == (lengths if expected == "whole" else {expected})


def test_a_species_aware_model_gets_the_human_species_id(tmp_path):
    loaded = init_model("statespace", "tiny", seed=0, species=["Mus_musculus", "Homo_sapiens", "Bos_taurus"])
    result, _, batches = run_finetune_cli(tmp_path, loaded, length=121)
    assert result.exit_code == 0, result.output
    assert {species for _, _, species in batches} == {1}  # sorted: Bos_taurus, Homo_sapiens, Mus_musculus
    # Off a terminal, progress is log lines (as .command.log shows them): steps with rate, and dev evaluations.
    assert "fine-tuning: 2/2 steps (100%)" in result.stderr and "dev loss" in result.stderr
    _, reloaded = load_regressor(tmp_path / "out" / "m")
    assert reloaded.species_id == 1
    other = run_finetune_cli(tmp_path / "other", init_model("statespace", "tiny", species=["Mus_musculus"]), length=121)[0]
    assert other.exit_code == 2 and "'Homo_sapiens' is not among the model's 1 species" in other.output
