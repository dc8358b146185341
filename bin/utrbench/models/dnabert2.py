"""DNABERT-2: the published BPE tokenizer and a MosaicBERT re-implementation (ALiBi, gated GELU FFN).

The published DNABERT-2-117M exists only as remote code (``bert_layers.py``), which this pipeline never
runs. This module re-implements the architecture with the checkpoint's module names, so the published
``pytorch_model.bin`` loads by parameter name (:func:`load_published`), and so do our own checkpoints
through ``from_pretrained``.

Architecture (post-LN BERT without position embeddings):

- embeddings: word + token type 0 -> LayerNorm -> dropout;
- attention: fused ``Wqkv``, scores / sqrt(d) plus the symmetric ALiBi bias ``-slope_h * |i - j|``
  and a key-padding bias, computed by ``torch.nn.functional.scaled_dot_product_attention``;
- feed-forward: ``gated_layers`` (H -> 2I, no bias) -> GELU(first half) * second half -> dropout
  -> ``wo`` -> ``layernorm(x + residual)``;
- MLM head: ``cls.predictions.transform`` (dense, GELU, LayerNorm) and a decoder tied to the word
  embeddings, with its own bias.
"""

import json
import math
from pathlib import Path

import numpy as np
import torch
from huggingface_hub.dataclasses import strict
from tokenizers import Tokenizer
from torch import nn
from transformers import BertConfig, PreTrainedModel
from transformers.activations import ACT2FN

from utrbench.errors import UserError
from utrbench.models.base import Family, MaskedLanguageModel, TokenizedSequence
from utrbench.models.checkpoints import load_weights_by_name, read_config, read_weights
from utrbench.models.registry import register

PUBLISHED_TOKENIZER_DIR = Path(__file__).parent / "data" / "dnabert2"
TOKENIZER_FILE = "tokenizer.json"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
SPECIAL_TOKEN_KEYS = ("unk_token", "cls_token", "sep_token", "pad_token", "mask_token")

# Keys of the published checkpoint that our model does not have, and why each is safe to drop.
PUBLISHED_IGNORED_KEYS = (
    # the pooler of the sequence-classification model; the MLM never uses it (embeddings are
    # pooled from hidden states)
    r"^bert\.pooler\.dense\.(weight|bias)$",
)


# ----------------------------------------------------------------------------------------------------
# Tokenizer
# ----------------------------------------------------------------------------------------------------


