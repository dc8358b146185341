"""NT-v2 family: greedy 6-mer tokenizer, ESM with gated feed-forward, published checkpoints."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from utrbench.errors import UserError
from utrbench.models import init_model, load_model, save_model
from utrbench.models.ntv2 import GreedyKmerTokenizer, NtConfig, NtForMaskedLM

DATA = Path("/work/shared/data/models/ntv2")
BIN = Path(__file__).resolve().parents[1] / "bin"
TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def regex_encode(sequence, tokens):
    """Reference: NT's rule as the regex of its documentation, one dictionary lookup per token."""
    vocab = {token: i for i, token in enumerate(tokens)}
    pattern = "[ACGT]{6}|NNNNNN|[ACGTN]" if "NNNNNN" in vocab else "[ACGT]{6}|[ACGTN]"
    return [3] + [vocab[match.group()] for match in re.finditer(pattern, sequence)]


def test_vocabulary_is_the_published_file():
    assert GreedyKmerTokenizer(4108).tokens == (DATA / "vocab.txt").read_text().split()
    assert GreedyKmerTokenizer().tokens == (DATA / "vocab.txt").read_text().split()[:4107]


@pytest.mark.parametrize(
    "sequence, ids",
    [
        ("ACGTGTACGTGCACGGACGACTAGTCAGCA", [3, 739, 740, 760, 3225, 1598]),
        ("ACGTGTACNTGCACGGANCGACTAGTCTGA", [3, 739, 4102, 4104, 4106, 1937, 4105, 4102, 4106, 2858, 3490]),
        ("ACGTACGTAC", [3, 728, 4105, 4103, 4102, 4104]),
    ],
)
def test_published_test_vectors(sequence, ids):
    encoded = GreedyKmerTokenizer().encode(sequence)
    assert encoded.ids.tolist() == ids
    assert GreedyKmerTokenizer().decode(encoded.ids) == sequence


def test_spans_of_mixed_tokens():
    spans = GreedyKmerTokenizer().encode("ACGTGTACNTGCACGGANCGACTAGTCTGA").spans.tolist()
    assert spans == [[-1, -1], [0, 6], [6, 7], [7, 8], [8, 9], [9, 15], [15, 16], [16, 17], [17, 18], [18, 24], [24, 30]]


@pytest.mark.parametrize("vocab_size", [4107, 4108])
def test_encode_matches_regex_reference_and_round_trips(vocab_size):
    tokenizer = GreedyKmerTokenizer(vocab_size)
    rng = np.random.default_rng(vocab_size)
    # Runs of N of every length up to 14 between ACGT runs of every length up to 14.
    pieces = ["".join(rng.choice(list("ACGT"), size=rng.integers(0, 15))) + "N" * rng.integers(0, 15) for _ in range(60)]
    sequence = "".join(pieces)
    encoded = tokenizer.encode(sequence)
    assert encoded.ids.tolist() == regex_encode(sequence, tokenizer.tokens)
    assert tokenizer.decode(encoded.ids) == sequence
    lengths = encoded.spans[1:, 1] - encoded.spans[1:, 0]
    assert encoded.spans[1, 0] == 0 and np.all(encoded.spans[2:, 0] == encoded.spans[1:-1, 1])
    assert np.all((lengths == 6) == (encoded.ids[1:] < 4102) | (encoded.ids[1:] == 4107))


def test_n_is_never_inside_a_6mer_without_nnnnnn():
    ids = GreedyKmerTokenizer().encode("NNNNNNNA").ids.tolist()
    assert ids == [3] + [4106] * 7 + [4102]
    assert GreedyKmerTokenizer(4108).encode("NNNNNNNA").ids.tolist() == [3, 4107, 4106, 4102]


def test_bad_input_raises_user_errors(tmp_path):
    with pytest.raises(UserError, match="record r7: letter 'U' at position 2"):
        GreedyKmerTokenizer().encode("AUG", where="record r7")
    with pytest.raises(UserError, match="4107 or 4108"):
        GreedyKmerTokenizer(4100)
    (tmp_path / "vocab.txt").write_text("\n".join(GreedyKmerTokenizer().tokens[:-1]) + "\n")
    with pytest.raises(UserError, match="4106 tokens"):
        GreedyKmerTokenizer.load(tmp_path)


def n_parameters(model):
    return sum(p.numel() for p in model.parameters())


