"""import_model.py on the parity fixtures: model directories that embed and zeroshot accept, whose
embeddings equal the mean of the original's stored hidden states over real tokens; the study's
vocabulary variants (DNABERT-2 4,097, NT-v2 4,108); bad checkpoints exit 2 with nothing written."""

import importlib.util
import json
import shutil

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file, save_file
from tokenizers import Tokenizer

from test_parity import FAMILY_OF_FIXTURE, PARITY, TOLERANCE, fixture_arrays
from utrbench.errors import UserError
from utrbench.io import read_embeddings
from utrbench.models import load_model
from utrbench.models.importer import import_model

pytestmark = pytest.mark.skipif(not PARITY.is_dir(), reason=f"parity fixtures not found: {PARITY} is absent")


def cli(script):
    """A bin/ entry point run in this process (a new interpreter per call would re-import torch)."""
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "bin" / f"{script}.py"
    spec = importlib.util.spec_from_file_location(f"{script}_cli", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def run(*args):
        return CliRunner().invoke(module.main, [str(a) for a in args])

    return run


def unmasked_sequences(name, arrays):
    """Indices of the fixture's sequences that were run without mask tokens."""
    if name == "dss":
        return [i for i in range(len(arrays["sequences"])) if not arrays["masked_positions"][i].any()]
    return [i for i, length in enumerate(arrays["lengths"]) if (arrays["input_ids"][i, :length] != mask_id(name)).all()]


def mask_id(name):
    return {"dnabert6": 4, "dnabert2": 4, "ntv2": 2}[name]


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    root = tmp_path_factory.mktemp("imported")
    for name, family in FAMILY_OF_FIXTURE.items():
        result = cli("import_model")("--source", PARITY / name, "--family", family, "--out", root / name)
        assert result.exit_code == 0, result.output
    return root


@pytest.mark.parametrize("name", sorted(FAMILY_OF_FIXTURE))
def test_imported_directory_records_family_hashes_and_self_check(imported, name):
    info = json.loads((imported / name / "utrbench.json").read_text())
    assert info["family"] == FAMILY_OF_FIXTURE[name]
    hashes = info["provenance"]["imported_files_sha256"]
    assert "config.json" in hashes and len(hashes["config.json"]) == 64
    assert info["provenance"]["self_check"]["max_abs_difference"] == 0.0
    assert (imported / name / "model.safetensors").exists()
    assert (name == "dss") == (len(info["species"]) == 241)


@pytest.mark.parametrize("name", sorted(FAMILY_OF_FIXTURE))
def test_embeddings_equal_the_mean_of_the_original_hidden_states(imported, tmp_path, name):
    arrays = fixture_arrays(name)
    loaded = load_model(imported / name)
    chosen = unmasked_sequences(name, arrays)
    assert chosen
    fasta = tmp_path / "in.fa"
    fasta.write_text("".join(f">s{i}\n{arrays['sequences'][i]}\n" for i in chosen))
    for i in chosen:
        species = ["--species", loaded.info.species[arrays["species_ids"][i]]] if name == "dss" else []
        out = tmp_path / f"s{i}.h5"
        result = cli("embed")("--model", imported / name, "--fasta", fasta, "--out", out, "--device", "cpu", *species)
        assert result.exit_code == 0, result.output
        ids, matrix, _ = read_embeddings(out)
        hidden = arrays[f"hidden_alone_{i}"]
        if name == "dss":
            expected = hidden.mean(0)
        else:
            real = ~np.isin(arrays["input_ids"][i, : arrays["lengths"][i]], loaded.tokenizer.special_ids)
            expected = hidden[real].mean(0)
        np.testing.assert_allclose(matrix[ids.index(f"s{i}")], expected, atol=TOLERANCE[name], rtol=0)


@pytest.mark.parametrize("name", sorted(FAMILY_OF_FIXTURE))
def test_zeroshot_accepts_the_imported_directory(imported, tmp_path, name):
    fasta = tmp_path / "in.fa"
    fasta.write_text(">u1\nACGTACGGTTACAGGTTGACCAGTAGGACCATTAGACGT\n")
    species = ["--species", "Homo_sapiens"] if name == "dss" else []
    result = cli("zeroshot")("--model", imported / name, "--fasta", fasta, "--strategy", "unmasked",
                             "--out", tmp_path / "p.h5", "--device", "cpu", *species)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "p.h5").exists()


# --- bad checkpoints: one sentence, exit 2, nothing written ---


def copy_fixture(name, destination, without=()):
    shutil.copytree(PARITY / name, destination, ignore=lambda _dir, names: [n for n in names if n in without])
    return destination


def assert_refused(tmp_path, source, family, message):
    out = tmp_path / "out"
    result = cli("import_model")("--source", source, "--family", family, "--out", out)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.output
    assert "Traceback" not in result.output
    assert not out.exists() and not list(tmp_path.glob(".out.*"))


def test_missing_keys_are_refused(tmp_path):
    source = copy_fixture("dnabert2", tmp_path / "src")
    state = load_file(source / "model.safetensors")
    del state["bert.encoder.layer.1.mlp.wo.bias"]
    save_file(state, source / "model.safetensors")
    assert_refused(tmp_path, source, "dnabert2", "(missing: bert.encoder.layer.1.mlp.wo.bias; unexpected: none)")