class DNABert2Tokenizer:
    """The published DNABERT-2 BPE tokenizer (``tokenizers``), with nucleotide spans per token.

    Sequences are uppercased first (the vocabulary is uppercase and has no normalizer); every N
    becomes one ``[UNK]`` covering that one nucleotide. ``max_tokens`` is the context length the
    model was built for (ALiBi itself has no hard limit).
    """

    def __init__(self, tokenizer_json: str, special_tokens: dict, max_tokens: int = 512):
        self._json = tokenizer_json
        self._tokenizer = Tokenizer.from_str(tokenizer_json)
        self._special_tokens = {key: special_tokens[key] for key in SPECIAL_TOKEN_KEYS}
        self.max_tokens = int(max_tokens)
        ids = {key: self._tokenizer.token_to_id(token) for key, token in self._special_tokens.items()}
        missing = [self._special_tokens[key] for key, value in ids.items() if value is None]
        if missing:
            raise UserError(f"DNABERT-2 tokenizer: special token(s) {', '.join(missing)} not in the vocabulary.")
        self.unk_id, self.cls_id, self.sep_id = ids["unk_token"], ids["cls_token"], ids["sep_token"]
        self.pad_id, self.mask_id = ids["pad_token"], ids["mask_token"]
        self.special_ids = sorted(ids.values())
        self.vocab_size = self._tokenizer.get_vocab_size()

    @classmethod
    def from_directory(cls, directory, max_tokens: int | None = None) -> "DNABert2Tokenizer":
        """Read ``tokenizer.json`` and ``tokenizer_config.json`` (special-token strings) from a folder."""
        directory = Path(directory)
        tokenizer_path, config_path = directory / TOKENIZER_FILE, directory / TOKENIZER_CONFIG_FILE
        for path in (tokenizer_path, config_path):
            if not path.exists():
                raise UserError(f"{path}: DNABERT-2 tokenizer file not found.")
        try:
            settings = json.loads(config_path.read_text())
        except json.JSONDecodeError as error:
            raise UserError(f"{config_path}: not valid JSON ({error}).") from None
        missing = [key for key in SPECIAL_TOKEN_KEYS if key not in settings]
        if missing:
            raise UserError(f"{config_path}: missing special token(s) {', '.join(missing)}.")
        if max_tokens is None:
            max_tokens = settings.get("model_max_length", 512)
        try:
            return cls(tokenizer_path.read_text(), settings, max_tokens)
        except UserError:
            raise
        except Exception as error:  # tokenizers reports a malformed file as a bare Exception
            raise UserError(f"{tokenizer_path}: not a readable tokenizers file ({error}).") from None

    def encode(self, sequence: str) -> TokenizedSequence:
        """``[CLS] tokens [SEP]`` ids and the nucleotide span of every token (specials: (-1, -1))."""
        encoding = self._tokenizer.encode(sequence.upper())
        spans = np.array(encoding.offsets, dtype=np.int64).reshape(-1, 2)
        spans[np.array(encoding.special_tokens_mask, dtype=bool)] = -1
        return TokenizedSequence(ids=np.array(encoding.ids, dtype=np.int64), spans=spans)

    def decode(self, ids) -> str:
        """The nucleotides behind ``ids``: specials dropped, ``[UNK]`` read as N."""
        letters = []
        for token_id in np.asarray(ids).tolist():
            if token_id == self.unk_id:
                letters.append("N")
            elif token_id not in self.special_ids:
                letters.append(self._tokenizer.id_to_token(token_id))
        return "".join(letters)

    def save(self, directory) -> None:
        """Write the tokenizer file unchanged and a ``tokenizer_config.json`` with the special tokens."""
        directory = Path(directory)
        (directory / TOKENIZER_FILE).write_text(self._json)
        settings = dict(self._special_tokens, tokenizer_class="PreTrainedTokenizerFast", model_max_length=self.max_tokens)
        (directory / TOKENIZER_CONFIG_FILE).write_text(json.dumps(settings, indent=2, sort_keys=True) + "\n")


def new_tokenizer(config) -> DNABert2Tokenizer:
    """The published tokenizer shipped with the package, sized to ``config``'s context."""
    return DNABert2Tokenizer.from_directory(PUBLISHED_TOKENIZER_DIR, max_tokens=config.max_position_embeddings)


def load_tokenizer(directory) -> DNABert2Tokenizer:
    return DNABert2Tokenizer.from_directory(directory)


# ----------------------------------------------------------------------------------------------------
# Config
# ----------------------------------------------------------------------------------------------------


@strict
class DNABert2Config(BertConfig):
    """BERT config with DNABERT-2 defaults; pad id 3 is the tokenizer's ``[PAD]``.

    The published config says ``pad_token_id`` 0, which is ``[UNK]`` in the published tokenizer;
    :func:`load_published` takes the pad id from the tokenizer instead.
    ``max_position_embeddings`` only sets the tokenizer's context length: there are no position
    embeddings, and the ALiBi bias is built for each input length (so the published
    ``alibi_starting_size``, a cache size, is not needed).
    """

    model_type = "utrbench_dnabert2"

    attention_probs_dropout_prob: float | int = 0.0
    vocab_size: int = 4096
    pad_token_id: int | None = 3


# ----------------------------------------------------------------------------------------------------
# Layers
# ----------------------------------------------------------------------------------------------------


def alibi_slopes(num_heads: int) -> torch.Tensor:
    """ALiBi head slopes (Press et al.), as MosaicBERT computes them.

    For a power of two n the slopes are the geometric series starting at 2^(-8/n) with that ratio
    (8 heads: 1/2 ... 1/256). Otherwise the series of the largest power of two below n, followed by
    every other slope of the series for twice that power (12 heads: 8-head series, then
    2^-0.5, 2^-1.5, 2^-2.5, 2^-3.5).
    """

    def power_of_two_series(n):
        start = 2.0 ** (-8.0 / n)
        return [start ** (i + 1) for i in range(n)]

    closest = 2 ** math.floor(math.log2(num_heads))
    slopes = power_of_two_series(closest)
    if closest < num_heads:
        slopes += power_of_two_series(2 * closest)[0::2][: num_heads - closest]
    return torch.tensor(slopes, dtype=torch.float32)


