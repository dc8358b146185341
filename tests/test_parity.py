"""Parity with the original implementations: every fixture of ``<repo>/../shared/data/parity``.

Each fixture folder holds a tiny checkpoint written by the study's original class (DNABERT-6's
``BertForMaskedLM``, DNABERT-2's MosaicBERT, NT-v2's ESM variant, the species-aware DSS ResNet),
fixed inputs, and the original's logits and last hidden states (see that folder's README.md). The
folder is loaded exactly as a user's published checkpoint is (``load_model(folder, family)``), and
our outputs must equal the stored ones at valid positions: <= 1e-5 absolute for the transformers,
<= 1e-4 for the DSS, for the padded batch and for every sequence alone.

``UTRBENCH_PARITY_DIR`` points at another copy of the folder (e.g. from a git worktree, whose
``../shared`` is not the main checkout's).
"""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from utrbench.errors import UserError
from utrbench.models import load_model
from utrbench.models.statespace import NucleotideTokenizer

REPO = Path(__file__).resolve().parents[1]
PARITY = Path(os.environ.get("UTRBENCH_PARITY_DIR", REPO.parent / "shared" / "data" / "parity"))
FAMILY_OF_FIXTURE = {"dnabert6": "dnabert", "dnabert2": "dnabert2", "ntv2": "ntv2", "dss": "statespace"}
TOLERANCE = {"dnabert6": 1e-5, "dnabert2": 1e-5, "ntv2": 1e-5, "dss": 1e-4}

pytestmark = pytest.mark.skipif(
    not PARITY.is_dir(), reason=f"parity fixtures not found: {PARITY} is absent (set UTRBENCH_PARITY_DIR)"
)


def fixture_arrays(name: str) -> dict:
    with np.load(PARITY / name / "inputs_outputs.npz") as arrays:
        return dict(arrays)


def _outputs(model, ids, attention_mask=None, species_ids=None):
    with torch.no_grad():
        hidden = model.encode(ids, attention_mask, species_ids)[-1]
        return model.lm_logits(hidden).float().numpy(), hidden.float().numpy()


def _max_difference(ours, theirs, valid=None) -> float:
    if valid is not None:
        ours, theirs = ours[valid], theirs[valid]
    return float(np.abs(ours - theirs).max())


def transformer_differences(loaded, arrays) -> dict:
    """Max |ours - original| at valid positions, for the padded batch and each sequence alone."""
    ids = torch.from_numpy(arrays["input_ids"])
    mask = torch.from_numpy(arrays["attention_mask"])
    valid = arrays["attention_mask"].astype(bool)
    logits, hidden = _outputs(loaded.model, ids, mask)
    differences = {"logits": _max_difference(logits, arrays["logits"], valid),
                   "hidden": _max_difference(hidden, arrays["hidden"], valid)}
    for i, length in enumerate(arrays["lengths"]):
        logits, hidden = _outputs(loaded.model, ids[i : i + 1, :length], mask[i : i + 1, :length])
        differences[f"logits_alone_{i}"] = _max_difference(logits[0], arrays[f"logits_alone_{i}"])
        differences[f"hidden_alone_{i}"] = _max_difference(hidden[0], arrays[f"hidden_alone_{i}"])
    return differences


def dss_input_ids(arrays) -> torch.Tensor:
    """The fixture's centred, padded batch as our ids: our tokenizer on the sequences, masked
    positions and padding as ``[MASK]`` (the original's all-zero column for both)."""
    tokenizer = NucleotideTokenizer()
    ids = np.full(arrays["valid_mask"].shape, tokenizer.mask_id, dtype=np.int64)
    for i, (sequence, offset) in enumerate(zip(arrays["sequences"], arrays["offsets"])):
        ids[i, offset : offset + len(sequence)] = tokenizer.encode(str(sequence)).ids
    ids[arrays["masked_positions"]] = tokenizer.mask_id
    return torch.from_numpy(ids)


