"""DNABERT-2 family: published tokenizer vectors, ALiBi attention, MosaicBERT layout, loading."""

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from utrbench.errors import UserError
from utrbench.models import init_model, load_model, save_model
from utrbench.models.dnabert2 import (
    DNABert2Config,
    DNABert2ForMaskedLM,
    alibi_slopes,
    attention_bias,
    load_tokenizer,
)

# The hub release's own files, kept in the shared reference data beside the checkout.
PUBLISHED_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "models" / "dnabert2"


@pytest.fixture(scope="module")
def tiny():
    return init_model("dnabert2", "tiny", seed=3)


@pytest.fixture(scope="module")
def tokenizer(tiny):
    return tiny.tokenizer


# --- tokenizer -----------------------------------------------------------------------------------

# Reference note 03-models §1.4, the four DNABERT-2 rows.
TOKENIZER_VECTORS = [
    ("GATTTATTAGGGGAGATTTTATATATCCCGA", ["GATT", "TATTA", "GG", "GGAGA", "TTTTA", "TATA", "TCCCGA"],
     [1, 73, 147, 15, 329, 69, 46, 2944, 2]),
    ("ACGTACGTACGTACGT", ["A", "CGTA", "CGTA", "CGTA", "C", "GT"], [1, 5, 194, 194, 194, 6, 1049, 2]),
    ("A" * 20, ["A" * 16, "AAAA"], [1, 1169, 39, 2]),
    ("ACGTNACGT", ["A", "C", "GT", "N", "A", "C", "GT"], [1, 5, 6, 1049, 0, 5, 6, 1049, 2]),
]


@pytest.mark.parametrize("sequence, pieces, ids", TOKENIZER_VECTORS)
def test_tokenizer_reproduces_published_vectors(tokenizer, sequence, pieces, ids):
    encoded = tokenizer.encode(sequence)
    assert encoded.ids.tolist() == ids
    ends = np.cumsum([len(piece) for piece in pieces])
    expected_spans = [[-1, -1]] + [[end - len(p), end] for p, end in zip(pieces, ends)] + [[-1, -1]]
    assert encoded.spans.tolist() == expected_spans


def test_tokenizer_special_ids_and_vocabulary(tokenizer):
    assert (tokenizer.unk_id, tokenizer.cls_id, tokenizer.sep_id, tokenizer.pad_id, tokenizer.mask_id) == (0, 1, 2, 3, 4)
    assert tokenizer.special_ids == [0, 1, 2, 3, 4]
    assert tokenizer.vocab_size == 4096


def test_tokenizer_round_trip_uppercases(tokenizer):
    rng = np.random.default_rng(0)
    sequence = "".join(rng.choice(list("ACGT"), 300))
    encoded = tokenizer.encode(sequence.lower())
    assert tokenizer.unk_id not in encoded.ids
    assert tokenizer.decode(encoded.ids) == sequence
    # Spans tile the sequence: every nucleotide belongs to exactly one token.
    spans = encoded.spans[1:-1]
    assert spans[0, 0] == 0 and spans[-1, 1] == len(sequence)
    assert (spans[1:, 0] == spans[:-1, 1]).all()
    assert "".join(sequence[s:e] for s, e in spans) == sequence


def test_every_n_is_one_unknown_token(tokenizer):
    encoded = tokenizer.encode("ACGTNNACGT")
    assert encoded.ids.tolist() == [1, 5, 6, 1049, 0, 0, 5, 6, 1049, 2]
    assert encoded.spans[4:6].tolist() == [[4, 5], [5, 6]]
    assert tokenizer.decode(encoded.ids) == "ACGTNNACGT"


def test_tokenizer_without_special_token_config_is_a_user_error(tmp_path):
    shutil.copy(PUBLISHED_DIR / "tokenizer.json", tmp_path / "tokenizer.json")
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"unk_token": "[UNK]"}))
    with pytest.raises(UserError, match="missing special token"):
        load_tokenizer(tmp_path)


# --- attention -----------------------------------------------------------------------------------


def test_alibi_slopes_for_8_and_12_heads():
    eight = [1 / 2, 1 / 4, 1 / 8, 1 / 16, 1 / 32, 1 / 64, 1 / 128, 1 / 256]
    assert alibi_slopes(8).tolist() == pytest.approx(eight, rel=1e-7)
    twelve = eight + [2 ** -0.5, 2 ** -1.5, 2 ** -2.5, 2 ** -3.5]
    assert alibi_slopes(12).tolist() == pytest.approx(twelve, rel=1e-7)


