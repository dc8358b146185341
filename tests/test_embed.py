"""Embeddings: pooling, layers, windows and per-nucleotide vectors against manual computations."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from utrbench.errors import UserError
from utrbench.infer.embeddings import Embedder
from utrbench.io import read_embeddings, read_nucleotide_embeddings
from utrbench.models import init_model, save_model

PROJECT_DIR = Path(__file__).resolve().parents[1]
FAMILIES = ["dnabert", "ntv2", "dnabert2", "statespace"]
SPECIES = ["Homo_sapiens", "Mus_musculus"]


def random_sequence(length, seed):
    return "".join(np.random.default_rng(seed).choice(list("ACGT"), length))


@pytest.fixture(scope="module")
def models():
    return {family: init_model(family, "tiny", seed=5, species=SPECIES) for family in FAMILIES}


def hidden_states_alone(loaded, sequence, species_id=0):
    """All hidden states of one unpadded sequence, and its tokenization."""
    tokenized = loaded.tokenizer.encode(sequence)
    ids = torch.tensor(tokenized.ids)[None]
    with torch.no_grad():
        states = loaded.model.encode(ids, torch.ones_like(ids, dtype=torch.bool), torch.tensor([species_id]))
    return [s[0].float().numpy() for s in states], tokenized


@pytest.mark.parametrize("family", FAMILIES)
def test_mean_pooling_equals_manual_mean_over_real_tokens(models, family):
    loaded = models[family]
    sequences = [random_sequence(37, 1), random_sequence(12, 2), "ACGTNNACGTTGCA"]
    pooled = Embedder(loaded, token_budget=60).embed(sequences, species_ids=[1, 0, 1])
    for sequence, vector, species_id in zip(sequences, pooled, [1, 0, 1]):
        states, tokenized = hidden_states_alone(loaded, sequence, species_id)
        real = ~np.isin(tokenized.ids, loaded.tokenizer.special_ids)
        np.testing.assert_allclose(vector, states[-1][real].mean(0), atol=1e-5)


def test_layer_range_max_and_cls(models):
    loaded = models["dnabert"]
    sequence = random_sequence(30, 3)
    states, tokenized = hidden_states_alone(loaded, sequence)
    real = ~np.isin(tokenized.ids, loaded.tokenizer.special_ids)
    layer_mean = Embedder(loaded, layer="1:3").embed([sequence])[0]
    np.testing.assert_allclose(layer_mean, ((states[1] + states[2]) / 2)[real].mean(0), atol=1e-5)
    first = Embedder(loaded, layer="0").embed([sequence])[0]
    np.testing.assert_allclose(first, states[0][real].mean(0), atol=1e-5)
    maximum = Embedder(loaded, pooling="max").embed([sequence, random_sequence(50, 4)])[0]
    np.testing.assert_allclose(maximum, states[-1][real].max(0), atol=1e-5)
    cls = Embedder(loaded, pooling="cls").embed([sequence])[0]
    np.testing.assert_allclose(cls, states[-1][0], atol=1e-5)


@pytest.mark.parametrize("family", ["dnabert", "statespace", "dnabert2"])
def test_windowed_embedding_of_a_short_sequence_equals_unwindowed(models, family):
    """A sequence that fits one window is embedded from that one window, whatever else is batched."""
    loaded = models[family]
    short, long = random_sequence(40, 5), random_sequence(300, 6)
    windowed = Embedder(loaded, window=60, overlap=20).embed([long, short])[1]
    states, tokenized = hidden_states_alone(loaded, short)
    real = ~np.isin(tokenized.ids, loaded.tokenizer.special_ids)
    np.testing.assert_allclose(windowed, states[-1][real].mean(0), atol=1e-5)


def test_windows_combine_by_length_weighted_mean():
    """For a context-free model, windows must reproduce the whole-sequence embedding exactly.

    The state-space model without blocks, its input convolution reduced to the centre tap, maps
    each nucleotide to a fixed vector, whatever surrounds it or where it sits.
    """
    loaded = init_model("statespace", "tiny", seed=7, num_resnet_blocks=0, num_dss_layers=0)
    with torch.no_grad():
        centre = loaded.model.config.edge_kernel_size // 2
        loaded.model.encoder.weight[..., :centre] = 0
        loaded.model.encoder.weight[..., centre + 1:] = 0
    sequence = random_sequence(500, 7)
    whole = Embedder(loaded, window=600).embed([sequence])[0]
    windowed = Embedder(loaded, window=50, overlap=12).embed([sequence])[0]
    np.testing.assert_allclose(windowed, whole, atol=1e-6)
    per_nt_windowed = Embedder(loaded, window=50, overlap=12).embed_per_nucleotide([sequence])[0]
    per_nt_whole = Embedder(loaded, window=600).embed_per_nucleotide([sequence])[0]
    np.testing.assert_allclose(per_nt_windowed, per_nt_whole, atol=1e-6)


def test_per_nucleotide_embeddings(models):
    sequence = random_sequence(20, 8)
    dnabert = Embedder(models["dnabert"]).embed_per_nucleotide([sequence])[0]
    states, tokenized = hidden_states_alone(models["dnabert"], sequence)
    for position in (0, 3, 10, 19):
        covering = [t for t, (s, e) in enumerate(tokenized.spans) if s <= position < e]
        assert len(covering) == min(position + 1, 6, 20 - position)
        np.testing.assert_allclose(dnabert[position], states[-1][covering].mean(0), atol=1e-5)
    ntv2 = Embedder(models["ntv2"]).embed_per_nucleotide([sequence])[0]
    states, _ = hidden_states_alone(models["ntv2"], sequence)  # <cls>, 6-mers 0-5, 6-11, 12-17, then T? letters
    np.testing.assert_allclose(ntv2[7], states[-1][2], atol=1e-5)
    np.testing.assert_allclose(ntv2[19], states[-1][5], atol=1e-5)
    assert ntv2.shape == (20, states[-1].shape[1])


def test_errors(models):
    with pytest.raises(UserError, match="no \\[CLS\\]"):
        Embedder(models["statespace"], pooling="cls")
    with pytest.raises(UserError, match="selects none"):
        Embedder(models["dnabert"], layer="7").embed(["ACGTACGTAC"])
    with pytest.raises(UserError, match="record r1"):
        Embedder(models["dnabert"]).embed(["ACG"], names=["r1"])


def run_cli(*args):
    spec = importlib.util.spec_from_file_location("embed_cli", PROJECT_DIR / "bin" / "embed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return CliRunner().invoke(module.main, [str(a) for a in args])


def test_cli(tmp_path, models):
    save_model(models["ntv2"], tmp_path / "ntv2")
    fasta = tmp_path / "in.fa"
    fasta.write_text(">a\nACGTACGGTTACAGGTAA\n>b\nTTGACCAGTAGGACCATTAGCC\n")
    results = [run_cli("--model", tmp_path / "ntv2", "--fasta", fasta, "--out", tmp_path / name) for name in ("1.h5", "2.h5")]
    assert all(r.exit_code == 0 for r in results), results[0].output
    assert (tmp_path / "1.h5").read_bytes() == (tmp_path / "2.h5").read_bytes()
    ids, embeddings, attrs = read_embeddings(tmp_path / "1.h5")
    assert ids == ["a", "b"] and attrs["pooling"] == "mean" and attrs["layer"] == "-1"
    np.testing.assert_allclose(embeddings, Embedder(models["ntv2"]).embed(["ACGTACGGTTACAGGTAA", "TTGACCAGTAGGACCATTAGCC"]), atol=1e-6)
    result = run_cli("--model", tmp_path / "ntv2", "--fasta", fasta, "--per-nucleotide", "--out", tmp_path / "nt.h5")
    assert result.exit_code == 0, result.output
    ids, per_nt, _ = read_nucleotide_embeddings(tmp_path / "nt.h5")
    assert per_nt["b"].shape == (22, 32)
    result = run_cli("--model", tmp_path / "ntv2", "--fasta", fasta, "--species", "Mus_musculus", "--layer", "x",
                     "--out", tmp_path / "bad.h5")
    assert result.exit_code == 2 and "layer 'x'" in result.output and not (tmp_path / "bad.h5").exists()
