"""Registry of model families, and the one way to create, save and load a model directory.

A model directory is a Hugging Face-style folder (``config.json``, ``model.safetensors``,
tokenizer files) plus ``utrbench.json``, which names the family, the size it was created at,
the species list (index = species id, sorted alphabetically) and the training provenance.
"""

import importlib
import json
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path

import safetensors.torch
import torch

from utrbench import __version__
from utrbench.errors import UserError
from utrbench.io import atomic_output
from utrbench.models.base import Family
from utrbench.models.checkpoints import WEIGHT_FILES, has_weights, load_weights_by_name, read_config, read_weights

INFO_FILE = "utrbench.json"

_FAMILIES: dict[str, Family] = {}


def register(family: Family) -> Family:
    """Add a family; called once at import time by each family module."""
    if family.name in _FAMILIES:
        raise RuntimeError(f"model family {family.name!r} registered twice")
    _FAMILIES[family.name] = family
    return family


def _import_family_modules():
    import utrbench.models as package

    for module in pkgutil.iter_modules(package.__path__):
        if module.name not in {"base", "checkpoints", "importer", "registry"}:
            importlib.import_module(f"utrbench.models.{module.name}")


def families() -> dict[str, Family]:
    """All registered families by name."""
    # Always import (a no-op once done): a family module imported directly registers itself
    # early, so an empty registry does not tell whether the others have been imported.
    _import_family_modules()
    return dict(sorted(_FAMILIES.items()))


def get_family(name: str) -> Family:
    known = families()
    if name not in known:
        raise UserError(f"unknown model family {name!r}; known families: {', '.join(known)}.")
    return known[name]


@dataclass
class ModelInfo:
    """Contents of ``utrbench.json``."""

    family: str
    size: str | None = None
    species: list = field(default_factory=list)
    provenance: dict = field(default_factory=dict)

    def species_index(self, name: str, where: str = "") -> int:
        """Species id of ``name`` for this model (species-agnostic models always give 0)."""
        if not self.species:
            return 0
        try:
            return self.species.index(name)
        except ValueError:
            raise UserError(
                f"{where + ': ' if where else ''}species {name!r} is not among the model's "
                f"{len(self.species)} species."
            ) from None


@dataclass
class LoadedModel:
    model: torch.nn.Module
    tokenizer: object
    info: ModelInfo
    family: Family


def read_species_file(path) -> list:
    """Species names, one per line, returned sorted (the species id is the sorted position)."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: species file not found.")
    names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not names:
        raise UserError(f"{path}: species file is empty.")
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise UserError(f"{path}: species listed more than once: {', '.join(duplicated)}.")
    return sorted(names)


def init_model(family_name: str, size: str = "tiny", seed: int = 0, species=None, **overrides) -> LoadedModel:
    """A randomly initialised model of a named size; the same seed gives the same weights."""
    family = get_family(family_name)
    if size not in family.sizes:
        raise UserError(f"family {family_name!r} has no size {size!r}; sizes: {', '.join(family.sizes)}.")
    species = sorted(species or [])
    kwargs = dict(family.sizes[size])
    if family.species_aware:
        kwargs["num_species"] = max(len(species), 1)
    kwargs.update(overrides)
    config = family.config_class(**kwargs)
    torch.manual_seed(seed)
    model = family.model_class(config)
    model.eval()
    info = ModelInfo(family=family.name, size=size, species=species, provenance={"init_seed": seed})
    return LoadedModel(model, family.new_tokenizer(config), info, family)


def save_model(loaded: LoadedModel, directory) -> None:
    """Write weights, config, tokenizer and ``utrbench.json`` to ``directory`` atomically."""
    with atomic_output(Path(directory)) as tmp:
        write_model_directory(loaded, tmp)


def write_model_directory(loaded: LoadedModel, directory: Path) -> None:
    """Create ``directory`` with the model's safetensors weights, config, tokenizer and ``utrbench.json``."""
    directory.mkdir()
    # Weights under the model's own parameter names (transformers' save_pretrained may rename some,
    # e.g. ESM LayerNorm weight -> gamma, for its own loader); a tied tensor is stored once.
    safetensors.torch.save_file(unique_tensors(loaded.model.state_dict()), str(directory / "model.safetensors"),
                                metadata={"format": "pt"})
    loaded.model.config.save_pretrained(directory)
    loaded.tokenizer.save(directory)
    write_info(loaded.info, directory)


