"""The interface every model family implements.

A *family* (``dnabert``, ``ntv2``, ``dnabert2``, ``statespace``, ``kmer``) is one module in
this package that defines a tokenizer, a config, a model and a :class:`Family` record, and
registers the record with :func:`utrbench.models.registry.register`. Nothing outside that
module branches on the family name: pretraining, embeddings, zero-shot probabilities and
fine-tuning talk to models only through the methods below.

Tokenizer
    ``encode(sequence) -> TokenizedSequence`` (ids with special tokens, and for every token the
    half-open nucleotide span it covers; specials get ``(-1, -1)``), ``decode(ids) -> str``,
    ``vocab_size``, the special ids ``pad_id``, ``mask_id``, ``cls_id``, ``sep_id``, ``unk_id``
    (``None`` where a family has none), ``special_ids``, ``max_tokens`` (context length in
    tokens, specials included), ``save(directory)``.

Model (a ``transformers.PreTrainedModel`` subclass mixing in :class:`MaskedLanguageModel`)
    ``encode(input_ids, attention_mask, species_ids) -> tuple of hidden states`` (the input
    embedding output first, the last entry is the final representation after any final norm),
    ``lm_logits(hidden, positions=None) -> logits``: the LM head on final hidden states
    ``[B, T, H]``; with a boolean ``positions [B, T]`` it is evaluated only there and returns
    ``[n_selected, V]`` in row-major order of the selected positions (a head that looks at
    neighbouring positions, like a convolution, gathers its window itself); without it returns
    ``[B, T, V]``. ``forward(input_ids, attention_mask, species_ids, labels)`` for training
    returns an object with ``loss`` (over ``labels != -100``) and ``logits`` (at those positions).

Species
    ``species_ids`` is a LongTensor ``[batch]`` of indices into the model's species list
    (sorted alphabetically, as the published species-aware model). Species-agnostic models accept
    and ignore it.
"""

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

IGNORE_INDEX = -100


@dataclass
class TokenizedSequence:
    """Token ids of one sequence and the nucleotide span ``[start, end)`` of every token."""

    ids: np.ndarray  # int64 [n_tokens]
    spans: np.ndarray  # int64 [n_tokens, 2]; (-1, -1) for special tokens

    def __len__(self):
        return len(self.ids)


@dataclass
class Family:
    """What the rest of the code needs to know about a model family.

    ``sizes`` maps a size name (at least ``tiny`` and ``base``) to config keyword arguments.
    ``new_tokenizer(config)`` builds the tokenizer that matches a config; ``load_tokenizer(dir)``
    reads it back from a model directory. ``load_published(dir)`` (optional) loads a published
    checkpoint that has no ``utrbench.json`` into our classes by parameter name.

    ``tokenization`` tells generic code (masking for pretraining, zero-shot marginalisation)
    how tokens map to nucleotides, without naming families:

    - ``overlapping_kmer``: token i covers nucleotides [i, i + k) (tokenizer has ``k``);
    - ``greedy_kmer``: non-overlapping k-mers with single-letter fallback (tokenizer has ``k``);
    - ``bpe``: variable-length tokens (spans from the tokenizer);
    - ``nucleotide``: one token per nucleotide;
    - ``spectrum``: no learned weights and no LM head (k-mer spectrum baseline).
    """

    name: str
    config_class: type
    model_class: type
    sizes: dict
    new_tokenizer: Callable
    load_tokenizer: Callable
    tokenization: str = "token"
    species_aware: bool = False
    load_published: Callable | None = None
    description: str = ""
    extra: dict = field(default_factory=dict)


class MaskedLanguageModel:
    """Mixin documenting the shared model API; families override these methods."""

    has_lm_head = True  # False for models that cannot predict tokens (zero-shot refuses them)

    def encode(self, input_ids, attention_mask=None, species_ids=None):  # pragma: no cover - interface
        raise NotImplementedError

    def lm_logits(self, hidden, positions=None):  # pragma: no cover - interface
        raise NotImplementedError

    def masked_lm_loss(self, hidden, labels):
        """Cross-entropy of the LM head over positions where ``labels != IGNORE_INDEX``.

        The head runs only at those positions, which is what makes pretraining and
        zero-shot scoring cheap for large vocabularies.
        """
        selected = labels != IGNORE_INDEX
        logits = self.lm_logits(hidden, positions=selected)
        return torch.nn.functional.cross_entropy(logits.float(), labels[selected]), logits


def mean_pool(hidden: torch.Tensor, real_tokens: torch.Tensor) -> torch.Tensor:
    """Mean of ``hidden [B, T, H]`` over positions where ``real_tokens [B, T]`` is true."""
    weights = real_tokens.to(hidden.dtype).unsqueeze(-1)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1)