def expected_parameters(layers, hidden, vocab=4107):
    """Hand count of NT-v2 with a bias-free SwiGLU FFN (I = 4H) and an untied LM head."""
    inner = 4 * hidden
    attention = 4 * (hidden * hidden + hidden) + 2 * hidden  # q, k, v, output + pre-LN
    ffn = hidden * 2 * inner + inner * hidden + 2 * hidden  # gated in, out, pre-LN
    embeddings = vocab * hidden
    head = hidden * hidden + hidden + 2 * hidden + vocab * hidden + vocab  # dense, LN, decoder, bias
    return embeddings + layers * (attention + ffn) + 2 * hidden + head


@pytest.mark.parametrize(
    "size, layers, hidden, low, high",
    [
        # v2-100m is listed as ≈ 97.9 M: NT's code also counts a 2050 × 512 absolute position table
        # (1.05 M) it never uses under rotary; our 96.84 M + 1.05 M = 97.89 M.
        ("base", 22, 512, 96.0e6, 98.0e6),
        ("50m", 12, 512, 50e6, 56e6),  # 54.86 M (55.9 M with the unused table)
        ("250m", 24, 768, 225e6, 250e6),  # 233.5 M (235.1 M)
        ("500m", 29, 1024, 490e6, 510e6),  # 496.2 M (498.3 M)
    ],
)
def test_parameter_counts_of_published_sizes(size, layers, hidden, low, high):
    published = json.loads((DATA / f"config_v2-{'100m' if size == 'base' else size}.json").read_text())
    with torch.device("meta"):
        model = init_model("ntv2", size).model
    for key in ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size", "max_position_embeddings", "pad_token_id", "mask_token_id"):
        assert getattr(model.config, key) == published[key], key
    assert n_parameters(model) == expected_parameters(layers, hidden)
    assert low < n_parameters(model) < high


def test_gated_feed_forward_computes_swiglu():
    model = init_model("ntv2", "tiny", seed=2).model
    layer = model.esm.encoder.layer[0]
    x = torch.randn(3, 32)
    w_in, w_out = layer.intermediate.dense.weight, layer.output.dense.weight
    assert w_in.shape == (128, 32) and w_out.shape == (32, 64)
    gate, value = x @ w_in[:64].T, x @ w_in[64:].T
    expected = (gate * torch.sigmoid(gate) * value) @ w_out.T + x
    torch.testing.assert_close(layer.output(layer.intermediate(x), x), expected)


def test_encode_lm_logits_and_loss():
    loaded = init_model("ntv2", "tiny", seed=1)
    model, tokenizer = loaded.model, loaded.tokenizer
    ids = torch.tensor(np.stack([tokenizer.encode("ACGTACGTTTGAC").ids, tokenizer.encode("GGGTACNTTTGAC").ids]))
    hidden = model.encode(ids)
    assert len(hidden) == model.config.num_hidden_layers + 1
    # The last entry is after emb_layer_norm_after (zero mean, unit variance per token).
    torch.testing.assert_close(hidden[-1].mean(-1), torch.zeros(ids.shape), atol=1e-5, rtol=0)
    full = model.lm_logits(hidden[-1])
    positions = torch.zeros_like(ids, dtype=torch.bool)
    positions[0, 2] = positions[1, 3] = True
    torch.testing.assert_close(model.lm_logits(hidden[-1], positions), full[positions])
    labels = torch.full_like(ids, -100)
    labels[positions] = torch.tensor([10, 4103])
    expected = torch.nn.functional.cross_entropy(full[positions], torch.tensor([10, 4103]))
    torch.testing.assert_close(model(ids, labels=labels).loss, expected)
    assert loaded.tokenizer.max_tokens == 512


def test_save_load_gives_identical_logits(tmp_path):
    loaded = init_model("ntv2", "tiny", seed=3, vocab_size=4108)
    save_model(loaded, tmp_path / "model")
    reloaded = load_model(tmp_path / "model")
    ids = torch.tensor(loaded.tokenizer.encode("ACGTNNNNNNACGTTAGCAT").ids[None])
    assert 4107 in ids
    assert torch.equal(reloaded.model(ids).logits, loaded.model(ids).logits)
    assert reloaded.tokenizer.vocab_size == 4108


