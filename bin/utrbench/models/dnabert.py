"""DNABERT: overlapping k-mer tokens and a plain BERT masked language model.

The published DNABERT-6 (Ji et al. 2021) is a native ``BertForMaskedLM`` over overlapping
6-mers, so the model here is that class with a config that knows its k; state-dict keys are
exactly transformers' (``bert.embeddings.*``, ``bert.encoder.*``, ``cls.predictions.*``) and
the published weights load by parameter name.
"""

from pathlib import Path

import numpy as np
from transformers import BertConfig, BertForMaskedLM

from utrbench.errors import UserError
from utrbench.models.base import Family, MaskedLanguageModel, TokenizedSequence, VocabularyFileTokenizer
from utrbench.models.checkpoints import load_weights_by_name, read_config, read_weights
from utrbench.models.registry import register
from utrbench.seq import check_sequence

# k-mer ids count in base 4 with this digit order (DNABERT's and NT's vocabularies, not ACGT).
KMER_ALPHABET = "ATCG"
_LETTER_CODES = np.full(256, -1, dtype=np.int64)
for _code, _letter in enumerate(KMER_ALPHABET):
    _LETTER_CODES[ord(_letter)] = _code


def letter_codes(sequence: str) -> np.ndarray:
    """2-bit codes (A=0, T=1, C=2, G=3) of an uppercase sequence; -1 for N."""
    return _LETTER_CODES[np.frombuffer(sequence.encode("ascii"), dtype=np.uint8)]


