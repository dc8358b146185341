"""Model cards: what the report's provenance table says about one model directory, read without loading it.

Everything comes from the directory's own files: ``utrbench.json`` (family, size, species, provenance
written by pretraining, checkpoint selection or the importer), ``config.json`` (context length) and
the safetensors header (parameter count: tensor shapes only, no weights are read).
"""

import json
from pathlib import Path

from utrbench.errors import UserError

TOKENIZER_FILES = ("tokenizer.json", "vocab.txt")


def parameter_count(weights) -> int:
    """Number of parameters in a ``model.safetensors`` file, from its header's tensor shapes."""
    from safetensors import safe_open

    total = 0
    with safe_open(str(weights), framework="np") as handle:
        for name in handle.keys():
            count = 1
            for size in handle.get_slice(name).get_shape():
                count *= size
            total += count
    return total


def origin(provenance: dict) -> tuple:
    """``(origin, detail)``: pretrained here (recipe, selected step), imported (checksums) or initialised."""
    if "pretraining" in provenance:
        selection = provenance.get("selection") or {}
        step = f", checkpoint at step {selection['step']} ({selection.get('rule')})" if "step" in selection else ""
        return "pretrained", f"recipe {provenance['pretraining'].get('recipe')}{step}"
    checksums = {key: value for key, value in provenance.items() if "sha256" in key}
    if checksums:
        return "imported", "; ".join(f"{key} {json.dumps(value, sort_keys=True)}" for key, value in sorted(checksums.items()))
    if "init_seed" in provenance:
        return "initialised", f"random initialisation, seed {provenance['init_seed']}"
    return "given", ""


def _read_json(path, directory) -> dict:
    if not path.is_file():
        raise UserError(f"{directory}: not a utrbench model directory ({path.name} missing).")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise UserError(f"{path}: not valid JSON ({error.msg}, line {error.lineno}).") from None


def model_card(directory, model_id: str) -> dict:
    """The provenance row of one model directory."""
    directory = Path(directory)
    info_path, config_path = directory / "utrbench.json", directory / "config.json"
    info, config = (_read_json(path, directory) for path in (info_path, config_path))
    weights = directory / "model.safetensors"
    provenance = info.get("provenance") or {}
    kind, detail = origin(provenance)
    return {
        "id": model_id,
        "family": info.get("family", ""),
        "size": info.get("size", ""),
        "parameters": parameter_count(weights) if weights.is_file() else None,
        "tokenizer": ", ".join(name for name in TOKENIZER_FILES if (directory / name).is_file()),
        "context_tokens": config.get("max_position_embeddings"),
        "species_aware": bool(info.get("species")),
        "origin": kind,
        "provenance": detail,
        "study_name": info.get("study_name"),
    }