def attention_bias(attention_mask: torch.Tensor, num_heads: int, dtype: torch.dtype) -> torch.Tensor:
    """Additive attention bias ``[B or 1, heads, T, T]``: ALiBi ``-slope_h * |i - j|`` plus key padding.

    Padded keys get the dtype's most negative value, so they receive exactly zero weight and the
    hidden states of real positions do not depend on how much padding follows.
    """
    length = attention_mask.shape[1]
    positions = torch.arange(length, device=attention_mask.device)
    distance = (positions[None, :] - positions[:, None]).abs().to(dtype)
    slopes = alibi_slopes(num_heads).to(device=attention_mask.device, dtype=dtype)
    alibi = -slopes[:, None, None] * distance  # [heads, T, T]
    if bool(attention_mask.all()):
        # No padding: one [1, heads, T, T] bias broadcast over the batch, so every layer's attention
        # reads B times less bias memory than a materialised [B, heads, T, T] one.
        return alibi[None]
    padding = torch.zeros(attention_mask.shape, dtype=dtype, device=attention_mask.device)
    padding = padding.masked_fill(~attention_mask.bool(), torch.finfo(dtype).min)
    return alibi[None] + padding[:, None, None, :]


class DNABert2Embeddings(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids):
        # Every input is a single segment, so the token type is always 0.
        embeddings = self.word_embeddings(input_ids) + self.token_type_embeddings.weight[0]
        return self.dropout(self.LayerNorm(embeddings))


class DNABert2SelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        if config.hidden_size % config.num_attention_heads:
            raise ValueError("hidden_size must be a multiple of num_attention_heads")
        self.num_heads = config.num_attention_heads
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.dropout_prob = config.attention_probs_dropout_prob
        self.Wqkv = nn.Linear(config.hidden_size, 3 * config.hidden_size)

    def forward(self, hidden, bias):
        batch, length, width = hidden.shape
        # Wqkv rows are ordered (q | k | v), each split into heads: the published layout.
        qkv = self.Wqkv(hidden).view(batch, length, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        context = nn.functional.scaled_dot_product_attention(
            qkv[0], qkv[1], qkv[2], attn_mask=bias, dropout_p=self.dropout_prob if self.training else 0.0
        )
        return context.transpose(1, 2).reshape(batch, length, width)


class DNABert2SelfOutput(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden, residual):
        return self.LayerNorm(self.dropout(self.dense(hidden)) + residual)


class DNABert2Attention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.self = DNABert2SelfAttention(config)
        self.output = DNABert2SelfOutput(config)

    def forward(self, hidden, bias):
        return self.output(self.self(hidden, bias), hidden)


class DNABert2GatedMLP(nn.Module):
    """Gated-GELU feed-forward with a post-LayerNorm residual (MosaicBERT ``BertGatedLinearUnitMLP``)."""

    def __init__(self, config):
        super().__init__()
        self.intermediate_size = config.intermediate_size
        self.gated_layers = nn.Linear(config.hidden_size, 2 * config.intermediate_size, bias=False)
        self.act = nn.GELU(approximate="none")
        self.wo = nn.Linear(config.intermediate_size, config.hidden_size)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden):
        gate, value = self.gated_layers(hidden).split(self.intermediate_size, dim=-1)
        return self.layernorm(self.wo(self.dropout(self.act(gate) * value)) + hidden)


