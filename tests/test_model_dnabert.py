"""DNABERT family: overlapping k-mer tokenizer, BertForMaskedLM model, published checkpoints."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertForMaskedLM

from utrbench.errors import UserError
from utrbench.models import init_model, load_model, save_model
from utrbench.models.dnabert import DnabertConfig, DnabertForMaskedLM, OverlappingKmerTokenizer

DATA = Path("/work/shared/data/models/dnabert")
BIN = Path(__file__).resolve().parents[1] / "bin"
TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def slow_encode(sequence, k):
    """Reference: one dictionary lookup per k-mer, as a generic BERT vocabulary would do."""
    vocab = {token: i for i, token in enumerate(OverlappingKmerTokenizer(k).tokens)}
    kmers = [sequence[i:i + k] for i in range(len(sequence) - k + 1)]
    return [2] + [vocab.get(kmer, 1) for kmer in kmers] + [3]


def test_vocabulary_is_the_published_file():
    assert OverlappingKmerTokenizer(6).tokens == (DATA / "vocab.txt").read_text().splitlines()


@pytest.mark.parametrize("sequence, ids", [("ACGTACGT", [2, 727, 2896, 3378, 3]), ("AAAAAAA", [2, 5, 5, 3])])
def test_published_test_vectors(sequence, ids):
    assert OverlappingKmerTokenizer(6).encode(sequence).ids.tolist() == ids


@pytest.mark.parametrize("k", [3, 4, 5, 6])
def test_encode_matches_per_kmer_lookup(k):
    rng = np.random.default_rng(k)
    sequence = "".join(rng.choice(list("ACGTN"), p=[0.24, 0.24, 0.24, 0.24, 0.04], size=300))
    encoded = OverlappingKmerTokenizer(k).encode(sequence)
    assert encoded.ids.tolist() == slow_encode(sequence, k)
    n_kmers = len(sequence) - k + 1
    assert encoded.spans[0].tolist() == [-1, -1] and encoded.spans[-1].tolist() == [-1, -1]
    assert encoded.spans[1:-1].tolist() == [[i, i + k] for i in range(n_kmers)]


def test_clean_sequence_has_no_unknown_tokens_and_lowercase_is_uppercased():
    encoded = OverlappingKmerTokenizer(6).encode("acgtacgtacgt")
    assert 1 not in encoded.ids.tolist()
    assert encoded.ids.tolist() == OverlappingKmerTokenizer(6).encode("ACGTACGTACGT").ids.tolist()


@pytest.mark.parametrize("k", [3, 6])
def test_decode_inverts_encode(k):
    rng = np.random.default_rng(0)
    sequence = "".join(rng.choice(list("ACGT"), size=50))
    tokenizer = OverlappingKmerTokenizer(k)
    assert tokenizer.decode(tokenizer.encode(sequence).ids) == sequence


def test_decode_letters_covered_only_by_unknown_tokens_are_n():
    tokenizer = OverlappingKmerTokenizer(3)
    # 3-mers: ACG CGT GTN TNA NAC; the final A and C lie only in [UNK] 3-mers, the T also in CGT.
    assert tokenizer.decode(tokenizer.encode("ACGTNAC").ids) == "ACGTNNN"
    assert tokenizer.decode(tokenizer.encode("ACGTNACG").ids) == "ACGTNACG"


def test_bad_sequences_raise_user_errors():
    tokenizer = OverlappingKmerTokenizer(6)
    with pytest.raises(UserError, match="shorter than one 6-mer"):
        tokenizer.encode("ACGTA")
    with pytest.raises(UserError, match="letter 'X' at position 3"):
        tokenizer.encode("ACXTACGT", where="record r1")
    with pytest.raises(UserError):
        OverlappingKmerTokenizer(7)


def test_tokenizer_save_load_round_trip_and_rejects_foreign_vocab(tmp_path):
    OverlappingKmerTokenizer(4).save(tmp_path)
    assert OverlappingKmerTokenizer.load(tmp_path).k == 4
    tokens = (tmp_path / "vocab.txt").read_text().splitlines()
    tokens[7], tokens[8] = tokens[8], tokens[7]
    (tmp_path / "vocab.txt").write_text("\n".join(tokens) + "\n")
    with pytest.raises(UserError, match="line 8"):
        OverlappingKmerTokenizer.load(tmp_path)


def test_config_derives_vocabulary_from_k():
    assert DnabertConfig(kmer=3).vocab_size == 5 + 64
    assert DnabertConfig().vocab_size == 4101


def test_base_size_matches_published_dnabert6():
    published = json.loads((DATA / "config.json").read_text())
    loaded = init_model("dnabert", "base")
    for key in ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "max_position_embeddings", "vocab_size"):
        assert getattr(loaded.model.config, key) == published[key]
    n_parameters = sum(p.numel() for p in loaded.model.parameters())
    assert n_parameters == pytest.approx(89.2e6, rel=0.002)
    assert loaded.tokenizer.max_tokens == 512


def test_encode_lm_logits_and_loss():
    loaded = init_model("dnabert", "tiny", seed=1)
    model, tokenizer = loaded.model, loaded.tokenizer
    ids = torch.tensor(np.stack([tokenizer.encode("ACGTACGTTTGACA").ids, tokenizer.encode("GGGTACGTTTGACC").ids]))
    hidden = model.encode(ids)
    assert len(hidden) == model.config.num_hidden_layers + 1
    assert hidden[-1].shape == (2, ids.shape[1], 32)
    full = model.lm_logits(hidden[-1])
    positions = torch.zeros_like(ids, dtype=torch.bool)
    positions[0, 3] = positions[1, 1] = positions[1, 5] = True
    torch.testing.assert_close(model.lm_logits(hidden[-1], positions), full[positions])
    labels = torch.full_like(ids, -100)
    labels[positions] = torch.tensor([7, 8, 9])
    output = model(ids, labels=labels)
    expected = torch.nn.functional.cross_entropy(full[positions], torch.tensor([7, 8, 9]))
    torch.testing.assert_close(output.loss, expected)
    # Matches transformers' own BertForMaskedLM forward on the same weights.
    torch.testing.assert_close(full, BertForMaskedLM.forward(model, input_ids=ids).logits)


def test_save_load_gives_identical_logits(tmp_path):
    loaded = init_model("dnabert", "tiny", seed=3)
    save_model(loaded, tmp_path / "model")
    reloaded = load_model(tmp_path / "model")
    ids = torch.tensor(loaded.tokenizer.encode("ACGTNACGTTAGCAT").ids[None])
    assert torch.equal(reloaded.model(ids).logits, loaded.model(ids).logits)
    assert reloaded.tokenizer.tokens == loaded.tokenizer.tokens and reloaded.tokenizer.max_tokens == 512


def write_published(directory, tensors_as_bin=False):
    """A DNABERT release layout: native BertForMaskedLM config.json + vocab.txt + weights."""
    torch.manual_seed(5)
    native = BertForMaskedLM(BertConfig(vocab_size=4101, **TINY)).eval()
    directory.mkdir()
    native.save_pretrained(directory)
    OverlappingKmerTokenizer(6).save(directory)
    if tensors_as_bin:  # the 2020 release: pytorch_model.bin from a BertModel that still had a pooler
        (directory / "model.safetensors").unlink()
        state = dict(native.state_dict(), **{"bert.pooler.dense.weight": torch.zeros(32, 32), "bert.pooler.dense.bias": torch.zeros(32)})
        torch.save(state, directory / "pytorch_model.bin")
    return native


@pytest.mark.parametrize("tensors_as_bin", [False, True])
def test_load_published_gives_identical_logits(tmp_path, tensors_as_bin):
    native = write_published(tmp_path / "dnabert6", tensors_as_bin)
    loaded = load_model(tmp_path / "dnabert6", family_name="dnabert")
    assert isinstance(loaded.model, DnabertForMaskedLM)
    ids = torch.tensor(loaded.tokenizer.encode("ACGTACGTTTGACAGGATC").ids[None])
    torch.testing.assert_close(loaded.model(ids).logits, native(input_ids=ids).logits, rtol=0, atol=0)
    assert set(loaded.model.state_dict()) == set(native.state_dict())


def test_load_published_rejects_unknown_weights(tmp_path):
    native = write_published(tmp_path / "dnabert6")
    state = dict(native.state_dict(), **{"bert.encoder.layer.0.extra.weight": torch.zeros(3)})
    (tmp_path / "dnabert6" / "model.safetensors").unlink()
    torch.save(state, tmp_path / "dnabert6" / "pytorch_model.bin")
    with pytest.raises(UserError, match="unexpected: bert.encoder.layer.0.extra.weight"):
        load_model(tmp_path / "dnabert6", family_name="dnabert")


def test_load_published_rejects_wrong_shapes(tmp_path):
    write_published(tmp_path / "dnabert6")
    OverlappingKmerTokenizer(5).save(tmp_path / "dnabert6")
    with pytest.raises(UserError, match="vocab_size 4101 does not match"):
        load_model(tmp_path / "dnabert6", family_name="dnabert")


def run_cli(*args, cwd):
    return subprocess.run([sys.executable, str(BIN / "init_model.py"), *args], cwd=cwd, capture_output=True, text=True)


@pytest.mark.slow  # two interpreter start-ups that import torch and transformers
def test_init_model_cli_and_clean_errors(tmp_path):
    result = run_cli("--family", "dnabert", "--size", "tiny", "--out", "model", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert torch.equal(
        load_model(tmp_path / "model").model.bert.embeddings.word_embeddings.weight,
        init_model("dnabert", "tiny", seed=0).model.bert.embeddings.word_embeddings.weight,
    )
    result = run_cli("--family", "dnabert", "--size", "huge", "--out", "other", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.startswith("error: family 'dnabert' has no size 'huge'")
    assert "Traceback" not in result.stderr and not (tmp_path / "other").exists()


def test_load_errors(tmp_path):
    save_model(init_model("dnabert", "tiny"), tmp_path / "model")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no model weights"):
        load_model(tmp_path / "empty", family_name="dnabert")
    OverlappingKmerTokenizer(5).save(tmp_path / "model")  # a 5-mer vocabulary beside a 6-mer model
    with pytest.raises(UserError, match="tokenizer has 1029 tokens but the model's vocabulary has 4101"):
        load_model(tmp_path / "model")
