"""Input records of the inference steps: sequences and the species id of each."""

from utrbench.errors import UserError
from utrbench.seq import read_fasta


def read_records(fasta) -> tuple[list, list]:
    """``(ids, sequences)`` of a FASTA, in file order; an empty file is an error."""
    records = read_fasta(fasta)
    if not records:
        raise UserError(f"{fasta}: no FASTA records.")
    return list(records), list(records.values())


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
