"""The k-mer spectrum baseline: spectra by hand and by brute force, no LM head, save/load."""

import itertools
import json
from collections import Counter

import numpy as np
import pytest
import torch

from utrbench.errors import UserError
from utrbench.models import init_model, load_model, save_model
from utrbench.models.base import mean_pool


def spectra(loaded, sequences):
    """Mean one-hot state over real tokens (attention mask, not a special id) of a padded batch."""
    tokenizer = loaded.tokenizer
    encoded = [tokenizer.encode(s).ids for s in sequences]
    length = max(len(ids) for ids in encoded)
    ids = torch.full((len(encoded), length), tokenizer.pad_id)
    for row, token_ids in enumerate(encoded):
        ids[row, : len(token_ids)] = torch.from_numpy(token_ids)
    attention = ids != tokenizer.pad_id
    real = attention & ~torch.isin(ids, torch.tensor(tokenizer.special_ids))
    with torch.no_grad():
        (hidden,) = loaded.model.encode(ids, attention)
    return mean_pool(hidden, real).numpy()


def brute_force_spectrum(sequence, k):
    """Frequencies of the N-free k-mers, columns in base 4 with digits A, T, C, G (the vocabulary order)."""
    counts = Counter(sequence[i : i + k] for i in range(len(sequence) - k + 1) if "N" not in sequence[i : i + k])
    columns = ["".join(letters) for letters in itertools.product("ATCG", repeat=k)]
    total = sum(counts.values())
    return np.array([counts[kmer] / total if total else 0.0 for kmer in columns])


@pytest.fixture(scope="module")
def tiny():
    return init_model("kmer", size="tiny")


def test_hand_worked_spectrum(tiny):
    # 3-mers of ACGTNACGA: ACG CGT [GTN TNA NAC] ACG CGA -> 4 N-free: ACG 2/4, CGT 1/4, CGA 1/4.
    # Columns (A=0, T=1, C=2, G=3): ACG = 0*16 + 2*4 + 3 = 11, CGA = 2*16 + 3*4 + 0 = 44, CGT = 45.
    (spectrum,) = spectra(tiny, ["ACGTNACGA"])
    expected = np.zeros(64)
    expected[[11, 44, 45]] = [0.5, 0.25, 0.25]
    np.testing.assert_allclose(spectrum, expected)


def test_padded_batch_spectra_equal_brute_force_counts(tiny):
    rng = np.random.default_rng(0)
    sequences = ["".join(rng.choice(list("ACGTN"), size=n, p=[0.24, 0.24, 0.24, 0.24, 0.04])) for n in (50, 7, 31)]
    sequences.append("NNNNN")  # no N-free 3-mer: the zero spectrum
    found = spectra(tiny, sequences)
    for sequence, spectrum in zip(sequences, found):
        np.testing.assert_allclose(spectrum, brute_force_spectrum(sequence, 3), atol=1e-7)
    np.testing.assert_allclose(found[:3].sum(1), 1.0, rtol=1e-6)
    assert not found[3].any()


def test_base_is_the_6mer_spectrum_without_parameters():
    loaded = init_model("kmer", size="base")
    assert loaded.model.config.k == 6 and loaded.model.config.vocab_size == 5 + 4096
    assert sum(p.numel() for p in loaded.model.parameters()) == 0
    sequence = "ACGTTGCAACGTTGCANACGTA"
    np.testing.assert_allclose(spectra(loaded, [sequence])[0], brute_force_spectrum(sequence, 6), atol=1e-7)


def test_no_lm_head(tiny):
    model = tiny.model
    assert model.has_lm_head is False
    ids = torch.from_numpy(tiny.tokenizer.encode("ACGTACGT").ids)[None]
    with pytest.raises(UserError, match="has no LM head"):
        model.lm_logits(torch.zeros(1, 8, 64))
    with pytest.raises(UserError, match="has no LM head"):
        model(ids, labels=torch.full_like(ids, -100))


def test_save_and_load_round_trip(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    save_model(tiny, tmp_path / "model")
    loaded = load_model(tmp_path / "model")
    assert loaded.family.name == "kmer" and loaded.tokenizer.k == 3
    assert json.loads((tmp_path / "model" / "config.json").read_text())["k"] == 3
    ids = torch.from_numpy(tiny.tokenizer.encode("ACGTNACGGATTACA").ids)[None]
    with torch.no_grad():
        assert torch.equal(tiny.model.encode(ids)[0], loaded.model.encode(ids)[0])
        assert torch.equal(loaded.model(ids).last_hidden_state, tiny.model.encode(ids)[0])


def test_load_rejects_a_vocabulary_of_another_k(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    save_model(tiny, tmp_path / "model")
    init_model("kmer", size="base").tokenizer.save(tmp_path / "model")  # a 6-mer vocab.txt
    with pytest.raises(UserError, match="4101 tokens but the model's vocabulary has 69"):
        load_model(tmp_path / "model")