def dss_differences(loaded, arrays) -> dict:
    """Max |ours - original| at valid positions: the padded batch fed as the original sees it
    (pads are masked bases), with the study's species and with species 0; each sequence alone;
    and our padded batch (pads masked out), which must equal the sequences alone."""
    ids = dss_input_ids(arrays)
    species = torch.from_numpy(arrays["species_ids"])
    valid = arrays["valid_mask"].astype(bool)
    everything = torch.ones_like(ids, dtype=torch.bool)
    differences = {}
    for suffix, species_ids in (("", species), ("_species0", torch.zeros_like(species))):
        logits, hidden = _outputs(loaded.model, ids, everything, species_ids)
        differences["logits" + suffix] = _max_difference(logits, arrays["logits" + suffix], valid)
        differences["hidden" + suffix] = _max_difference(hidden, arrays["hidden" + suffix], valid)
    padded = ids.masked_fill(~torch.from_numpy(valid), NucleotideTokenizer.pad_id)
    padded_logits, padded_hidden = _outputs(loaded.model, padded, torch.from_numpy(valid), species)
    for i, (offset, length) in enumerate(zip(arrays["offsets"], arrays["lengths"])):
        alone = ids[i : i + 1, offset : offset + length]
        logits, hidden = _outputs(loaded.model, alone, None, species[i : i + 1])
        differences[f"logits_alone_{i}"] = _max_difference(logits[0], arrays[f"logits_alone_{i}"])
        differences[f"hidden_alone_{i}"] = _max_difference(hidden[0], arrays[f"hidden_alone_{i}"])
        span = slice(offset, offset + length)
        differences[f"logits_padded_{i}"] = _max_difference(padded_logits[i, span], arrays[f"logits_alone_{i}"])
        differences[f"hidden_padded_{i}"] = _max_difference(padded_hidden[i, span], arrays[f"hidden_alone_{i}"])
    return differences


def differences_of(name: str, directory) -> dict:
    """Load ``directory`` as a published checkpoint of fixture ``name``'s family and compare."""
    loaded = load_model(directory, FAMILY_OF_FIXTURE[name])
    torch.set_num_threads(1)
    arrays = fixture_arrays(name)
    return dss_differences(loaded, arrays) if name == "dss" else transformer_differences(loaded, arrays)


def assert_parity(name: str, directory) -> None:
    differences = differences_of(name, directory)
    print(f"{name} ({directory}): max |difference| {max(differences.values()):.2e}", differences)
    failing = {key: value for key, value in differences.items() if not value <= TOLERANCE[name]}
    assert not failing, f"{name}: above {TOLERANCE[name]:g}: {failing}"


@pytest.mark.parametrize("name", sorted(FAMILY_OF_FIXTURE))
def test_fixture_reproduces_the_original_outputs(name):
    assert_parity(name, PARITY / name)


def test_every_fixture_folder_is_covered():
    folders = sorted(path.name for path in PARITY.iterdir() if path.is_dir())
    assert folders == sorted(FAMILY_OF_FIXTURE)


@pytest.mark.parametrize("name", ["dnabert6", "dnabert2", "ntv2"])
def test_tokenizers_reproduce_the_fixture_inputs(name):
    """Our tokenizer on the stored DNA gives the original's ids (masked positions aside)."""
    loaded = load_model(PARITY / name, FAMILY_OF_FIXTURE[name])
    arrays = fixture_arrays(name)
    for i, (sequence, length) in enumerate(zip(arrays["sequences"], arrays["lengths"])):
        ours = loaded.tokenizer.encode(str(sequence)).ids
        theirs = arrays["input_ids"][i, :length]
        unmasked = theirs != loaded.tokenizer.mask_id
        assert len(ours) == length and np.array_equal(ours[unmasked], theirs[unmasked]), (name, i)


def test_dss_inputs_are_the_original_one_hot_encoding():
    arrays = fixture_arrays("dss")
    one_hot = torch.nn.functional.one_hot(dss_input_ids(arrays), 7)[..., :5].transpose(1, 2)
    assert np.array_equal(one_hot.numpy().astype(np.float32), arrays["input_onehot"])