def kmer_values(codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Base-4 value of every k-mer window of ``codes``, and whether the window is N-free.

    Returns ``(values, valid)`` of length ``len(codes) - k + 1``; ``values`` is meaningless
    where ``valid`` is false.
    """
    windows = np.lib.stride_tricks.sliding_window_view(np.maximum(codes, 0), k)
    values = windows @ (4 ** np.arange(k - 1, -1, -1, dtype=np.int64))
    has_n = np.concatenate([[0], np.cumsum(codes < 0)])
    valid = (has_n[k:] - has_n[:-k]) == 0
    return values, valid


def all_kmers(k: int) -> list[str]:
    """All k-mers in base-4 order of :data:`KMER_ALPHABET` (AAA…A first, GGG…G last)."""
    digits = (np.arange(4**k)[:, None] // 4 ** np.arange(k - 1, -1, -1)) % 4
    letters = np.array(list(KMER_ALPHABET))[digits]
    return ["".join(row) for row in letters]


class OverlappingKmerTokenizer(VocabularyFileTokenizer):
    """DNABERT's tokenizer: every k-mer at stride 1, wrapped as ``[CLS] … [SEP]``.

    Vocabulary: ``[PAD] [UNK] [CLS] [SEP] [MASK]`` (ids 0-4), then all ``4**k`` k-mers at
    ``5 + base-4 value`` with digits A=0, T=1, C=2, G=3. A k-mer containing N is ``[UNK]``.
    Token ``i`` (0-based, after ``[CLS]``) covers nucleotides ``[i, i + k)``.
    """

    SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
    pad_id, unk_id, cls_id, sep_id, mask_id = range(5)

    def __init__(self, k: int, max_tokens: int = 512):
        if not 3 <= k <= 6:
            raise UserError(f"overlapping k-mer tokenizer: k must be 3 to 6, not {k}.")
        self.k = k
        self.max_tokens = max_tokens
        self.tokens = list(self.SPECIAL_TOKENS) + all_kmers(k)
        self.special_ids = list(range(len(self.SPECIAL_TOKENS)))

    def encode(self, sequence: str, where: str = "sequence") -> TokenizedSequence:
        """Ids ``[CLS] k-mers [SEP]`` and spans; ``where`` names the sequence in errors."""
        sequence = check_sequence(sequence, where)
        if len(sequence) < self.k:
            raise UserError(f"{where}: {len(sequence)} nt is shorter than one {self.k}-mer.")
        values, valid = kmer_values(letter_codes(sequence), self.k)
        kmer_ids = np.where(valid, values + len(self.SPECIAL_TOKENS), self.unk_id)
        ids = np.concatenate([[self.cls_id], kmer_ids, [self.sep_id]]).astype(np.int64)
        starts = np.arange(len(kmer_ids), dtype=np.int64)
        spans = np.full((len(ids), 2), -1, dtype=np.int64)
        spans[1:-1, 0] = starts
        spans[1:-1, 1] = starts + self.k
        return TokenizedSequence(ids=ids, spans=spans)

    def decode(self, ids) -> str:
        """The sequence behind consecutive k-mer tokens (``[PAD]``, ``[CLS]``, ``[SEP]`` dropped).

        Every remaining token stands for one k-mer at stride 1, so n tokens give ``n + k - 1``
        letters. A letter covered only by ``[UNK]`` or ``[MASK]`` tokens decodes as N.
        """
        ids = np.asarray(ids, dtype=np.int64)
        ids = ids[~np.isin(ids, [self.pad_id, self.cls_id, self.sep_id])]
        if len(ids) == 0:
            return ""
        is_kmer = ids >= len(self.SPECIAL_TOKENS)
        values = np.where(is_kmer, ids - len(self.SPECIAL_TOKENS), 0)
        digits = (values[:, None] // 4 ** np.arange(self.k - 1, -1, -1)) % 4  # [n, k]
        letters = np.full(len(ids) + self.k - 1, ord("N"), dtype=np.uint8)
        alphabet = np.frombuffer(KMER_ALPHABET.encode(), dtype=np.uint8)
        for offset in range(self.k):
            positions = np.flatnonzero(is_kmer) + offset
            letters[positions] = alphabet[digits[is_kmer, offset]]
        return letters.tobytes().decode("ascii")

    @classmethod
    def load(cls, directory, max_tokens: int = 512) -> "OverlappingKmerTokenizer":
        """Read ``vocab.txt``; k is the length of its first k-mer, and the file must match it."""
        path, tokens = cls.read_vocabulary(directory)
        if len(tokens) <= len(cls.SPECIAL_TOKENS):
            raise UserError(f"{path}: has {len(tokens)} tokens, too few for a k-mer vocabulary.")
        tokenizer = cls(len(tokens[len(cls.SPECIAL_TOKENS)]), max_tokens=max_tokens)
        tokenizer.check_vocabulary(path, tokens, f"{tokenizer.k}-mer", f"{tokenizer.vocab_size} for k = {tokenizer.k}")
        return tokenizer


# --- model ---


class DnabertConfig(BertConfig):
    """BERT configuration over overlapping k-mers; ``vocab_size`` follows from ``kmer``."""

    model_type = "dnabert"
    kmer: int = 6

    def __post_init__(self, **kwargs):
        self.vocab_size = len(OverlappingKmerTokenizer.SPECIAL_TOKENS) + 4**self.kmer
        super().__post_init__(**kwargs)


class DnabertForMaskedLM(MaskedLanguageModel, BertForMaskedLM):
    """transformers' ``BertForMaskedLM`` (same parameter names) behind the utrbench model API."""

    config_class = DnabertConfig

    def encode(self, input_ids, attention_mask=None, species_ids=None):
        """Embedding output and the output of every layer (post-LN BERT: the last is final)."""
        outputs = self.bert(input_ids, attention_mask=attention_mask, output_hidden_states=True)
        return outputs.hidden_states

    def lm_logits(self, hidden, positions=None):
        """The MLM head on ``hidden [B, T, H]``, or only at the true entries of ``positions``."""
        if positions is not None:
            hidden = hidden[positions]
        return self.cls(hidden)


# Keys of the published DNABERT checkpoints (transformers 2.x BertForMaskedLM) that our model
# does not have, and why each is safe to drop.
PUBLISHED_IGNORED_KEYS = (
    r"^bert\.pooler\.",  # older BertModel always built a pooler; the MLM never uses it
    r"^bert\.embeddings\.position_ids$",  # a constant buffer, rebuilt from the config
)


def load_published(directory):
    """A published DNABERT directory (``config.json``, ``vocab.txt``, weights) in our classes."""
    directory = Path(directory)
    published = read_config(directory)
    tokenizer = OverlappingKmerTokenizer.load(directory)
    fields = {key: value for key, value in published.items() if key in BertConfig.__dataclass_fields__}
    config = DnabertConfig(**{**fields, "kmer": tokenizer.k})
    if published.get("vocab_size", config.vocab_size) != config.vocab_size:
        raise UserError(
            f"{directory / 'config.json'}: vocab_size {published['vocab_size']} does not match the "
            f"{tokenizer.k}-mer vocabulary in vocab.txt ({config.vocab_size} tokens)."
        )
    model = DnabertForMaskedLM(config)
    load_weights_by_name(model, read_weights(directory), directory, PUBLISHED_IGNORED_KEYS)
    tokenizer.max_tokens = config.max_position_embeddings
    return model.eval(), tokenizer, []  # species-agnostic


def new_tokenizer(config):
    return OverlappingKmerTokenizer(config.kmer, max_tokens=config.max_position_embeddings)


def load_tokenizer(directory):
    config = DnabertConfig.from_pretrained(directory, local_files_only=True)
    return OverlappingKmerTokenizer.load(directory, max_tokens=config.max_position_embeddings)


FAMILY = register(
    Family(
        name="dnabert",
        config_class=DnabertConfig,
        model_class=DnabertForMaskedLM,
        sizes={
            "tiny": dict(kmer=6, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64),
            # DNABERT-6 as published (Ji et al. 2021; config.json of the release)
            "base": dict(kmer=6, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
        },
        new_tokenizer=new_tokenizer,
        load_tokenizer=load_tokenizer,
        tokenization="overlapping_kmer",
        load_published=load_published,
        description="DNABERT: BERT masked LM over overlapping k-mers (k = 3-6)",
    )
)