def eager_attention(module, hidden, attention_mask, slopes):
    """softmax(Q K^T / sqrt(d) + ALiBi + padding) V, with the bias built entry by entry."""
    batch, length, width = hidden.shape
    heads, dim = module.num_heads, module.head_dim
    q, k, v = module.Wqkv(hidden).split(width, dim=-1)
    q, k, v = (x.view(batch, length, heads, dim).transpose(1, 2) for x in (q, k, v))
    bias = torch.zeros(batch, heads, length, length)
    for b in range(batch):
        for h in range(heads):
            for i in range(length):
                for j in range(length):
                    bias[b, h, i, j] = -slopes[h] * abs(i - j) if attention_mask[b, j] else -1e30
    scores = q @ k.transpose(-1, -2) / math.sqrt(dim) + bias
    context = torch.softmax(scores, dim=-1) @ v
    return context.transpose(1, 2).reshape(batch, length, width)


def test_sdpa_attention_equals_eager_reference(tiny):
    module = tiny.model.bert.encoder.layer[0].attention.self
    torch.manual_seed(0)
    hidden = torch.randn(2, 7, tiny.model.config.hidden_size)
    attention_mask = torch.tensor([[1] * 7, [1] * 4 + [0] * 3])
    slopes = [2 ** -2, 2 ** -4, 2 ** -6, 2 ** -8]  # 4 heads, by hand
    with torch.no_grad():
        fast = module(hidden, attention_bias(attention_mask, module.num_heads, hidden.dtype))
        slow = eager_attention(module, hidden, attention_mask, slopes)
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=1e-5)


def test_padding_does_not_change_real_positions(tiny, tokenizer):
    sequences = ["GATTTATTAGGGGAGATTTTATATATCCCGA", "ACGTACGT"]
    encoded = [torch.as_tensor(tokenizer.encode(s).ids) for s in sequences]
    batch = torch.nn.utils.rnn.pad_sequence(encoded, batch_first=True, padding_value=tokenizer.pad_id)
    with torch.no_grad():
        padded = tiny.model.encode(batch)[-1]  # attention mask derived from the [PAD] id
        for row, ids in enumerate(encoded):
            alone = tiny.model.encode(ids[None])[-1][0]
            torch.testing.assert_close(padded[row, : len(ids)], alone, atol=1e-5, rtol=1e-5)
    # The short row really was padded, and the padding id is not [UNK] (the published config's 0).
    assert batch[1, -1] == 3 and tiny.model.config.pad_token_id == 3


def test_encode_returns_embedding_output_and_every_layer(tiny, tokenizer):
    ids = torch.as_tensor(tokenizer.encode("ACGTACGTACGTACGT").ids)[None]
    with torch.no_grad():
        states = tiny.model.encode(ids)
        embedded = tiny.model.bert.embeddings(ids)
    assert len(states) == tiny.model.config.num_hidden_layers + 1
    torch.testing.assert_close(states[0], embedded)