def copy_fixture(name, destination: Path, without=()) -> Path:
    """A writable copy of a fixture folder, leaving out the files named in ``without``."""
    shutil.copytree(PARITY / name, destination, ignore=lambda _dir, names: [n for n in names if n in without])
    return destination


def test_dss_model_pt_loads_with_weights_only(tmp_path):
    """The study's own file format: config.json + model.pt (torch.save of the state dict)."""
    assert_parity("dss", copy_fixture("dss", tmp_path / "dss", without=("model.safetensors",)))


@pytest.mark.parametrize("name, alias, twin", [
    ("dnabert2", "cls.predictions.decoder.weight", "bert.embeddings.word_embeddings.weight"),
    ("dnabert6", "cls.predictions.decoder.weight", "bert.embeddings.word_embeddings.weight"),
    ("dnabert6", "cls.predictions.decoder.bias", "cls.predictions.bias"),
])
def test_tied_decoder_alias_may_be_present(tmp_path, name, alias, twin):
    """A pytorch_model.bin of the full state dict stores the tied decoder too: same outputs."""
    directory = copy_fixture(name, tmp_path / name, without=("model.safetensors",))
    state = load_file(PARITY / name / "model.safetensors")
    torch.save({**state, alias: state[twin].clone()}, directory / "pytorch_model.bin")
    assert_parity(name, directory)
    torch.save({**state, alias: state[twin] + 1}, directory / "pytorch_model.bin")
    with pytest.raises(UserError, match="one tied weight but hold different values"):
        load_model(directory, FAMILY_OF_FIXTURE[name])


def test_dss_aliases_must_agree(tmp_path):
    directory = copy_fixture("dss", tmp_path / "dss", without=("model.pt",))
    state = load_file(directory / "model.safetensors")
    state["resnet_layer.1.layer.3.weight"] = state["resnet_layer.1.conv2.weight"] + 1
    save_file(state, directory / "model.safetensors")
    with pytest.raises(UserError, match=r"resnet_layer\.1\.layer\.3\.weight and resnet_layer\.1\.conv2\.weight"):
        load_model(directory, "statespace")


@pytest.mark.parametrize("name, key", [
    ("dnabert6", "bert.encoder.layer.1.output.dense.bias"),
    ("dnabert2", "bert.encoder.layer.0.mlp.wo.weight"),
    ("ntv2", "lm_head.decoder.weight"),
    ("dss", "s4_layers.1.kernel.log_dt"),
])
def test_missing_or_unexpected_keys_are_listed(tmp_path, name, key):
    directory = copy_fixture(name, tmp_path / name, without=("model.pt",))
    state = load_file(directory / "model.safetensors")
    state["extra.weight"] = torch.zeros(1)
    state["another.bias"] = torch.zeros(1)
    del state[key]
    save_file(state, directory / "model.safetensors")
    with pytest.raises(UserError) as error:
        load_model(directory, FAMILY_OF_FIXTURE[name])
    assert f"(missing: {key}; unexpected: another.bias, extra.weight)" in str(error.value)


@pytest.mark.parametrize("name, first, second", [
    ("dnabert6", "bert.encoder.layer.0.attention.self.query.weight", "bert.encoder.layer.0.attention.self.value.weight"),
    ("dnabert2", "bert.encoder.layer.0.attention.output.LayerNorm.weight", "bert.encoder.layer.0.mlp.layernorm.weight"),
    ("ntv2", "esm.encoder.layer.0.attention.self.query.weight", "esm.encoder.layer.0.attention.self.key.weight"),
    ("dss", "norms.0.weight", "norms.1.weight"),
])
def test_a_broken_mapping_fails_parity(tmp_path, name, first, second):
    """Swapping two same-shaped tensors (as a wrong name mapping would) is caught by the comparison."""
    directory = copy_fixture(name, tmp_path / name, without=("model.pt",))
    state = load_file(directory / "model.safetensors")
    state[first], state[second] = state[second], state[first]
    save_file(state, directory / "model.safetensors")
    differences = differences_of(name, directory)
    assert max(differences.values()) > 10 * TOLERANCE[name]
    with pytest.raises(AssertionError, match="above"):
        assert_parity(name, directory)
