"""The DNA alphabet every model consumes: uppercase A, C, G, T and N."""

import re

_COMPLEMENT = str.maketrans("ACGTNacgtn", "TGCANtgcan")
_INVALID = re.compile(r"[^ACGTN]")


def reverse_complement(sequence: str) -> str:
    """Reverse complement of an ACGTN string (case preserved)."""
    return sequence.translate(_COMPLEMENT)[::-1]


def check_sequence(sequence: str, where: str) -> str:
    """Return ``sequence`` uppercased, or raise UserError naming ``where`` and the first bad letter."""
    from utrbench.errors import UserError

    upper = sequence.upper()
    if upper.isascii() and not upper.encode("ascii").translate(None, b"ACGTN"):
        return upper  # the common case, checked by one C pass; the regex only names what is wrong
    bad = _INVALID.search(upper)
    if bad:
        raise UserError(
            f"{where}: letter {bad.group()!r} at position {bad.start() + 1} is not one of A, C, G, T, N."
        )
    return upper
