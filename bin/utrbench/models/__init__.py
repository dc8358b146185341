"""Model families behind one API; see :mod:`utrbench.models.base` for the interface."""

from utrbench.models.registry import (
    LoadedModel,
    ModelInfo,
    families,
    get_family,
    init_model,
    load_model,
    read_species_file,
    save_model,
)

__all__ = [
    "LoadedModel",
    "ModelInfo",
    "families",
    "get_family",
    "init_model",
    "load_model",
    "read_species_file",
    "save_model",
]
