"""Streaming GTF reader (GENCODE/Ensembl GTF2.2, plain or gzip).

A GTF line has nine tab-separated columns; the ninth holds ``key "value";`` pairs.
Keys may repeat (GENCODE writes one ``tag`` per tag), so repeated keys become a
list; ``tag`` is always a list, even with a single tag, so callers can test
``"Ensembl_canonical" in record.attributes.get("tag", [])``.
"""

import gzip
import re
from pathlib import Path
from typing import NamedTuple

from utrbench.errors import UserError

_STRANDS = {"+", "-", "."}
# key "quoted value" or key bare_value (Ensembl writes e.g. `level 2`), nothing else.
_ATTRIBUTE = re.compile(r'^\s*([^\s"]+)\s+(?:"([^"]*)"|([^\s"]+))\s*$')


class GtfRecord(NamedTuple):
    """One GTF feature; ``start`` and ``end`` are 1-based and inclusive as in the file."""

    seqname: str
    source: str
    feature: str
    start: int
    end: int
    strand: str
    attributes: dict
    line_number: int


def open_text(path):
    """Open plain or gzip (bgzip) text by its magic bytes, not by its name."""
    with open(path, "rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def parse_attributes(text: str, where: str) -> dict:
    """Parse the ninth GTF column into ``{key: value}``; repeated keys and ``tag`` become lists."""
    attributes = {}
    for field in text.strip().split(";"):
        field = field.strip()
        if not field:
            continue
        match = _ATTRIBUTE.match(field)
        if match is None:
            raise UserError(f"{where}: attribute {field!r} is not a 'key \"value\"' pair.")
        key = match.group(1)
        value = match.group(2) if match.group(2) is not None else match.group(3)
        if key in attributes or key == "tag":
            previous = attributes.get(key, [])
            attributes[key] = (previous if isinstance(previous, list) else [previous]) + [value]
        else:
            attributes[key] = value
    return attributes


def iter_gtf(path, features=None):
    """Yield a :class:`GtfRecord` per feature line, optionally only for the ``features`` given.

    Comment lines (``#``) and blank lines are skipped. A line without nine columns,
    with non-integer or inverted coordinates, or an unknown strand raises
    :class:`UserError` naming the file and line number.
    """
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: file not found.")
    wanted = set(features) if features is not None else None
    try:
        with open_text(path) as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip() or line.startswith("#"):
                    continue
                where = f"{path}: line {number}"
                columns = line.rstrip("\n\r").split("\t")
                if len(columns) != 9:
                    raise UserError(f"{where} has {len(columns)} tab-separated columns, a GTF line needs 9.")
                seqname, source, feature, start, end, _score, strand, _frame, attributes = columns
                if wanted is not None and feature not in wanted:
                    continue
                try:
                    start, end = int(start), int(end)
                except ValueError:
                    raise UserError(f"{where}: start {start!r} or end {end!r} is not an integer.") from None
                if start < 1 or end < start:
                    raise UserError(f"{where}: interval {start}-{end} is not a valid 1-based interval.")
                if strand not in _STRANDS:
                    raise UserError(f"{where}: strand {strand!r} is not one of +, -, '.'.")
                yield GtfRecord(seqname, source, feature, start, end, strand,
                                parse_attributes(attributes, where), number)
    except (UnicodeDecodeError, EOFError, gzip.BadGzipFile) as error:
        raise UserError(f"{path}: not a readable GTF text file ({error}).") from None
