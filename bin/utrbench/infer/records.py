"""Input records of the inference steps: sequences and the species id of each."""

from utrbench.errors import UserError
from utrbench.seq import iter_fasta


def iter_records(fasta):
    """``(id, sequence)`` of a FASTA in file order, streamed; an empty file or a repeated id is an error."""
    seen = set()
    for name, sequence in iter_fasta(fasta):
        if name in seen:
            raise UserError(f"{fasta}: record id {name!r} occurs more than once.")
        seen.add(name)
        yield name, sequence
    if not seen:
        raise UserError(f"{fasta}: no FASTA records.")


def species_ids(info, ids, species=None, from_id=False, where="") -> list:
    """Species id of every record: one ``species`` name for the run, or the part of each id after
    its last ':' (the dataset's ``>utr_id:species`` headers); 0 for species-agnostic models."""
    if species and from_id:
        raise UserError("give either --species or --species-from-id, not both.")
    if from_id:
        names = []
        for record in ids:
            if ":" not in record:
                raise UserError(f"{where}: record {record} has no ':species' suffix for --species-from-id.")
            names.append(record.rsplit(":", 1)[1])
        return [info.species_index(name, f"{where}: record {record}") for name, record in zip(names, ids)]
    index = info.species_index(species, where) if species else 0
    return [index] * len(ids)