def unique_tensors(state: dict) -> dict:
    """``state`` with each tied tensor once, under the first of its names in sorted order.

    Deterministic, so the same weights give the same file bytes (safetensors' own ``save_model``
    recorded the dropped aliases in the metadata only in some runs).
    """
    kept, seen = {}, set()
    for name in sorted(state):
        tensor = state[name]
        storage = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape), tensor.dtype)
        if tensor.numel() and storage in seen:
            continue
        seen.add(storage)
        kept[name] = tensor.detach().contiguous().cpu()
    return kept


def write_info(info: ModelInfo, directory) -> None:
    """``utrbench.json``: the family, size, species list and provenance, with sorted keys."""
    record = dict(vars(info), utrbench_version=__version__)
    (Path(directory) / INFO_FILE).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")


def read_info(directory) -> ModelInfo:
    """``utrbench.json`` of a model directory."""
    path = Path(directory) / INFO_FILE
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise UserError(f"{path}: not valid JSON ({error}).") from None
    if not isinstance(raw, dict) or "family" not in raw:
        raise UserError(f"{path}: names no model family (expected a JSON object with a 'family' key).")
    # Other keys (utrbench_version, keys later steps add, such as a study name) are not model settings.
    return ModelInfo(**{key: raw[key] for key in ModelInfo.__dataclass_fields__ if key in raw})


def load_model(directory, family_name: str | None = None, device="cpu") -> LoadedModel:
    """Load a model directory; published checkpoints without ``utrbench.json`` need ``family_name``.

    Both kinds load the same way: a model built from the config, then every weight copied by
    parameter name (:func:`~utrbench.models.checkpoints.load_weights_by_name`), so a missing,
    unexpected or misshapen weight, or an unreadable weights file, is a :class:`UserError`.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise UserError(f"{directory}: model directory not found.")
    if not has_weights(directory):
        raise UserError(f"{directory}: no model weights (expected one of {', '.join(WEIGHT_FILES)}).")
    if (directory / INFO_FILE).exists():
        info = read_info(directory)
        if family_name and family_name != info.family:
            raise UserError(f"{directory}: holds a {info.family!r} model, not {family_name!r}.")
        family = get_family(info.family)
        config = read_model_config(family, directory)
        tokenizer = family.load_tokenizer(directory)
        check_vocabulary(config, tokenizer, directory)
        model = family.model_class(config)
        load_weights_by_name(model, read_weights(directory), directory)
    else:
        if not family_name:
            raise UserError(f"{directory}: no {INFO_FILE}; name the model family to load a published checkpoint.")
        family = get_family(family_name)
        if family.load_published is None:
            raise UserError(f"{directory}: family {family_name!r} has no published checkpoints to load without {INFO_FILE}.")
        model, tokenizer, species = family.load_published(directory)
        check_vocabulary(model.config, tokenizer, directory)
        info = ModelInfo(family=family.name, species=species, provenance={"published_checkpoint": str(directory)})
    model.to(device).eval()
    return LoadedModel(model, tokenizer, info, family)


def read_model_config(family: Family, directory):
    """The family's config from ``config.json`` of one of our model directories."""
    raw = read_config(directory)
    if raw.get("model_type") != family.config_class.model_type:
        raise UserError(
            f"{Path(directory) / 'config.json'}: model_type {raw.get('model_type')!r} is not "
            f"{family.config_class.model_type!r} of family {family.name!r}."
        )
    return family.config_class.from_dict(raw)


def check_vocabulary(config, tokenizer, where) -> None:
    """A tokenizer that does not match the model's vocabulary (its embedding rows) is an error."""
    expected = getattr(config, "vocab_size", None)
    if expected is not None and tokenizer.vocab_size != expected:
        raise UserError(
            f"{where}: the tokenizer has {tokenizer.vocab_size} tokens but the model's vocabulary has "
            f"{expected}; they do not belong together."
        )
