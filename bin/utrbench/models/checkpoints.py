"""Loading published checkpoints (no ``utrbench.json``) into our model classes by parameter name.

The families whose published weights we load (DNABERT, NT-v2, DNABERT-2) re-implement the
published architecture with the checkpoint's module names, so loading is: read the state dict,
drop the keys the family documents as safe to ignore, copy the rest by name, and refuse anything
else with a :class:`~utrbench.errors.UserError` that names the directory.
"""

import json
import pickle
import re
from pathlib import Path

import torch
from safetensors.torch import load_file

from utrbench.errors import UserError


# Weight files a model directory may hold, in the order read_weights prefers them (a sharded
# checkpoint is found by its index file).
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.pt")


def has_weights(directory) -> bool:
    directory = Path(directory)
    return any((directory / name).exists() or (directory / f"{name}.index.json").exists() for name in WEIGHT_FILES)


def read_config(directory) -> dict:
    """``config.json`` of a published model directory as a dict."""
    path = Path(directory) / "config.json"
    if not path.exists():
        raise UserError(f"{path}: model configuration not found.")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise UserError(f"{path}: not valid JSON ({error}).") from None


def _load_pickled(path) -> dict:
    """A torch.save'd state dict, read with ``weights_only=True``: tensors only, never pickled code."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise UserError(
            f"{path}: holds pickled objects other than tensors, which are not loaded (only weights are read, no code is run)."
        ) from None


def read_weights(directory) -> dict:
    """The state dict stored in a model directory: safetensors or PyTorch ``.bin``, sharded or not.

    A sharded checkpoint is found by its ``*.index.json``; safetensors is preferred when both exist.
    ``model.pt`` is the state-space study's ``torch.save(model.state_dict())``. Pickled files are
    read with ``torch.load(weights_only=True)``, so a file holding anything but tensors is refused.
    """
    directory = Path(directory)
    loaders = {"model.safetensors": load_file, "pytorch_model.bin": _load_pickled, "model.pt": _load_pickled}
    for name in WEIGHT_FILES:
        load = loaders[name]
        index = directory / f"{name}.index.json"
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values())) if index.exists() else [name]
        if all((directory / shard).exists() for shard in shards):
            state = {}
            for shard in shards:
                try:
                    state.update(load(directory / shard))
                except UserError:
                    raise
                except Exception as error:  # safetensors, pickle and zip errors share no base class
                    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
                    raise UserError(f"{directory / shard}: not a readable weights file ({reason}).") from None
            if not all(isinstance(key, str) and isinstance(value, torch.Tensor) for key, value in state.items()):
                raise UserError(f"{directory / name}: holds objects other than named tensors; not a state dict.")
            return state
    raise UserError(f"{directory}: no model weights (expected one of {', '.join(WEIGHT_FILES)}).")


def load_weights_by_name(model, state: dict, directory, ignored=()) -> None:
    """Copy ``state`` into ``model`` by parameter name; any key left unmatched is a UserError.

    ``ignored`` holds regular expressions of checkpoint keys the family knowingly drops (each
    documented next to the pattern). A model key the checkpoint lacks is accepted only when it is
    tied to a key that was loaded (e.g. an LM decoder sharing the word embeddings, which then gets
    those values), or is a buffer (computed from the config, like rotary frequencies). A tied
    tensor stored under several names must hold the same values under each. Errors name
    ``directory``: a weight of the wrong shape, then every missing and unexpected key.
    """
    state = {key: value for key, value in state.items() if not any(re.search(pattern, key) for pattern in ignored)}
    own = model.state_dict()
    mismatched = [key for key in state if key in own and state[key].shape != own[key].shape]
    if mismatched:
        key = mismatched[0]
        raise UserError(
            f"{directory}: weight {key} has shape {tuple(state[key].shape)}, the model expects "
            f"{tuple(own[key].shape)} ({len(mismatched)} mismatched weights)."
        )
    parameters = dict(model.named_parameters(remove_duplicate=False))
    _check_tied_copies_agree(parameters, state, directory)
    result = model.load_state_dict(state, strict=False)
    loaded_tensors = {id(tensor) for name, tensor in parameters.items() if name in state}
    tied = {name for name, tensor in parameters.items() if id(tensor) in loaded_tensors}
    missing = [key for key in result.missing_keys if key in parameters and key not in tied]
    unexpected = result.unexpected_keys
    if missing or unexpected:
        raise UserError(
            f"{directory}: weights do not match the model by name "
            f"(missing: {_list_keys(missing)}; unexpected: {_list_keys(unexpected)})."
        )


def _check_tied_copies_agree(parameters: dict, state: dict, directory) -> None:
    """A tensor the model ties under several names (decoder = embeddings) must agree in ``state``."""
    names_of_tensor = {}
    for name, tensor in parameters.items():
        if name in state:
            names_of_tensor.setdefault(id(tensor), []).append(name)
    for names in names_of_tensor.values():
        different = [name for name in names[1:] if not torch.equal(state[name], state[names[0]])]
        if different:
            raise UserError(f"{directory}: {names[0]} and {different[0]} are one tied weight but hold different values.")


def _list_keys(keys) -> str:
    """All ``keys``, sorted and comma-separated, or 'none'."""
    return ", ".join(sorted(keys)) if keys else "none"
