"""Regression fine-tuning: the head, truncation, a tiny model learning, save and reload."""

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


def tiny_data(n=64, seed=0):
    planted = planted_windows(n, length=121, tss_index=60, region=(-20, 40), seed=seed)
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