class DNABert2Layer(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.attention = DNABert2Attention(config)
        self.mlp = DNABert2GatedMLP(config)

    def forward(self, hidden, bias):
        return self.mlp(self.attention(hidden, bias))


class DNABert2Encoder(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.layer = nn.ModuleList(DNABert2Layer(config) for _ in range(config.num_hidden_layers))


class DNABert2Body(nn.Module):
    """``bert.*`` of the checkpoint: embeddings and the layer stack (the MLM has no pooler)."""

    def __init__(self, config):
        super().__init__()
        self.embeddings = DNABert2Embeddings(config)
        self.encoder = DNABert2Encoder(config)


class DNABert2PredictionHeadTransform(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.transform_act_fn = ACT2FN[config.hidden_act]
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden):
        return self.LayerNorm(self.transform_act_fn(self.dense(hidden)))


class DNABert2LMPredictionHead(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.transform = DNABert2PredictionHeadTransform(config)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)  # weight tied to word embeddings

    def forward(self, hidden):
        return self.decoder(self.transform(hidden))


class DNABert2OnlyMLMHead(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.predictions = DNABert2LMPredictionHead(config)


# ----------------------------------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------------------------------


class DNABert2ForMaskedLM(MaskedLanguageModel, PreTrainedModel):
    """MosaicBERT masked LM with the published DNABERT-2 parameter names."""

    config_class = DNABert2Config
    base_model_prefix = "bert"
    # The decoder weight is the word-embedding matrix; a checkpoint may store it once, under the embedding.
    _tied_weights_keys = {"cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight"}

    def __init__(self, config: DNABert2Config):
        super().__init__(config)
        self.bert = DNABert2Body(config)
        self.cls = DNABert2OnlyMLMHead(config)
        self.post_init()

    def get_input_embeddings(self):
        return self.bert.embeddings.word_embeddings

    def get_output_embeddings(self):
        return self.cls.predictions.decoder

    def encode(self, input_ids, attention_mask=None, species_ids=None):
        """Hidden states: the embedding output, then the output of every layer (the last is final)."""
        if attention_mask is None:
            attention_mask = input_ids != self.config.pad_token_id
        hidden = self.bert.embeddings(input_ids)
        bias = attention_bias(attention_mask, self.config.num_attention_heads, hidden.dtype)
        states = [hidden]
        for layer in self.bert.encoder.layer:
            hidden = layer(hidden, bias)
            states.append(hidden)
        return tuple(states)

    def lm_logits(self, hidden, positions=None):
        """LM head on ``hidden [B, T, H]``; with boolean ``positions [B, T]`` only there (``[n, V]``)."""
        if positions is not None:
            hidden = hidden[positions]
        return self.cls.predictions(hidden)


# ----------------------------------------------------------------------------------------------------
# Published checkpoint
# ----------------------------------------------------------------------------------------------------


def _published_config(directory: Path, pad_token_id: int) -> DNABert2Config:
    """Our config from the numbers of a published ``config.json`` (``auto_map`` and names ignored)."""
    published = read_config(directory)
    numbers = (
        "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
        "hidden_act", "hidden_dropout_prob", "attention_probs_dropout_prob", "max_position_embeddings",
        "type_vocab_size", "initializer_range", "layer_norm_eps",
    )
    return DNABert2Config(**{key: published[key] for key in numbers if key in published}, pad_token_id=pad_token_id)


def load_published(directory):
    """Load a published DNABERT-2-117M directory into :class:`DNABert2ForMaskedLM` by parameter name.

    Every parameter must be present with its shape; the only tolerated differences are the unused
    pooler (``bert.pooler.dense.*``, dropped) and an absent decoder weight (tied to the embeddings).
    """
    directory = Path(directory)
    tokenizer = load_tokenizer(directory)
    model = DNABert2ForMaskedLM(_published_config(directory, tokenizer.pad_id))
    load_weights_by_name(model, read_weights(directory), directory, PUBLISHED_IGNORED_KEYS)
    return model.eval(), tokenizer, []  # species-agnostic


# ----------------------------------------------------------------------------------------------------
# Registry
# ----------------------------------------------------------------------------------------------------

FAMILY = register(
    Family(
        name="dnabert2",
        config_class=DNABert2Config,
        model_class=DNABert2ForMaskedLM,
        sizes={
            "tiny": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128),
            # DNABERT-2-117M (published config.json).
            "base": dict(
                hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.0, max_position_embeddings=512,
            ),
        },
        new_tokenizer=new_tokenizer,
        load_tokenizer=load_tokenizer,
        tokenization="bpe",
        load_published=load_published,
        description="DNABERT-2 (MosaicBERT: ALiBi attention, gated-GELU FFN, BPE tokenizer)",
    )
)
