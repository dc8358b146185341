"""Readers and writers for the formats passed between steps (the metrics table is described in README.md).

All writers go through :func:`atomic_output`: data is written to a temporary name
beside the target and renamed into place only when complete, so an interrupted or
failed step never leaves a partial file that a later step (or ``-resume``) could
mistake for a result.
"""

import contextlib
import json
import os
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from utrbench import __version__
from utrbench.errors import UserError

METRICS_COLUMNS = ["task", "dataset", "subset", "model", "predictor", "metric", "value", "ci_low", "ci_high", "n"]


@contextlib.contextmanager
def atomic_output(path, suffix=None):
    """Yield a temporary path next to ``path``; rename it to ``path`` on success.

    Works for files and directories (the temporary name is only reserved, not
    created). On an exception the temporary file or directory is removed and the
    target is left untouched.
    """
    import shutil

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or ".tmp", dir=path.parent)
    os.close(handle)
    os.unlink(tmp)
    tmp = Path(tmp)
    try:
        yield tmp
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


def write_tsv(frame: pd.DataFrame, path, float_format="%.6g") -> None:
    """Write a tab-separated table with a header, atomically and reproducibly."""
    with atomic_output(path) as tmp:
        frame.to_csv(tmp, sep="\t", index=False, float_format=float_format, lineterminator="\n")


