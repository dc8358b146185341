"""Nucleotide Transformer v2: greedy non-overlapping 6-mers and ESM with a gated feed-forward.

NT-v2 (Dalla-Torre et al. 2024) ships its own ESM code; it differs from transformers' native
``EsmForMaskedLM`` only in the feed-forward, which is a bias-free SwiGLU. The model here is the
native class with those two modules swapped (same attribute names), so published checkpoints
load by parameter name.
"""

from pathlib import Path

import numpy as np
from torch import nn
from transformers import EsmConfig, EsmForMaskedLM

from utrbench.errors import UserError
from utrbench.models.base import Family, MaskedLanguageModel, TokenizedSequence, VocabularyFileTokenizer
from utrbench.models.checkpoints import load_weights_by_name, read_config, read_weights
from utrbench.models.dnabert import all_kmers, kmer_values, letter_codes
from utrbench.models.registry import register
from utrbench.seq import check_sequence

KMER = 6
PUBLIC_VOCAB_SIZE = 4107  # the public NT-v2 vocabulary
UTR_VOCAB_SIZE = 4108  # Vilov & Heinig's 3'UTR NT adds NNNNNN


class GreedyKmerTokenizer(VocabularyFileTokenizer):
    """NT's tokenizer: left to right, a 6-mer when the next 6 letters are ACGT, else one letter.

    Equivalent to the regex ``[ACGT]{6}|[ACGTN]``: inside a run of r ACGT letters the first
    ``6 * (r // 6)`` letters become 6-mers and the rest single letters; N is a single letter
    (or, with the 4,108-token vocabulary, runs of N are chunked into ``NNNNNN`` the same way,
    as the longest-match tokenizer of that model does). Only ``<cls>`` is prepended.

    Vocabulary: ``<unk> <pad> <mask> <cls> <eos> <bos>`` (0-5), 6-mers at ``6 + base-4 value``
    (digits A, T, C, G), then ``A T C G N`` (4102-4106) and optionally ``NNNNNN`` (4107).
    """

    SPECIAL_TOKENS = ("<unk>", "<pad>", "<mask>", "<cls>", "<eos>", "<bos>")
    unk_id, pad_id, mask_id, cls_id, eos_id, bos_id = range(6)
    sep_id = None  # NT appends no end-of-sequence token
    k = KMER

    def __init__(self, vocab_size: int = PUBLIC_VOCAB_SIZE, max_tokens: int = 2048):
        if vocab_size not in (PUBLIC_VOCAB_SIZE, UTR_VOCAB_SIZE):
            raise UserError(
                f"NT tokenizer: vocabulary size must be {PUBLIC_VOCAB_SIZE} or {UTR_VOCAB_SIZE} (with NNNNNN), not {vocab_size}."
            )
        self.tokens = list(self.SPECIAL_TOKENS) + all_kmers(KMER) + list("ATCGN")
        self.single_letter_id = len(self.SPECIAL_TOKENS) + 4**KMER  # id of "A"; then T, C, G, N
        self.n_run_id = None
        if vocab_size == UTR_VOCAB_SIZE:
            self.n_run_id = len(self.tokens)
            self.tokens.append("N" * KMER)
        self.max_tokens = max_tokens
        self.special_ids = list(range(len(self.SPECIAL_TOKENS)))

    def encode(self, sequence: str, where: str = "sequence") -> TokenizedSequence:
        """Ids ``<cls>`` + greedy tokens, and each token's nucleotide span."""
        sequence = check_sequence(sequence, where)
        codes = letter_codes(sequence)
        is_n = codes < 0
        chunked = ~is_n if self.n_run_id is None else np.ones(len(codes), dtype=bool)
        offset, run_length = _offsets_in_runs(is_n)
        in_full_chunk = chunked & (offset < KMER * (run_length // KMER))
        starts = np.flatnonzero(~in_full_chunk | (offset % KMER == 0))
        is_chunk = in_full_chunk[starts]
        ids = np.where(is_n[starts], self.single_letter_id + 4, self.single_letter_id + codes[starts])
        if len(codes) >= KMER:
            values, _ = kmer_values(codes, KMER)
            chunk_starts = starts[is_chunk]
            ids[is_chunk] = np.where(is_n[chunk_starts], self.n_run_id or 0, len(self.SPECIAL_TOKENS) + values[chunk_starts])
        spans = np.stack([starts, starts + np.where(is_chunk, KMER, 1)], axis=1)
        ids = np.concatenate([[self.cls_id], ids]).astype(np.int64)
        spans = np.concatenate([[[-1, -1]], spans]).astype(np.int64)
        return TokenizedSequence(ids=ids, spans=spans)

    def decode(self, ids) -> str:
        """Concatenated token strings; ``<cls>``, ``<pad>``, ``<eos>``, ``<bos>`` are dropped.

        ``<mask>`` and ``<unk>`` decode as NNNNNN: their length is unknown, and the tokens NT
        masks in pretraining are 6-mers.
        """
        ids = np.asarray(ids, dtype=np.int64)
        ids = ids[~np.isin(ids, [self.cls_id, self.pad_id, self.eos_id, self.bos_id])]
        strings = np.array(self.tokens, dtype=object)[ids]
        strings[np.isin(ids, [self.mask_id, self.unk_id])] = "N" * KMER
        return "".join(strings)

    @classmethod
    def load(cls, directory, max_tokens: int = 2048) -> "GreedyKmerTokenizer":
        """Read ``vocab.txt`` and check it is NT's vocabulary (4,107 or 4,108 tokens)."""
        path, tokens = cls.read_vocabulary(directory)
        tokenizer = cls(len(tokens) if len(tokens) == UTR_VOCAB_SIZE else PUBLIC_VOCAB_SIZE, max_tokens=max_tokens)
        tokenizer.check_vocabulary(path, tokens, "NT", f"{PUBLIC_VOCAB_SIZE} or {UTR_VOCAB_SIZE}")
        return tokenizer


def _offsets_in_runs(is_n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each position, its offset inside its run of ACGT (or of N) letters, and that run's length."""
    position = np.arange(len(is_n))
    boundary = np.ones(len(is_n), dtype=bool)
    boundary[1:] = is_n[1:] != is_n[:-1]
    run_start = np.maximum.accumulate(np.where(boundary, position, 0))
    run_end = np.empty_like(position)  # exclusive end of each position's run
    last = np.ones(len(is_n), dtype=bool)
    last[:-1] = boundary[1:]
    run_end[::-1] = np.minimum.accumulate(np.where(last, position + 1, len(is_n))[::-1])
    return position - run_start, run_end - run_start


# --- model ---


class NtConfig(EsmConfig):
    """ESM configuration with NT-v2's defaults (rotary, pre-LN, no token dropout, untied head)."""

    model_type = "ntv2"
    vocab_size: int | None = PUBLIC_VOCAB_SIZE
    pad_token_id: int | None = 1
    mask_token_id: int | None = 2
    max_position_embeddings: int = 2050
    hidden_dropout_prob: float | None = 0.0
    attention_probs_dropout_prob: float | None = 0.0
    position_embedding_type: str | None = "rotary"
    emb_layer_norm_before: bool | None = False
    token_dropout: bool | None = False
    tie_word_embeddings: bool = False
    add_bias_fnn: bool = False  # NT-v2's feed-forward has no biases; NT-v1 (not supported) had them


class NtGatedIntermediate(nn.Module):
    """SwiGLU: one bias-free projection to 2·I, SiLU of the first half times the second half."""

    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, 2 * config.intermediate_size, bias=False)

    def forward(self, hidden_states):
        gate, value = self.dense(hidden_states).chunk(2, dim=-1)
        return nn.functional.silu(gate) * value


class NtGatedOutput(nn.Module):
    """Bias-free projection back to H, dropout, residual (ESM is pre-LN: no norm here)."""

    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states, input_tensor):
        return self.dropout(self.dense(hidden_states)) + input_tensor


class NtForMaskedLM(MaskedLanguageModel, EsmForMaskedLM):
    """transformers' ``EsmForMaskedLM`` with NT-v2's gated feed-forward, behind the utrbench API."""

    config_class = NtConfig

    def __init__(self, config):
        super().__init__(config)
        for layer in self.esm.encoder.layer:
            layer.intermediate = NtGatedIntermediate(config)
            layer.output = NtGatedOutput(config)
        # ESM's protein contact head reads attention maps; NT never trained it.
        del self.esm.contact_head
        self.post_init()

    def encode(self, input_ids, attention_mask=None, species_ids=None):
        """Embedding output and every layer's output; the last is after ``emb_layer_norm_after``."""
        outputs = self.esm(input_ids, attention_mask=attention_mask, output_hidden_states=True)
        return outputs.hidden_states

    def lm_logits(self, hidden, positions=None):
        """The LM head on ``hidden [B, T, H]``, or only at the true entries of ``positions``."""
        if positions is not None:
            hidden = hidden[positions]
        return self.lm_head(hidden)


# Keys NT's own modelling file always writes that our model does not have, and why each is dropped.
PUBLISHED_IGNORED_KEYS = (
    r"^esm\.embeddings\.position_embeddings\.weight$",  # absolute table built but unused under rotary
    r"rotary_embeddings\.inv_freq$",  # a buffer recomputed from rope_theta
    r"^esm\.contact_head\.",  # protein contact head, untrained in NT
)


def load_published(directory):
    """A published NT-v2 directory (``config.json``, ``vocab.txt``, weights) in our classes."""
    directory = Path(directory)
    published = read_config(directory)
    if published.get("add_bias_fnn", True):
        raise UserError(
            f"{directory / 'config.json'}: add_bias_fnn is not false; only NT-v2 checkpoints "
            f"(bias-free gated feed-forward) are supported."
        )
    if published.get("position_embedding_type") != "rotary":
        raise UserError(f"{directory / 'config.json'}: position_embedding_type is not 'rotary'; not an NT-v2 checkpoint.")
    tokenizer = GreedyKmerTokenizer.load(directory)
    fields = {key: value for key, value in published.items() if key in NtConfig.__dataclass_fields__}
    config = NtConfig(**fields)
    if config.vocab_size != tokenizer.vocab_size:
        raise UserError(
            f"{directory / 'config.json'}: vocab_size {config.vocab_size} does not match the "
            f"{tokenizer.vocab_size} tokens of vocab.txt."
        )
    model = NtForMaskedLM(config)
    load_weights_by_name(model, read_weights(directory), directory, PUBLISHED_IGNORED_KEYS)
    tokenizer.max_tokens = max_tokens(config)
    return model.eval(), tokenizer, []  # species-agnostic


def max_tokens(config) -> int:
    """Context length in tokens: ESM reserves two of ``max_position_embeddings`` (2050 -> 2048)."""
    return config.max_position_embeddings - 2


def new_tokenizer(config):
    return GreedyKmerTokenizer(config.vocab_size, max_tokens=max_tokens(config))


def load_tokenizer(directory):
    config = NtConfig.from_pretrained(directory, local_files_only=True)
    return GreedyKmerTokenizer.load(directory, max_tokens=max_tokens(config))


def _size(layers, hidden):
    """NT-v2 sizes: 16 heads, FFN I = 4H (configs shipped as config_v2-*.json)."""
    return dict(num_hidden_layers=layers, hidden_size=hidden, intermediate_size=4 * hidden, num_attention_heads=16)


FAMILY = register(
    Family(
        name="ntv2",
        config_class=NtConfig,
        model_class=NtForMaskedLM,
        sizes={
            "tiny": dict(num_hidden_layers=2, hidden_size=32, intermediate_size=64, num_attention_heads=2, max_position_embeddings=514),
            "base": _size(22, 512),  # = v2-100m
            "50m": _size(12, 512),
            "100m": _size(22, 512),
            "250m": _size(24, 768),
            "500m": _size(29, 1024),
        },
        new_tokenizer=new_tokenizer,
        load_tokenizer=load_tokenizer,
        tokenization="greedy_kmer",
        load_published=load_published,
        description="Nucleotide Transformer v2: ESM with rotary positions and a SwiGLU feed-forward",
    )
)
