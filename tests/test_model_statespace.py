"""The state-space family: tokenizer, DSS kernel and layer against slow references, padding,
species, the LM head at selected positions, loss, save/load and the init_model CLI."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from utrbench.errors import UserError
from utrbench.models import init_model, load_model, save_model
from utrbench.models.base import IGNORE_INDEX
from utrbench.models.statespace import BidirectionalDSS, NucleotideTokenizer, StateSpaceConfig

BIN = Path(__file__).resolve().parents[1] / "bin"


@pytest.fixture(scope="module")
def tiny():
    return init_model("statespace", size="tiny", seed=3, species=["mouse", "human", "dog"])


def random_ids(generator, length):
    return torch.randint(0, 5, (length,), generator=generator)


# --- tokenizer ---


def test_tokenizer_ids_spans_and_decode():
    tokenizer = NucleotideTokenizer()
    encoded = tokenizer.encode("acgTN")
    assert encoded.ids.tolist() == [0, 1, 2, 3, 4]
    assert encoded.spans.tolist() == [[0, 1], [1, 2], [2, 3], [3, 4], [4, 5]]
    assert tokenizer.vocab_size == 7 and (tokenizer.mask_id, tokenizer.pad_id) == (5, 6)
    assert tokenizer.cls_id is None and tokenizer.sep_id is None and tokenizer.unk_id == 4  # N
    assert tokenizer.decode([3, 5, 0, 6, 6]) == "TNA"


def test_tokenizer_rejects_other_letters():
    with pytest.raises(UserError, match=r"utr7: letter 'U' at position 3"):
        NucleotideTokenizer().encode("ACUG", where="utr7")


def test_tokenizer_load_rejects_a_foreign_vocabulary(tmp_path):
    (tmp_path / "vocab.txt").write_text("[PAD]\n[UNK]\nAAA\n")
    with pytest.raises(UserError, match=r"line 1 is '\[PAD\]', expected 'A' of the nucleotide vocabulary"):
        NucleotideTokenizer.load(tmp_path)


# --- architecture ---


def test_base_parameter_count_matches_the_published_architecture():
    model = init_model("statespace", size="base", species=[f"s{i:03d}" for i in range(241)]).model
    count = sum(p.numel() for p in model.parameters())
    print(f"statespace/base with 241 species: {count:,} parameters")
    hidden, state, kernel = 128, 64, 15
    conv_block = 2 * (hidden * hidden * 7 + hidden + 2 * hidden)  # two convs + two BatchNorms
    dss_layer = (
        2 * hidden  # log_dt [H, 2]
        + 2 * state  # Lambda [N, 2]
        + 2 * hidden * state * 2  # W [2 directions, H, N, 2]
        + hidden  # D
        + hidden * 2 * hidden + 2 * hidden  # GLU output linear
        + 2 * hidden  # LayerNorm
    )
    expected = (
        5 * hidden * kernel + hidden  # input conv
        + 241 * hidden  # species embedding
        + 3 * conv_block
        + 4 * dss_layer
        + hidden * 5 * kernel + 5  # decoder conv
    )
    assert count == expected == 1_006_853
    assert 0.8e6 <= count <= 1.2e6


def slow_dss_kernel(kernel, length):
    """K[c, h, j] = Re sum_n W/Lambda * softmax_j(dt Lambda j) summed explicitly, in float64."""
    Lambda = torch.view_as_complex(kernel.Lambda.detach().double())
    W = torch.view_as_complex(kernel.W.detach().double())
    dt = kernel.log_dt.detach().double().exp()
    dt_Lambda = torch.complex(dt[:, :1] * Lambda.real, dt[:, 1:] * Lambda.imag)
    terms = torch.exp(dt_Lambda[..., None] * torch.arange(length, dtype=torch.float64))  # [H, N, L]
    softmax = terms / terms.sum(-1, keepdim=True)
    return torch.einsum("chn,hnl->chl", W / Lambda, softmax).real


def slow_bidirectional_dss(layer, u):
    """The layer as an explicit two-sided convolution loop (no FFT), in float64."""
    length = u.shape[-1]
    K = slow_dss_kernel(layer.kernel, length)
    u = u.double()
    y = torch.zeros_like(u)
    for t in range(length):
        for s in range(length):
            y[..., t] += (K[0, :, t - s] if s <= t else K[1, :, s - t - 1]) * u[..., s]
    y = F.gelu(y + u * layer.D.detach().double()[0, :, None])
    linear = layer.output_linear[0]  # weight [2H, H], bias [2H, 1] (the original's TransposedLinear)
    out = y.transpose(1, 2) @ linear.weight.detach().double().T + linear.bias.detach().double()[:, 0]
    return F.glu(out, dim=-1).transpose(1, 2)


@pytest.mark.parametrize("growing_modes", [False, True])
def test_dss_layer_equals_a_direct_two_sided_convolution(growing_modes):
    torch.manual_seed(0)
    # dt large enough that the reference's epsilon in 1 / (sum * Lambda) is negligible at L = 11
    config = StateSpaceConfig(hidden_size=4, state_size=6, dt_min=0.05, dt_max=0.5)
    layer = BidirectionalDSS(config).eval()
    if growing_modes:  # Re(Lambda) > 0 takes the shifted branch that keeps exp() bounded
        with torch.no_grad():
            layer.kernel.Lambda[::2, 0] = 0.3
    u = torch.randn(2, 4, 11)
    fast = layer(u, torch.tensor([11, 11]))
    torch.testing.assert_close(fast.double(), slow_bidirectional_dss(layer, u), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(layer.kernel([11], 11)[0].double(), slow_dss_kernel(layer.kernel, 11), rtol=1e-4, atol=1e-6)


def test_masked_input_is_the_zero_vector(tiny):
    model = tiny.model
    ids = torch.full((1, 20), NucleotideTokenizer.mask_id)
    species = torch.tensor([2])
    with torch.no_grad():
        embedding = model.encode(ids, species_ids=species)[0][0]
    expected = model.encoder.bias + model.species_encoder.species_embedder.weight[2]
    torch.testing.assert_close(embedding, expected.expand(20, -1).detach())


# --- padding, species, LM head ---


def test_padded_batch_equals_each_sequence_alone(tiny):
    model, pad = tiny.model, NucleotideTokenizer.pad_id
    generator = torch.Generator().manual_seed(1)
    sequences = [random_ids(generator, n) for n in (37, 20, 8)]
    batch = torch.full((3, 37), pad)
    batch[0] = sequences[0]
    batch[1, :20] = sequences[1]  # right-padded
    batch[2, -8:] = sequences[2]  # left-padded
    species = torch.tensor([0, 1, 2])
    with torch.no_grad():
        padded_states = model.encode(batch, batch != pad, species)
        for row, (sequence, span) in enumerate(zip(sequences, [slice(0, 37), slice(0, 20), slice(29, 37)])):
            alone = model.encode(sequence[None], species_ids=species[row : row + 1])
            for layer, (in_batch, by_itself) in enumerate(zip(padded_states, alone)):
                torch.testing.assert_close(in_batch[row, span], by_itself[0], rtol=1e-4, atol=1e-5, msg=f"layer {layer}")
            assert not padded_states[-1][row, :span.start].any() and not padded_states[-1][row, span.stop :].any()
            torch.testing.assert_close(
                model.lm_logits(padded_states[-1])[row, span], model.lm_logits(alone[-1])[0], rtol=1e-4, atol=1e-5
            )


def test_species_changes_the_output(tiny):
    ids = random_ids(torch.Generator().manual_seed(2), 30)[None].repeat(2, 1)
    with torch.no_grad():
        hidden = tiny.model.encode(ids, species_ids=torch.tensor([0, 1]))[-1]
    assert (hidden[0] - hidden[1]).abs().max() > 1e-3


def test_lm_logits_at_positions_equal_the_full_convolution(tiny):
    generator = torch.Generator().manual_seed(4)
    hidden = torch.randn(3, 25, 16, generator=generator)
    positions = torch.rand(3, 25, generator=generator) < 0.3
    positions[0, 0] = positions[2, -1] = True  # windows that reach into the zero padding
    with torch.no_grad():
        full = tiny.model.lm_logits(hidden)
        selected = tiny.model.lm_logits(hidden, positions)
    assert full.shape == (3, 25, 5)
    torch.testing.assert_close(selected, full[positions], rtol=1e-5, atol=1e-5)


def test_forward_with_labels_gives_the_masked_loss_and_gradients(tiny):
    model = init_model("statespace", size="tiny", seed=5, species=["a", "b"]).model
    generator = torch.Generator().manual_seed(6)
    ids = torch.stack([random_ids(generator, 40) for _ in range(2)])
    labels = torch.full_like(ids, IGNORE_INDEX)
    labels[0, [3, 17]] = ids[0, [3, 17]]
    labels[1, 30] = ids[1, 30]
    masked = ids.masked_fill(labels != IGNORE_INDEX, NucleotideTokenizer.mask_id)
    model.train()
    output = model(masked, species_ids=torch.tensor([0, 1]), labels=labels)
    output.loss.backward()
    model.eval()
    with torch.no_grad():
        full = model(masked, species_ids=torch.tensor([0, 1])).logits
    expected = -torch.log_softmax(full, -1)[[0, 0, 1], [3, 17, 30], ids[[0, 0, 1], [3, 17, 30]]].mean()
    assert output.logits.shape == (3, 5)
    # train mode uses batch statistics in BatchNorm, so compare the eval-mode loss for values
    with torch.no_grad():
        eval_loss = model(masked, species_ids=torch.tensor([0, 1]), labels=labels).loss
    torch.testing.assert_close(eval_loss, expected)
    gradients = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in gradients)
    assert model.s4_layers[0].kernel.Lambda.grad.abs().sum() > 0


# --- save / load / CLI ---


def test_save_and_load_give_identical_outputs(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    save_model(tiny, tmp_path / "model")
    loaded = load_model(tmp_path / "model")
    assert loaded.info.species == ["dog", "human", "mouse"]
    assert loaded.tokenizer.max_tokens == 5000 and loaded.model.config.num_species == 3
    ids = torch.from_numpy(tiny.tokenizer.encode("ACGTNACGGATTACA").ids)[None]
    with torch.no_grad():
        before = tiny.model.encode(ids, species_ids=torch.tensor([1]))
        after = loaded.model.encode(ids, species_ids=torch.tensor([1]))
    for a, b in zip(before, after):
        assert torch.equal(a, b)


def test_init_model_cli_writes_the_sorted_species_list(tmp_path):
    species = tmp_path / "species.txt"
    species.write_text("Mus_musculus\nHomo_sapiens\nCanis_lupus\n")
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    result = subprocess.run(
        [sys.executable, str(BIN / "init_model.py"), "--family", "statespace", "--species", str(species), "--out", str(tmp_path / "m")],
        cwd=tmp_path, env=env, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    info = json.loads((tmp_path / "m" / "utrbench.json").read_text())
    assert info["family"] == "statespace"
    assert info["species"] == ["Canis_lupus", "Homo_sapiens", "Mus_musculus"]
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["num_species"] == 3 and config["model_type"] == "utrbench_statespace"
    assert (tmp_path / "m" / "vocab.txt").read_text().split() == ["A", "C", "G", "T", "N", "[MASK]", "[PAD]"]
