"""The interface every model family implements.

A *family* (``dnabert``, ``ntv2``, ``dnabert2``, ``statespace``) is one module in
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

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from transformers.modeling_outputs import MaskedLMOutput

from utrbench.errors import UserError

IGNORE_INDEX = -100


@dataclass
class TokenizedSequence:
    """Token ids of one sequence and the nucleotide span ``[start, end)`` of every token."""

    ids: np.ndarray  # int64 [n_tokens]
    spans: np.ndarray  # int64 [n_tokens, 2]; (-1, -1) for special tokens

    def __len__(self):
        return len(self.ids)


class VocabularyFileTokenizer:
    """Mixin for tokenizers whose vocabulary is the fixed list ``self.tokens`` (id = position).

    The list is stored as ``vocab.txt``, one token per line (line number = id + 1), which is the
    file format of the published DNABERT and NT releases.
    """

    VOCAB_FILE = "vocab.txt"

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    def save(self, directory) -> None:
        """Write ``vocab.txt``, one token per line."""
        (Path(directory) / self.VOCAB_FILE).write_text("\n".join(self.tokens) + "\n")

    @classmethod
    def read_vocabulary(cls, directory) -> tuple[Path, list]:
        """The path of ``directory``'s ``vocab.txt`` and the tokens in it."""
        path = Path(directory) / cls.VOCAB_FILE
        if not path.exists():
            raise UserError(f"{path}: vocabulary file not found.")
        return path, path.read_text().split()

    def check_vocabulary(self, path, tokens: list, name: str, expected_count) -> None:
        """UserError unless ``tokens`` read from ``path`` are this tokenizer's, naming the first wrong line.

        ``name`` says which vocabulary it should be and ``expected_count`` how many tokens it has.
        """
        for line, (found, expected) in enumerate(zip(tokens, self.tokens), start=1):
            if found != expected:
                raise UserError(f"{path}: line {line} is {found!r}, expected {expected!r} of the {name} vocabulary.")
        if len(tokens) != self.vocab_size:
            raise UserError(f"{path}: has {len(tokens)} tokens, expected {expected_count}.")


@dataclass
class Family:
    """What the rest of the code needs to know about a model family.

    ``sizes`` maps a size name (at least ``tiny`` and ``base``) to config keyword arguments.
    ``new_tokenizer(config)`` builds the tokenizer that matches a config; ``load_tokenizer(dir)``
    reads it back from a model directory. ``load_published(dir)`` (optional) loads a published
    checkpoint that has no ``utrbench.json`` into our classes by parameter name and returns
    ``(model, tokenizer, species)``, the species list being the model's species ids in order
    (empty for species-agnostic models).

    ``tokenization`` tells generic code (masking for pretraining, zero-shot marginalisation)
    how tokens map to nucleotides, without naming families:

    - ``overlapping_kmer``: token i covers nucleotides [i, i + k) (tokenizer has ``k``);
    - ``greedy_kmer``: non-overlapping k-mers with single-letter fallback (tokenizer has ``k``);
    - ``bpe``: variable-length tokens (spans from the tokenizer);
    - ``nucleotide``: one token per nucleotide.
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


class MaskedLanguageModel:
    """Mixin with the shared model API: families implement ``encode`` and ``lm_logits``.

    List it before the ``transformers`` base class (``class M(MaskedLanguageModel, PreTrainedModel)``)
    so that its ``forward`` is the one used; it defines no ``__init__``.
    """

    def encode(self, input_ids, attention_mask=None, species_ids=None):  # pragma: no cover - interface
        raise NotImplementedError

    def lm_logits(self, hidden, positions=None):  # pragma: no cover - interface
        raise NotImplementedError

    def forward(self, input_ids, attention_mask=None, species_ids=None, labels=None, **kwargs):
        """Masked-LM loss over ``labels != -100`` and the logits there; all logits without labels."""
        hidden = self.encode(input_ids, attention_mask, species_ids)[-1]
        if labels is None:
            return MaskedLMOutput(logits=self.lm_logits(hidden))
        loss, logits = self.masked_lm_loss(hidden, labels)
        return MaskedLMOutput(loss=loss, logits=logits)

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
