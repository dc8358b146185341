"""Turn a downloaded checkpoint into a utrbench model directory, checking that nothing changed.

The source is a Hugging Face-style folder (``config.json``, ``model.safetensors`` or
``pytorch_model.bin``, tokenizer files) or the state-space study's ``config.json`` + ``model.pt``;
it is read by the family's ``load_published`` (by parameter name, pickles with
``weights_only=True``). The output holds safetensors weights, our config, the tokenizer and
``utrbench.json`` (family, species list, the SHA-256 of every source file, and the self-check).

Self-check: the written directory is loaded back the way every later step loads it, and its
logits and final hidden states on a fixed probe batch must equal those of the source weights
bit for bit; otherwise nothing is written.
"""

import hashlib
from pathlib import Path

import numpy as np
import torch

from utrbench.errors import UserError
from utrbench.io import atomic_output
from utrbench.models.registry import INFO_FILE, load_model, write_info, write_model_directory

# Two sequences of different lengths (so the batch is padded), with an N; long enough for any tokenizer.
PROBE_SEQUENCES = (
    "".join(np.random.RandomState(3).choice(list("ACGT"), 160)),
    "".join(np.random.RandomState(4).choice(list("ACGT"), 61)) + "N" + "".join(np.random.RandomState(5).choice(list("ACGT"), 30)),
)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def probe_outputs(loaded) -> tuple[np.ndarray, np.ndarray]:
    """Logits and final hidden states of :data:`PROBE_SEQUENCES` as one padded batch (last species)."""
    tokenizer = loaded.tokenizer
    encoded = [tokenizer.encode(sequence).ids for sequence in PROBE_SEQUENCES]
    length = max(map(len, encoded))
    ids = torch.full((len(encoded), length), tokenizer.pad_id, dtype=torch.long)
    for row, token_ids in enumerate(encoded):
        ids[row, : len(token_ids)] = torch.from_numpy(token_ids)
    attention = ids != tokenizer.pad_id
    species = torch.full((len(encoded),), max(len(loaded.info.species) - 1, 0), dtype=torch.long)
    with torch.no_grad():
        hidden = loaded.model.encode(ids, attention, species)[-1]
        return loaded.model.lm_logits(hidden).numpy(), hidden.numpy()


def import_model(source, family_name: str, out) -> dict:
    """Write ``out`` from the checkpoint folder ``source`` of ``family_name``; return its provenance."""
    source, out = Path(source), Path(out)
    if not source.is_dir():
        raise UserError(f"{source}: checkpoint folder not found.")
    if (source / INFO_FILE).exists():
        raise UserError(f"{source}: already a utrbench model directory ({INFO_FILE} present); use it as it is.")
    torch.manual_seed(0)  # the unused init of the model built before the weights are copied in
    loaded = load_model(source, family_name)
    expected = probe_outputs(loaded)
    files = {path.name: sha256_of(path) for path in sorted(source.iterdir()) if path.is_file()}
    loaded.info.provenance = {"imported_files_sha256": files}
    with atomic_output(out) as tmp:
        write_model_directory(loaded, tmp)
        reloaded = load_model(tmp)
        found = probe_outputs(reloaded)
        difference = max(float(np.abs(a - b).max()) for a, b in zip(found, expected))
        if not all(np.array_equal(a, b) for a, b in zip(found, expected)):
            raise UserError(
                f"{source}: the imported model's outputs differ from the checkpoint's by up to {difference:.3g}; nothing written."
            )
        loaded.info.provenance["self_check"] = {
            "probe_sequences": len(PROBE_SEQUENCES),
            "max_abs_difference": difference,
            "compared": "logits and final hidden states, padded batch",
        }
        write_info(loaded.info, tmp)
    return loaded.info.provenance