def read_tsv(path, required_columns=(), **kwargs) -> pd.DataFrame:
    """Read a TSV with a header, checking that ``required_columns`` are present."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: file not found.")
    try:
        frame = pd.read_csv(path, sep="\t", **kwargs)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: not a readable tab-separated table ({error}).") from None
    missing = [c for c in required_columns if c not in frame.columns]
    if missing:
        raise UserError(f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(map(str, frame.columns))}.")
    return frame


def write_metrics(rows, path) -> None:
    """Write the one metrics table format every task reports in (``METRICS_COLUMNS``)."""
    frame = pd.DataFrame(list(rows), columns=METRICS_COLUMNS)
    write_tsv(frame, path)


def read_metrics(path) -> pd.DataFrame:
    return read_tsv(path, required_columns=METRICS_COLUMNS)


def _string_dataset(group, name, values):
    group.create_dataset(name, data=np.array(list(values), dtype=object), dtype=h5py.string_dtype())


def _write_attrs(handle, attrs):
    handle.attrs["utrbench_version"] = __version__
    for key, value in sorted((attrs or {}).items()):
        handle.attrs[key] = json.dumps(value) if isinstance(value, (dict, list, tuple)) else value


def write_embeddings(path, ids, embeddings, attrs=None) -> None:
    """HDF5 with ``ids`` (str) and ``embeddings`` (float32 [n, d]) plus provenance attributes."""
    embeddings = np.asarray(embeddings, dtype=np.float32)
    if embeddings.ndim != 2 or len(ids) != embeddings.shape[0]:
        raise ValueError("embeddings must be [n, d] with one id per row")
    with atomic_output(path, suffix=".h5") as tmp:
        with h5py.File(tmp, "w", track_order=True) as handle:
            _string_dataset(handle, "ids", ids)
            handle.create_dataset("embeddings", data=embeddings)
            _write_attrs(handle, attrs)


def read_embeddings(path):
    """Return ``(ids, embeddings, attrs)`` from an embeddings HDF5."""
    path = Path(path)
    try:
        with h5py.File(path, "r") as handle:
            ids = [x.decode() if isinstance(x, bytes) else x for x in handle["ids"][()]]
            return ids, handle["embeddings"][()], dict(handle.attrs)
    except (OSError, KeyError) as error:
        raise UserError(f"{path}: not an embeddings HDF5 with 'ids' and 'embeddings' ({error}).") from None


def write_probabilities(path, ids, arrays, attrs=None, dtype=np.float32) -> None:
    """Per-nucleotide ACGT probabilities: ``ids``, ``offsets`` [n+1], ``probs`` [total, 4]."""
    lengths = np.array([len(a) for a in arrays], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    probs = np.concatenate(arrays).astype(dtype) if len(arrays) else np.zeros((0, 4), dtype)
    with atomic_output(path, suffix=".h5") as tmp:
        with h5py.File(tmp, "w", track_order=True) as handle:
            _string_dataset(handle, "ids", ids)
            handle.create_dataset("offsets", data=offsets)
            handle.create_dataset("probs", data=probs)
            _write_attrs(handle, attrs)


def read_probabilities(path):
    """Return ``(ids, {id: array [L, 4]}, attrs)`` from a per-nucleotide probability HDF5."""
    path = Path(path)
    try:
        with h5py.File(path, "r") as handle:
            ids = [x.decode() if isinstance(x, bytes) else x for x in handle["ids"][()]]
            offsets = handle["offsets"][()]
            probs = handle["probs"][()]
            attrs = dict(handle.attrs)
    except (OSError, KeyError) as error:
        raise UserError(f"{path}: not a probability HDF5 with 'ids', 'offsets' and 'probs' ({error}).") from None
    return ids, {i: probs[offsets[k]:offsets[k + 1]] for k, i in enumerate(ids)}, attrs


def write_nucleotide_embeddings(path, ids, arrays, attrs=None) -> None:
    """Per-nucleotide embeddings: ``ids``, ``offsets`` [n+1], ``embeddings`` float32 [total, d]."""
    lengths = np.array([len(a) for a in arrays], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    with atomic_output(path, suffix=".h5") as tmp:
        with h5py.File(tmp, "w", track_order=True) as handle:
            _string_dataset(handle, "ids", ids)
            handle.create_dataset("offsets", data=offsets)
            handle.create_dataset("embeddings", data=np.concatenate(arrays).astype(np.float32))
            _write_attrs(handle, attrs)


def read_nucleotide_embeddings(path):
    """Return ``(ids, {id: array [L, d]}, attrs)`` from a per-nucleotide embeddings HDF5."""
    path = Path(path)
    try:
        with h5py.File(path, "r") as handle:
            ids = [x.decode() if isinstance(x, bytes) else x for x in handle["ids"][()]]
            offsets, embeddings, attrs = handle["offsets"][()], handle["embeddings"][()], dict(handle.attrs)
    except (OSError, KeyError) as error:
        raise UserError(f"{path}: not a per-nucleotide embeddings HDF5 with 'ids', 'offsets' and 'embeddings' ({error}).") from None
    return ids, {i: embeddings[offsets[k]:offsets[k + 1]] for k, i in enumerate(ids)}, attrs


class InferenceWriter:
    """Incremental HDF5 writer of inference results, one block of records at a time.

    ``kind``: ``probs`` (per-nucleotide ``ids``, ``offsets`` [n+1], ``probs`` [total, 4]),
    ``nucleotide_embeddings`` (the same with ``embeddings`` [total, d]) or ``embeddings`` (pooled:
    ``ids``, ``embeddings`` [n, d]); the layouts of :func:`write_probabilities`,
    :func:`write_nucleotide_embeddings` and :func:`write_embeddings`. Datasets are chunked and
    grow with each :meth:`append`, so memory holds one block, never the whole file. The same
    sequence of appends gives the same bytes: a run over a whole FASTA and the merge of its shards
    (:mod:`utrbench.infer.shards`) append the same blocks and so write identical files. Use inside
    :func:`atomic_output`.
    """

    KINDS = {"probs": ("probs", True), "nucleotide_embeddings": ("embeddings", True), "embeddings": ("embeddings", False)}
    CHUNK_ROWS = 16384

    def __init__(self, path, kind, attrs=None, dtype=np.float32):
        if kind not in self.KINDS:
            raise ValueError(f"unknown inference output kind {kind!r}")
        self.values_name, self.ragged = self.KINDS[kind]
        self.dtype = np.dtype(dtype)
        self.handle = h5py.File(path, "w", track_order=True)
        _write_attrs(self.handle, attrs)
        self.handle.create_dataset("ids", shape=(0,), maxshape=(None,), chunks=(4096,), dtype=h5py.string_dtype())
        if self.ragged:
            self.handle.create_dataset("offsets", data=np.zeros(1, np.int64), maxshape=(None,), chunks=(4096,))
        self.values = None

    def append(self, ids, values) -> None:
        """Add records: ``values`` one ``[L, w]`` array per id (ragged kinds) or ``[n, d]`` rows."""
        if not len(ids):
            return
        if self.ragged:
            lengths = np.array([len(v) for v in values], dtype=np.int64)
            offsets = self.handle["offsets"]
            _extend(offsets, offsets[-1] + np.cumsum(lengths))
            values = np.concatenate(values)
        values = np.asarray(values, dtype=self.dtype)
        if values.ndim != 2 or (not self.ragged and len(values) != len(ids)):
            raise ValueError("inference values must be [rows, width] with one id per record")
        if self.values is None:
            self.values = self.handle.create_dataset(self.values_name, shape=(0, values.shape[1]), dtype=self.dtype,
                                                     maxshape=(None, values.shape[1]),
                                                     chunks=(self.CHUNK_ROWS, values.shape[1]))
        _extend(self.handle["ids"], np.array(list(ids), dtype=object))
        _extend(self.values, values)

    def close(self) -> None:
        if self.values is None:  # no records: an empty result is still a complete file
            width = 4 if self.values_name == "probs" else 0
            self.handle.create_dataset(self.values_name, shape=(0, width), dtype=self.dtype, maxshape=(None, width))
        self.handle.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _extend(dataset, rows) -> None:
    start = dataset.shape[0]
    dataset.resize(start + len(rows), axis=0)
    dataset[start:] = rows