class _Payload:
    """Unpickling this would create a file: proof that no pickled code runs."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pytorch_bin_with_arbitrary_pickled_objects_is_refused(tmp_path):
    source = copy_fixture("dnabert6", tmp_path / "src", without=("model.safetensors",))
    state = load_file(PARITY / "dnabert6" / "model.safetensors")
    marker = tmp_path / "code_ran"
    torch.save({**state, "payload": _Payload(marker)}, source / "pytorch_model.bin")
    assert_refused(tmp_path, source, "dnabert", "pytorch_model.bin: holds pickled objects other than tensors")
    assert not marker.exists()


def test_a_vocabulary_that_does_not_match_the_embeddings_is_refused(tmp_path):
    source = copy_fixture("ntv2", tmp_path / "src")
    with open(source / "vocab.txt", "a") as handle:
        handle.write("\nNNNNNN")  # the 3'UTR tokenizer's 4,108 tokens beside 4,107 embedding rows
    assert_refused(tmp_path, source, "ntv2", "vocab_size 4107 does not match the 4108 tokens of vocab.txt")


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_a_corrupt_safetensors_file_is_one_sentence(tmp_path, damage):
    """Issue 11: a corrupt model.safetensors, imported or already a model directory, exits 2."""
    source = copy_fixture("dss", tmp_path / "src", without=("model.pt",))
    data = (source / "model.safetensors").read_bytes()
    (source / "model.safetensors").write_bytes(data[: len(data) // 2] if damage == "truncated" else b"\x00" * 64)
    assert_refused(tmp_path, source, "statespace", "model.safetensors: not a readable weights file")


def test_a_corrupt_safetensors_in_a_model_directory_stops_embed(imported, tmp_path):
    model_dir = tmp_path / "model"
    shutil.copytree(imported / "ntv2", model_dir)
    data = (model_dir / "model.safetensors").read_bytes()
    (model_dir / "model.safetensors").write_bytes(data[:1000])
    fasta = tmp_path / "in.fa"
    fasta.write_text(">u1\nACGTACGGTTACAGGTTGACC\n")
    result = cli("embed")("--model", model_dir, "--fasta", fasta, "--out", tmp_path / "e.h5", "--device", "cpu")
    assert result.exit_code == 2 and "model.safetensors: not a readable weights file" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "e.h5").exists()


# --- the study's vocabulary variants ---


def grow_vocabulary(state: dict, keys, rows=1) -> dict:
    """``state`` with ``rows`` extra (random) rows appended to each tensor in ``keys``."""
    generator = torch.Generator().manual_seed(0)
    grown = dict(state)
    for key in keys:
        extra = torch.randn((rows, *state[key].shape[1:]), generator=generator) * 0.02
        grown[key] = torch.cat([state[key], extra])
    return grown


def set_vocab_size(directory, size):
    config = json.loads((directory / "config.json").read_text())
    (directory / "config.json").write_text(json.dumps({**config, "vocab_size": size}))


def assert_fixture_outputs_kept(loaded, name, columns):
    """On the fixture's inputs the grown model gives the original's outputs in the old columns."""
    arrays = fixture_arrays(name)
    ids, mask = torch.from_numpy(arrays["input_ids"]), torch.from_numpy(arrays["attention_mask"])
    with torch.no_grad():
        hidden = loaded.model.encode(ids, mask)[-1]
        logits = loaded.model.lm_logits(hidden)
    valid = arrays["attention_mask"].astype(bool)
    assert logits.shape[-1] == columns + 1
    np.testing.assert_allclose(hidden.numpy()[valid], arrays["hidden"][valid], atol=1e-5, rtol=0)
    np.testing.assert_allclose(logits.numpy()[..., :columns][valid], arrays["logits"][valid], atol=1e-5, rtol=0)


def test_ntv2_with_the_4108_token_utr_vocabulary(tmp_path):
    source = copy_fixture("ntv2", tmp_path / "src")
    with open(source / "vocab.txt", "a") as handle:
        handle.write("\nNNNNNN")
    set_vocab_size(source, 4108)
    state = load_file(PARITY / "ntv2" / "model.safetensors")
    keys = ["esm.embeddings.word_embeddings.weight", "lm_head.decoder.weight", "lm_head.bias"]
    save_file(grow_vocabulary(state, keys), source / "model.safetensors")
    import_model(source, "ntv2", tmp_path / "out")
    loaded = load_model(tmp_path / "out")
    assert loaded.tokenizer.vocab_size == loaded.model.config.vocab_size == 4108
    assert 4107 in loaded.tokenizer.encode("ACGTAC" + "N" * 6 + "ACGTAC").ids.tolist()
    assert_fixture_outputs_kept(loaded, "ntv2", 4107)


def test_dnabert2_with_the_added_nnnnnn_token(tmp_path):
    source = copy_fixture("dnabert2", tmp_path / "src")
    tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
    tokenizer.add_tokens(["NNNNNN"])  # the study's main_parallel.py adds it and resizes to 4,097
    tokenizer.save(str(source / "tokenizer.json"))
    set_vocab_size(source, 4097)
    state = load_file(PARITY / "dnabert2" / "model.safetensors")
    grown = grow_vocabulary(state, ["bert.embeddings.word_embeddings.weight", "cls.predictions.decoder.bias"])
    save_file(grown, source / "model.safetensors")
    import_model(source, "dnabert2", tmp_path / "out")
    loaded = load_model(tmp_path / "out")
    assert loaded.tokenizer.vocab_size == loaded.model.config.vocab_size == 4097
    assert 4096 in loaded.tokenizer.encode("ACGTACGT" + "N" * 6 + "ACGTACGT").ids.tolist()
    assert_fixture_outputs_kept(loaded, "dnabert2", 4096)

    shutil.copy(PARITY / "dnabert2" / "tokenizer.json", source / "tokenizer.json")  # 4,096 tokens again
    with pytest.raises(UserError, match="the tokenizer has 4096 tokens but the model's vocabulary has 4097"):
        load_model(source, "dnabert2")
