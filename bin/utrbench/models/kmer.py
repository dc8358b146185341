"""k-mer spectrum baseline: a training-free "model" whose embedding is the k-mer frequency spectrum.

It goes through the same interface as the language models so that the embedding and task
steps need no special case. Tokens are DNABERT's overlapping k-mers
(:class:`~utrbench.models.dnabert.OverlappingKmerTokenizer`); the hidden state of a token is the
one-hot vector (dimension ``4**k``) of its k-mer, with columns in the tokenizer's k-mer order
(:func:`~utrbench.models.dnabert.all_kmers`: base 4 with digits A=0, T=1, C=2, G=3).

Special tokens and ``[UNK]`` have the zero vector. A k-mer that contains N is ``[UNK]``, which
is one of the tokenizer's ``special_ids``, so the mean over real tokens (attention mask set and
not a special id, the default pooling) is the frequency spectrum of the N-free k-mers: N-containing
k-mers are left out of numerator and denominator alike, the spectrum sums to 1, and a sequence
without any N-free k-mer has the zero vector.

The model has no parameters and no LM head (``has_lm_head = False``): pretraining and zero-shot
probabilities refuse it.
"""

import torch
import torch.nn.functional as F
from transformers import PreTrainedConfig, PreTrainedModel
from transformers.modeling_outputs import BaseModelOutput

from utrbench.errors import UserError
from utrbench.models.base import Family, MaskedLanguageModel
from utrbench.models.dnabert import OverlappingKmerTokenizer
from utrbench.models.registry import register

NUM_SPECIAL_TOKENS = len(OverlappingKmerTokenizer.SPECIAL_TOKENS)


class KmerSpectrumConfig(PreTrainedConfig):
    """k and the context length; ``vocab_size`` follows from k (the overlapping k-mer vocabulary)."""

    model_type = "utrbench_kmer"

    k: int = 6
    vocab_size: int = NUM_SPECIAL_TOKENS + 4**6
    max_tokens: int = 512  # one-hot states are 4**k wide, so long sequences are embedded in chunks

    def __post_init__(self, **kwargs):
        self.vocab_size = NUM_SPECIAL_TOKENS + 4**self.k
        super().__post_init__(**kwargs)


class KmerSpectrumModel(MaskedLanguageModel, PreTrainedModel):
    """Token ids to one-hot k-mer vectors; no parameters, no LM head."""

    config_class = KmerSpectrumConfig
    base_model_prefix = "kmer"
    main_input_name = "input_ids"
    has_lm_head = False

    def __init__(self, config: KmerSpectrumConfig):
        super().__init__(config)
        # Spectrum column of every token id (-1: specials and [UNK]). Being a persistent buffer,
        # it also gives the parameter-less model a state dict, without which save_pretrained
        # writes no weights file and from_pretrained cannot load the directory.
        columns = torch.arange(config.vocab_size) - NUM_SPECIAL_TOKENS
        self.register_buffer("kmer_column", columns.clamp(min=-1))
        self.post_init()

    # transformers reads these from the first parameter, and this model has none.
    @property
    def dtype(self) -> torch.dtype:
        return torch.float32

    @property
    def device(self) -> torch.device:
        return self.kmer_column.device

    def encode(self, input_ids, attention_mask=None, species_ids=None):
        """``(one_hot,)``: ``[B, T, 4**k]`` float32, zero for specials, ``[UNK]`` and padding."""
        columns = self.kmer_column[input_ids]
        is_kmer = columns >= 0
        if attention_mask is not None:
            is_kmer = is_kmer & attention_mask.bool()
        one_hot = F.one_hot(columns.clamp(min=0), 4**self.config.k).to(torch.float32)
        return (one_hot * is_kmer[..., None],)

    def _no_lm_head(self):
        return UserError(
            f"model family 'kmer' (k = {self.config.k} spectrum) has no LM head: it gives embeddings only, "
            "not token predictions, pretraining or zero-shot probabilities."
        )

    def lm_logits(self, hidden, positions=None):
        raise self._no_lm_head()

    def forward(self, input_ids, attention_mask=None, species_ids=None, labels=None, **kwargs):
        if labels is not None:
            raise self._no_lm_head()
        (one_hot,) = self.encode(input_ids, attention_mask)
        return BaseModelOutput(last_hidden_state=one_hot, hidden_states=(one_hot,))


def new_tokenizer(config):
    return OverlappingKmerTokenizer(config.k, max_tokens=config.max_tokens)


def load_tokenizer(directory):
    config = KmerSpectrumConfig.from_pretrained(directory, local_files_only=True)
    # a vocab.txt of another k is caught by registry.check_vocabulary (vocab_size differs)
    return OverlappingKmerTokenizer.load(directory, max_tokens=config.max_tokens)


FAMILY = register(
    Family(
        name="kmer",
        config_class=KmerSpectrumConfig,
        model_class=KmerSpectrumModel,
        sizes={"tiny": dict(k=3), "base": dict(k=6)},
        new_tokenizer=new_tokenizer,
        load_tokenizer=load_tokenizer,
        tokenization="spectrum",
        description="k-mer spectrum baseline: mean one-hot overlapping k-mer (training-free, no LM head)",
    )
)