def reference_hidden_states(state, config, ids):
    """MosaicBERT forward written from the spec with functional ops on the raw state dict (no padding)."""
    layer_norm = lambda x, prefix: torch.nn.functional.layer_norm(  # noqa: E731
        x, (config.hidden_size,), state[f"{prefix}.weight"], state[f"{prefix}.bias"], config.layer_norm_eps)
    linear = lambda x, prefix: x @ state[f"{prefix}.weight"].T + state.get(f"{prefix}.bias", 0)  # noqa: E731
    heads, width, length = config.num_attention_heads, config.hidden_size, ids.shape[1]
    hidden = state["bert.embeddings.word_embeddings.weight"][ids] + state["bert.embeddings.token_type_embeddings.weight"][0]
    hidden = layer_norm(hidden, "bert.embeddings.LayerNorm")
    slopes = torch.tensor([2.0 ** (-8 * (h + 1) / heads) for h in range(heads)])  # power-of-two head count
    distance = (torch.arange(length)[None, :] - torch.arange(length)[:, None]).abs()
    alibi = -slopes[:, None, None] * distance
    for i in range(config.num_hidden_layers):
        prefix = f"bert.encoder.layer.{i}"
        q, k, v = linear(hidden, f"{prefix}.attention.self.Wqkv").split(width, dim=-1)
        q, k, v = (x.view(1, length, heads, -1).transpose(1, 2) for x in (q, k, v))
        scores = q @ k.transpose(-1, -2) / math.sqrt(width // heads) + alibi
        context = (torch.softmax(scores, -1) @ v).transpose(1, 2).reshape(1, length, width)
        hidden = layer_norm(linear(context, f"{prefix}.attention.output.dense") + hidden, f"{prefix}.attention.output.LayerNorm")
        gated = hidden @ state[f"{prefix}.mlp.gated_layers.weight"].T
        glu = torch.nn.functional.gelu(gated[..., : config.intermediate_size]) * gated[..., config.intermediate_size:]
        hidden = layer_norm(linear(glu, f"{prefix}.mlp.wo") + hidden, f"{prefix}.mlp.layernorm")
    return hidden


def test_model_equals_reference_written_from_the_spec(tiny, tokenizer):
    ids = torch.as_tensor(tokenizer.encode("GATTTATTAGGGGAGATTTTATATATCCCGA").ids)[None]
    with torch.no_grad():
        expected = reference_hidden_states(tiny.model.state_dict(), tiny.model.config, ids)
        torch.testing.assert_close(tiny.model.encode(ids)[-1], expected, atol=1e-5, rtol=1e-5)


# --- heads and training output -------------------------------------------------------------------


def test_lm_logits_at_positions_equal_full_logits_indexed(tiny, tokenizer):
    ids = torch.as_tensor(np.stack([tokenizer.encode("ACGTACGTACGTACGT").ids] * 2))
    positions = torch.zeros(ids.shape, dtype=torch.bool)
    positions[0, 2] = positions[1, 1] = positions[1, 5] = True
    with torch.no_grad():
        hidden = tiny.model.encode(ids)[-1]
        full = tiny.model.lm_logits(hidden)
        selected = tiny.model.lm_logits(hidden, positions=positions)
    assert full.shape == (2, ids.shape[1], 4096)
    torch.testing.assert_close(selected, torch.stack([full[0, 2], full[1, 1], full[1, 5]]))


def test_forward_loss_is_cross_entropy_at_labelled_positions(tiny, tokenizer):
    ids = torch.as_tensor(tokenizer.encode("GATTTATTAGGGGAGATTTTATATATCCCGA").ids)[None]
    labels = torch.full_like(ids, -100)
    labels[0, 2], labels[0, 4] = 147, 15
    masked = ids.clone()
    masked[0, 2] = masked[0, 4] = tokenizer.mask_id
    with torch.no_grad():
        output = tiny.model(masked, labels=labels)
        full = tiny.model(masked).logits[0]
    expected = -(torch.log_softmax(full[2], -1)[147] + torch.log_softmax(full[4], -1)[15]) / 2
    torch.testing.assert_close(output.loss, expected)
    torch.testing.assert_close(output.logits, full[[2, 4]])


# --- layout, sizes, loading ----------------------------------------------------------------------


def published_key_list(layers=12):
    """The DNABERT-2-117M masked-LM state-dict keys (reference note 03-models §2.3)."""
    keys = [f"bert.embeddings.{name}" for name in (
        "word_embeddings.weight", "token_type_embeddings.weight", "LayerNorm.weight", "LayerNorm.bias")]
    for i in range(layers):
        prefix = f"bert.encoder.layer.{i}"
        keys += [f"{prefix}.attention.self.Wqkv.weight", f"{prefix}.attention.self.Wqkv.bias"]
        keys += [f"{prefix}.attention.output.{name}" for name in (
            "dense.weight", "dense.bias", "LayerNorm.weight", "LayerNorm.bias")]
        keys += [f"{prefix}.mlp.{name}" for name in (
            "gated_layers.weight", "wo.weight", "wo.bias", "layernorm.weight", "layernorm.bias")]
    keys += [f"cls.predictions.{name}" for name in (
        "transform.dense.weight", "transform.dense.bias", "transform.LayerNorm.weight",
        "transform.LayerNorm.bias", "decoder.weight", "decoder.bias")]
    return keys


@pytest.fixture(scope="module")
def base_on_meta():
    from utrbench.models import get_family

    family = get_family("dnabert2")
    with torch.device("meta"):
        return DNABert2ForMaskedLM(DNABert2Config(**family.sizes["base"]))


def test_base_size_has_the_published_keys_and_shapes(base_on_meta):
    state = base_on_meta.state_dict()
    assert sorted(state) == sorted(published_key_list())
    assert state["bert.encoder.layer.0.attention.self.Wqkv.weight"].shape == (2304, 768)
    assert state["bert.encoder.layer.0.mlp.gated_layers.weight"].shape == (6144, 768)
    assert state["bert.encoder.layer.0.mlp.wo.weight"].shape == (768, 3072)
    assert state["bert.embeddings.word_embeddings.weight"].shape == (4096, 768)


def test_base_size_parameter_count(base_on_meta):
    encoder = sum(p.numel() for p in base_on_meta.bert.parameters())
    # embeddings 4096*768 + 2*768 + 2*768 = 3,148,800; per layer 9,444,096 (hand count).
    assert encoder == 3_148_800 + 12 * 9_444_096 == 116_477_952
    pooler = 768 * 768 + 768
    assert round((encoder + pooler) / 1e6, 2) == 117.07


def test_save_load_gives_identical_logits(tiny, tokenizer, tmp_path):
    save_model(tiny, tmp_path / "model")
    loaded = load_model(tmp_path / "model")
    ids = torch.as_tensor(tokenizer.encode("GATTTATTAGGGGAGATTTTATATATCCCGA").ids)[None]
    with torch.no_grad():
        assert torch.equal(loaded.model(ids).logits, tiny.model(ids).logits)
    assert loaded.model.cls.predictions.decoder.weight is loaded.model.bert.embeddings.word_embeddings.weight
    assert (tmp_path / "model" / "tokenizer.json").read_bytes() == (PUBLISHED_DIR / "tokenizer.json").read_bytes()
    assert loaded.tokenizer.encode("ACGTNACGT").ids.tolist() == [1, 5, 6, 1049, 0, 5, 6, 1049, 2]


def test_same_seed_gives_byte_identical_model_files(tmp_path):
    for name in ("a", "b"):
        save_model(init_model("dnabert2", "tiny", seed=7), tmp_path / name)
    for name in ("model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def write_published_directory(model, directory, extra=None, drop=()):
    """A directory shaped like the hub release: remote-code config, pytorch_model.bin, no utrbench.json."""
    directory.mkdir()
    config = json.loads((PUBLISHED_DIR / "config.json").read_text())
    config.update({key: getattr(model.config, key) for key in (
        "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size")})
    assert "auto_map" in config
    # The release omits pad_token_id, so its remote code uses BertConfig's 0 ([UNK]); re-saved copies
    # write it out. Either way our pad id must come from the tokenizer.
    config["pad_token_id"] = 0
    (directory / "config.json").write_text(json.dumps(config))
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(PUBLISHED_DIR / name, directory / name)
    state = {k: v.clone() for k, v in model.state_dict().items() if k not in drop}
    state.update(extra or {})
    torch.save(state, directory / "pytorch_model.bin")


def test_load_published_by_parameter_name(tiny, tokenizer, tmp_path):
    hidden = tiny.model.config.hidden_size
    pooler = {"bert.pooler.dense.weight": torch.zeros(hidden, hidden), "bert.pooler.dense.bias": torch.zeros(hidden)}
    write_published_directory(tiny.model, tmp_path / "published", extra=pooler)
    loaded = load_model(tmp_path / "published", family_name="dnabert2")
    assert loaded.model.config.pad_token_id == 3
    ids = torch.as_tensor(tokenizer.encode("GATTTATTAGGGGAGATTTTATATATCCCGA").ids)[None]
    with torch.no_grad():
        assert torch.equal(loaded.model(ids).logits, tiny.model(ids).logits)
    assert not any("pooler" in key for key in loaded.model.state_dict())


def test_load_published_without_stored_decoder_weight_ties_it(tiny, tmp_path):
    write_published_directory(tiny.model, tmp_path / "published", drop={"cls.predictions.decoder.weight"})
    loaded = load_model(tmp_path / "published", family_name="dnabert2")
    torch.testing.assert_close(loaded.model.cls.predictions.decoder.weight, tiny.model.bert.embeddings.word_embeddings.weight)


@pytest.mark.parametrize("change, message", [
    ({"drop": {"bert.encoder.layer.1.mlp.wo.bias"}}, "missing: bert.encoder.layer.1.mlp.wo.bias"),
    ({"extra": {"bert.embeddings.position_embeddings.weight": torch.zeros(512, 64)}},
     "unexpected: bert.embeddings.position_embeddings.weight"),
    ({"extra": {"bert.encoder.layer.0.mlp.gated_layers.weight": torch.zeros(128, 64)}},
     r"gated_layers.weight has shape \(128, 64\)"),
])
def test_load_published_rejects_other_checkpoints(tiny, tmp_path, change, message):
    write_published_directory(tiny.model, tmp_path / "published", **change)
    with pytest.raises(UserError, match=message):
        load_model(tmp_path / "published", family_name="dnabert2")


def test_mismatched_tokenizer_is_a_user_error(tmp_path):
    save_model(init_model("dnabert2", "tiny", vocab_size=4000), tmp_path / "model")
    with pytest.raises(UserError, match="4096 tokens but the model's vocabulary has 4000"):
        load_model(tmp_path / "model")