def published_state(model):
    """Our weights with the extra keys NT's own modelling file writes."""
    state = dict(model.state_dict())
    hidden, layers = model.config.hidden_size, model.config.num_hidden_layers
    state["esm.embeddings.position_embeddings.weight"] = torch.randn(model.config.max_position_embeddings, hidden)
    inv_freq = state.pop("esm.rotary_embeddings.inv_freq")
    for i in range(layers):
        state[f"esm.encoder.layer.{i}.attention.self.rotary_embeddings.inv_freq"] = inv_freq.clone()
    state["esm.contact_head.regression.weight"] = torch.randn(1, layers * model.config.num_attention_heads)
    state["esm.contact_head.regression.bias"] = torch.randn(1)
    return state


def write_published(directory, state_edit=None, **config_edits):
    """An NT-v2 release layout: NT's config.json fields, vocab.txt, model.safetensors."""
    torch.manual_seed(7)
    model = NtForMaskedLM(NtConfig(**TINY)).eval()
    directory.mkdir()
    config = json.loads((DATA / "config_v2-100m.json").read_text())
    config.update(TINY, **config_edits)
    (directory / "config.json").write_text(json.dumps(config))
    GreedyKmerTokenizer().save(directory)
    state = published_state(model)
    if state_edit:
        state_edit(state)
    save_file({key: value.contiguous() for key, value in state.items()}, directory / "model.safetensors")
    return model


def test_published_state_dict_keys_and_glu_shapes(tmp_path):
    model = write_published(tmp_path / "nt")
    keys = set(model.state_dict())
    assert "esm.encoder.layer.1.intermediate.dense.weight" in keys
    assert not any(key.endswith(("intermediate.dense.bias", "output.dense.bias")) and ".attention." not in key for key in keys)
    assert not any("contact_head" in key or "position_embeddings" in key for key in keys)
    loaded = load_model(tmp_path / "nt", family_name="ntv2")
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[key], value), key


def test_load_published_gives_identical_logits(tmp_path):
    reference = write_published(tmp_path / "nt")
    loaded = load_model(tmp_path / "nt", family_name="ntv2")
    assert loaded.tokenizer.max_tokens == 2048
    ids = torch.tensor(loaded.tokenizer.encode("ACGTGTACNTGCACGGANCGACTAGTCTGA").ids[None])
    torch.testing.assert_close(loaded.model(ids).logits, reference(ids).logits, rtol=0, atol=0)


def test_feed_forward_bias_is_rejected(tmp_path):
    def add_bias(state):
        state["esm.encoder.layer.0.intermediate.dense.bias"] = torch.zeros(128)

    write_published(tmp_path / "nt", state_edit=add_bias)
    with pytest.raises(UserError, match="unexpected: esm.encoder.layer.0.intermediate.dense.bias"):
        load_model(tmp_path / "nt", family_name="ntv2")
    write_published(tmp_path / "v1", add_bias_fnn=True)
    with pytest.raises(UserError, match="add_bias_fnn is not false"):
        load_model(tmp_path / "v1", family_name="ntv2")


def test_missing_or_misshapen_weights_are_rejected(tmp_path):
    write_published(tmp_path / "missing", state_edit=lambda state: state.pop("lm_head.decoder.weight"))
    with pytest.raises(UserError, match="missing: lm_head.decoder.weight"):
        load_model(tmp_path / "missing", family_name="ntv2")

    def native_ffn(state):  # native ESM's [I, H] instead of NT's [2I, H]
        state["esm.encoder.layer.0.intermediate.dense.weight"] = torch.zeros(64, 32)

    write_published(tmp_path / "native", state_edit=native_ffn)
    with pytest.raises(UserError, match=r"intermediate.dense.weight has shape \(64, 32\), the model expects \(128, 32\)"):
        load_model(tmp_path / "native", family_name="ntv2")


def test_load_errors(tmp_path):
    save_model(init_model("ntv2", "tiny"), tmp_path / "model")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no model weights"):
        load_model(tmp_path / "empty", family_name="ntv2")
    GreedyKmerTokenizer(4108).save(tmp_path / "model")  # the 3'UTR vocabulary beside a public-size model
    with pytest.raises(UserError, match="tokenizer has 4108 tokens but the model's vocabulary has 4107"):
        load_model(tmp_path / "model")


@pytest.mark.slow  # an interpreter start-up that imports torch and transformers
def test_init_model_cli(tmp_path):
    result = subprocess.run(
        [sys.executable, str(BIN / "init_model.py"), "--family", "ntv2", "--size", "tiny", "--out", "model", "--seed", "4"],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    reloaded = load_model(tmp_path / "model").model.lm_head.decoder.weight
    assert torch.equal(reloaded, init_model("ntv2", "tiny", seed=4).model.lm_head.decoder.weight)
