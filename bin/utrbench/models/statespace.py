"""State-space model: the bidirectional DSS ResNet of Gankin et al. / Vilov & Heinig.

A species-aware masked language model over single nucleotides (reference note 03 §2.4):

    one-hot ACGTN (a masked base is the all-zero vector)
    -> Conv1d(5 -> 128, k 15) + species embedding added at every position
    -> 3 residual conv blocks (Conv1d k 7, BatchNorm, ReLU, twice)
    -> 4 x [bidirectional softmax-DSS (state size 64), GELU, GLU output, dropout, residual, post-LayerNorm]
    -> Conv1d(128 -> 5, k 15) decoder = the LM head.

The DSS kernel follows Gupta et al. (arXiv:2203.14343, "DSS-softmax") as used in the original
``models/zoonomia/state_space/models/dss.py``; it is re-implemented here in plain PyTorch.

Parameter names and shapes are the original ``DSSResNetEmb``'s (``encoder``, ``species_encoder``,
``resnet_layer``, ``s4_layers``, ``norms``, ``decoder``), so the study's ``model.pt`` checkpoints
load by name (:func:`load_published`); ``tests/test_parity.py`` checks the outputs against the
original's on a fixture.

Padding: a padded batch gives the same hidden states at real positions as each sequence alone.
Hidden states are zeroed at pad positions before every operation that mixes positions (the
convolutions and the FFT convolution), so pads act like the implicit zero padding of an
unpadded sequence; the FFT length is 2L, so the convolution is linear, not circular; and the
DSS-softmax kernel, which is normalised over the sequence length, is built for each sequence's
own length. Pads may sit at either end of a sequence, not inside it. In training mode BatchNorm
statistics do include pad positions (as the original, which trained on full-length chunks).
The original itself has no padding mask: it treats pads as masked (all-zero) bases, so its output
on a padded batch differs from each sequence alone; ours equals the original's on each sequence
alone, which is how the study scores sequences. Feeding ``[MASK]`` with a full attention mask
reproduces the original on a padded batch.
"""

import math
import re
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedConfig, PreTrainedModel

from utrbench.errors import UserError
from utrbench.models.base import Family, MaskedLanguageModel, TokenizedSequence, VocabularyFileTokenizer
from utrbench.models.checkpoints import load_weights_by_name, read_config, read_weights
from utrbench.models.registry import read_species_file, register
from utrbench.seq import check_sequence

# The study's species table: Embedding(241, d) over the Zoonomia species sorted alphabetically
# (hard-coded in its SpecAdd; Homo_sapiens is id 103). A copy of shared/data/species/241_mammals.txt.
STUDY_SPECIES_FILE = Path(__file__).parent / "data" / "statespace" / "zoonomia_241_species.txt"

# --- tokenizer ---


class NucleotideTokenizer(VocabularyFileTokenizer):
    """One token per nucleotide: A, C, G, T, N are ids 0-4, then ``[MASK]`` and ``[PAD]``.

    The model sees ids 0-4 as one-hot vectors and ``[MASK]`` and ``[PAD]`` as the all-zero
    vector (the original's masking). There are no ``[CLS]``/``[SEP]`` tokens; token ``i``
    covers nucleotide ``[i, i + 1)``. N, the unknown base, is the unknown token: it is a
    real input and target, but never a random replacement in masking (the original draws ACGT).
    """

    BASES = "ACGTN"
    SPECIAL_TOKENS = ("[MASK]", "[PAD]")
    unk_id, mask_id, pad_id = BASES.index("N"), len(BASES), len(BASES) + 1
    cls_id = sep_id = None

    def __init__(self, max_tokens: int = 5000):
        self.max_tokens = max_tokens
        self.tokens = list(self.BASES) + list(self.SPECIAL_TOKENS)
        self.special_ids = [self.mask_id, self.pad_id]
        self._ids_of_letters = np.full(256, -1, dtype=np.int64)
        for token_id, letter in enumerate(self.BASES):
            self._ids_of_letters[ord(letter)] = token_id

    def encode(self, sequence: str, where: str = "sequence") -> TokenizedSequence:
        """Ids and spans of an ACGTN sequence; ``where`` names the sequence in errors."""
        sequence = check_sequence(sequence, where)
        ids = self._ids_of_letters[np.frombuffer(sequence.encode("ascii"), dtype=np.uint8)]
        starts = np.arange(len(ids), dtype=np.int64)
        return TokenizedSequence(ids=ids, spans=np.stack([starts, starts + 1], axis=1))

    def decode(self, ids) -> str:
        """Letters of the ids; ``[PAD]`` is dropped and ``[MASK]`` (an unknown base) decodes as N."""
        ids = np.asarray(ids, dtype=np.int64)
        ids = ids[ids != self.pad_id]
        ids = np.where(ids == self.mask_id, self.unk_id, ids)
        return np.frombuffer(self.BASES.encode(), dtype=np.uint8)[ids].tobytes().decode("ascii")

    @classmethod
    def load(cls, directory, max_tokens: int = 5000) -> "NucleotideTokenizer":
        """Read ``vocab.txt`` and check that it is this tokenizer's vocabulary."""
        path, tokens = cls.read_vocabulary(directory)
        tokenizer = cls(max_tokens=max_tokens)
        tokenizer.check_vocabulary(path, tokens, "nucleotide", tokenizer.vocab_size)
        return tokenizer


# --- configuration ---


class StateSpaceConfig(PreTrainedConfig):
    """Hyper-parameters of the DSS ResNet; the defaults are the published model (≈1.0 M parameters)."""

    model_type = "utrbench_statespace"

    vocab_size: int = len(NucleotideTokenizer.BASES) + len(NucleotideTokenizer.SPECIAL_TOKENS)
    num_bases: int = len(NucleotideTokenizer.BASES)  # one-hot input channels and LM-head outputs
    hidden_size: int = 128
    edge_kernel_size: int = 15  # the input convolution and the decoder
    num_resnet_blocks: int = 3
    resnet_kernel_size: int = 7
    num_dss_layers: int = 4
    state_size: int = 64
    dt_min: float = 1e-3
    dt_max: float = 1e-1
    dropout: float = 0.0  # the published runs trained without dropout
    layer_norm_eps: float = 1e-5
    num_species: int = 1
    max_tokens: int = 5000  # training chunk length of the original; the model itself has no limit


# --- layers ---


def _regularised_reciprocal(x: torch.Tensor, epsilon: float = 1e-7) -> torch.Tensor:
    """``1 / x`` for complex ``x`` with bounded norm near 0 (as the DSS reference)."""
    return x.conj() / (x * x.conj() + epsilon)


def hippo_skew_eigenvalues(size: int) -> torch.Tensor:
    """Eigenvalues of the skew-symmetric part of the HiPPO-LegS matrix, largest imaginary part first."""
    scale = 2 * torch.arange(size, dtype=torch.float64) + 1
    hippo = (scale[:, None] * scale[None, :]).sqrt().tril(diagonal=-1)
    eigenvalues = torch.linalg.eigvals((hippo - hippo.T) / 2)
    return eigenvalues[eigenvalues.imag.argsort(descending=True)].to(torch.complex64)


class SoftmaxDSSKernel(nn.Module):
    """Convolution kernels of a diagonal state space with softmax normalisation (DSS-softmax).

    For channel c, feature h and lag j < L::

        K[c, h, j] = Re sum_n  W[c, h, n] / Lambda[n] * exp(dt_h Lambda_n j) / sum_{m<L} exp(dt_h Lambda_n m)

    with separate step sizes dt for the real and imaginary parts of Lambda. Complex parameters
    are stored as real pairs (last dimension 2), as in the reference.
    """

    def __init__(self, hidden_size: int, state_size: int, channels: int, dt_min: float, dt_max: float):
        super().__init__()
        self.dt_min, self.dt_max = dt_min, dt_max
        self.log_dt = nn.Parameter(torch.empty(hidden_size, 2))
        self.Lambda = nn.Parameter(torch.empty(state_size, 2))
        self.W = nn.Parameter(torch.empty(channels, hidden_size, state_size, 2))
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self):
        """Log-uniform dt in [dt_min, dt_max], Lambda from HiPPO (shifted to Re = -1/2), W ~ N(0, 1)."""
        log_dt = torch.empty(self.log_dt.shape[0]).uniform_(math.log(self.dt_min), math.log(self.dt_max))
        self.log_dt.copy_(log_dt[:, None].expand(-1, 2))
        eigenvalues = hippo_skew_eigenvalues(2 * self.Lambda.shape[0])[: self.Lambda.shape[0]] - 0.5
        self.Lambda.copy_(torch.view_as_real(eigenvalues))
        nn.init.normal_(self.W)

    def forward(self, lengths: list, max_length: int) -> torch.Tensor:
        """Kernels ``[len(lengths), C, H, max_length]``, normalised for each sequence length.

        Lags at or beyond a length only meet pad positions, whose inputs are zero.
        """
        Lambda = torch.view_as_complex(self.Lambda)  # [N]
        dt = self.log_dt.exp()  # [H, 2]
        dt_Lambda = torch.complex(dt[:, :1] * Lambda.real, dt[:, 1:] * Lambda.imag)  # [H, N]
        growing = Lambda.real > 0  # such modes are shifted so that exp() stays <= 1 in magnitude
        powers = dt_Lambda[..., None] * torch.arange(max_length, device=dt.device)  # [H, N, Lmax]
        W = torch.view_as_complex(self.W)  # [C, H, N]
        rate = torch.where(growing, -dt_Lambda, dt_Lambda)  # ratio of the shifted geometric series
        kernels = []
        for length in lengths:
            modes = torch.exp(powers - (dt_Lambda * (growing * (length - 1)))[..., None])
            # W / Lambda / sum_{m<length} modes; the geometric sum's inverse is (e^rate - 1) / (e^(rate length) - 1)
            coefficients = W * (rate.exp() - 1) * _regularised_reciprocal(((rate * length).exp() - 1) * Lambda)
            kernels.append(torch.einsum("chn,hnl->chl", coefficients, modes).real)
        return torch.stack(kernels)


class ChannelLinear(nn.Module):
    """A linear map over the channel axis of ``[B, C_in, L]``: weight ``[C_out, C_in]``, bias ``[C_out, 1]``.

    The original's ``TransposedLinear``; its parameter shapes are what the study's checkpoints hold.
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels))
        self.bias = nn.Parameter(torch.empty(out_channels, 1))
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self):
        """nn.Linear's default initialisation."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        bound = 1 / math.sqrt(self.weight.shape[1])
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bil,oi->bol", x, self.weight) + self.bias


class BidirectionalDSS(nn.Module):
    """DSS layer over ``[B, H, L]``: a forward and a reversed kernel, skip term D, GELU, GLU output.

    Parameter names and shapes are the original's (``kernel.*``, ``D [1, H]``, ``output_linear.0``).
    """

    def __init__(self, config: StateSpaceConfig):
        super().__init__()
        hidden = config.hidden_size
        self.kernel = SoftmaxDSSKernel(hidden, config.state_size, 2, config.dt_min, config.dt_max)
        self.D = nn.Parameter(torch.empty(1, hidden))
        self.dropout = nn.Dropout1d(config.dropout)
        self.output_linear = nn.Sequential(ChannelLinear(hidden, 2 * hidden), nn.GLU(dim=-2))
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self):
        nn.init.normal_(self.D)

    def forward(self, u: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``u [B, H, L]`` (zero at pads), ``lengths [B]`` real positions per sequence."""
        # cuFFT has no bf16 transforms of arbitrary length, so the long convolution runs in fp32
        u = u.float()
        length = u.shape[-1]
        unique_lengths, kernel_of_sequence = torch.unique(lengths, return_inverse=True)
        kernels = self.kernel(unique_lengths.tolist(), length)  # [U, 2, H, L]
        # Lag j >= 0 reads the forward kernel, lag -(j + 1) the reversed one; an FFT of length
        # 2L makes the circular convolution linear, so no sequence end wraps onto the other.
        two_sided = F.pad(kernels[:, 0], (0, length)) + F.pad(kernels[:, 1].flip(-1), (length, 0))
        spectrum = torch.fft.rfft(u, n=2 * length) * torch.fft.rfft(two_sided, n=2 * length)[kernel_of_sequence]
        y = torch.fft.irfft(spectrum, n=2 * length)[..., :length] + u * self.D[0, :, None]
        return self.output_linear(self.dropout(F.gelu(y)))


class ResidualConvBlock(nn.Module):
    """``relu(x + BN(conv(relu(BN(conv(x))))))`` over ``[B, H, L]``, pads zeroed before each conv.

    The original also registers the four layers inside a Sequential (``layer.0/1/3/4``), so its
    checkpoints hold each tensor twice; :data:`PUBLISHED_ALIASES` maps those names to these.
    """

    def __init__(self, config: StateSpaceConfig):
        super().__init__()
        hidden, kernel = config.hidden_size, config.resnet_kernel_size
        self.conv1 = nn.Conv1d(hidden, hidden, kernel, padding=kernel // 2)
        self.bn1 = nn.BatchNorm1d(hidden)
        self.conv2 = nn.Conv1d(hidden, hidden, kernel, padding=kernel // 2)
        self.bn2 = nn.BatchNorm1d(hidden)

    def forward(self, x: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.bn1(self.conv1(x))) * real
        return F.relu(self.bn2(self.conv2(h)) + x) * real


class SpeciesEncoder(nn.Module):
    """The species embedding added at every position (the original's ``SpecAdd``, label encoder)."""

    def __init__(self, config: StateSpaceConfig):
        super().__init__()
        self.species_embedder = nn.Embedding(config.num_species, config.hidden_size)

    def forward(self, species_ids: torch.Tensor) -> torch.Tensor:
        """``[B, H, 1]``, broadcast over positions."""
        return self.species_embedder(species_ids)[:, :, None]


# --- model ---


class StateSpaceForMaskedLM(MaskedLanguageModel, PreTrainedModel):
    """The species-aware DSS ResNet masked language model behind the utrbench model API.

    Logits have ``num_bases`` = 5 columns, one per id 0-4 (A, C, G, T, N): ``[MASK]`` and
    ``[PAD]`` are never targets and have no column.
    """

    config_class = StateSpaceConfig
    base_model_prefix = "statespace"
    main_input_name = "input_ids"

    def __init__(self, config: StateSpaceConfig):
        super().__init__(config)
        hidden, edge = config.hidden_size, config.edge_kernel_size
        self.encoder = nn.Conv1d(config.num_bases, hidden, edge, padding=edge // 2)
        self.species_encoder = SpeciesEncoder(config)
        self.resnet_layer = nn.ModuleList(ResidualConvBlock(config) for _ in range(config.num_resnet_blocks))
        # DSS block k: x = norms[k](x + dropouts[k](s4_layers[k](x))), the original's module names
        self.s4_layers = nn.ModuleList(BidirectionalDSS(config) for _ in range(config.num_dss_layers))
        self.dropouts = nn.ModuleList(nn.Dropout1d(config.dropout) for _ in range(config.num_dss_layers))
        self.norms = nn.ModuleList(
            nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps) for _ in range(config.num_dss_layers)
        )
        self.decoder = nn.Conv1d(hidden, config.num_bases, edge, padding=edge // 2)
        self.post_init()

    @torch.no_grad()
    def _init_weights(self, module):
        # PyTorch's default initialisation of every layer, as the original (not transformers' N(0, 0.02)).
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()

    def encode(self, input_ids, attention_mask=None, species_ids=None):
        """Hidden states ``[B, T, H]``: the embedding output, then the output of every block.

        ``attention_mask`` defaults to ``input_ids != [PAD]``; ``species_ids`` to 0 (agnostic).
        Every state is zero at pad positions.
        """
        if attention_mask is None:
            attention_mask = input_ids != NucleotideTokenizer.pad_id
        if species_ids is None:
            species_ids = torch.zeros(len(input_ids), dtype=torch.long, device=input_ids.device)
        real = attention_mask.to(self.encoder.weight.dtype)[:, None, :]  # [B, 1, T]
        lengths = attention_mask.sum(1)
        # ids past the bases ([MASK], [PAD]) fall in the dropped columns: the all-zero vector
        one_hot = F.one_hot(input_ids, self.config.vocab_size)[..., : self.config.num_bases]
        x = self.encoder(one_hot.transpose(1, 2).to(real.dtype))
        x = (x + self.species_encoder(species_ids)) * real
        states = [x]
        for block in self.resnet_layer:
            x = block(x, real)
            states.append(x)
        for dss, dropout, norm in zip(self.s4_layers, self.dropouts, self.norms):
            x = x + dropout(dss(x, lengths))
            x = norm(x.transpose(1, 2)).transpose(1, 2) * real
            states.append(x)
        return tuple(state.transpose(1, 2) for state in states)

    def lm_logits(self, hidden, positions=None):
        """The decoder convolution on ``hidden [B, T, H]``; with ``positions`` only there.

        A selected position's logits need the ``edge_kernel_size`` hidden states around it, so
        the windows are gathered (with the conv's zero padding) and multiplied by its weights.
        """
        if positions is None:
            return self.decoder(hidden.transpose(1, 2)).transpose(1, 2)
        half = self.config.edge_kernel_size // 2
        windows = F.pad(hidden, (0, 0, half, half)).unfold(1, self.config.edge_kernel_size, 1)  # [B, T, H, k]
        return torch.einsum("nhk,vhk->nv", windows[positions], self.decoder.weight) + self.decoder.bias


# --- the study's checkpoints ---

# Each residual block of the original registers conv1, bn1, conv2, bn2 again inside a Sequential
# ``layer`` (index 2 is the ReLU), so its state dict holds every tensor under two names.
PUBLISHED_ALIASES = {"layer.0.": "conv1.", "layer.1.": "bn1.", "layer.3.": "conv2.", "layer.4.": "bn2."}
_ALIAS_KEY = re.compile(r"^(resnet_layer\.\d+\.)(layer\.\d\.)(.*)$")


def drop_aliases(state: dict, where) -> dict:
    """``state`` without the residual blocks' Sequential aliases; an alias must equal its twin.

    Two names of one tensor that disagree mean a damaged or hand-edited checkpoint: an error.
    Unknown ``layer.<i>`` names are kept, so the loader reports them as unexpected keys.
    """
    kept = {}
    for key, tensor in state.items():
        match = _ALIAS_KEY.match(key)
        if match and match.group(2) in PUBLISHED_ALIASES:
            twin = match.group(1) + PUBLISHED_ALIASES[match.group(2)] + match.group(3)
            if twin in state and not torch.equal(state[twin], tensor):
                raise UserError(f"{where}: {key} and {twin} should be the same tensor but differ.")
            if twin in state:
                continue
        kept[key] = tensor
    return kept


def published_config(directory) -> StateSpaceConfig:
    """Our config from the study checkpoint's ``config.json`` (``DSSResNetEmb`` constructor arguments).

    The original code has no config file; the format is the parity fixture's: ``model_kwargs``
    (``d_input``, ``d_output``, ``d_model``, ``n_layers``, ``dropout``), ``dss_d_state`` and
    ``species_table_size``. Everything else is fixed by the original class.
    """
    path = Path(directory) / "config.json"
    published = read_config(directory)
    kwargs = published.get("model_kwargs")
    if not isinstance(kwargs, dict) or not {"d_model", "n_layers"} <= kwargs.keys():
        raise UserError(f"{path}: expected the state-space checkpoint's model_kwargs with d_model and n_layers.")
    bases = len(NucleotideTokenizer.BASES)
    if kwargs.get("d_input", bases) != bases or kwargs.get("d_output", bases) != bases:
        raise UserError(f"{path}: d_input and d_output must be {bases} (one-hot ACGTN), not {kwargs.get('d_input')}/{kwargs.get('d_output')}.")
    return StateSpaceConfig(
        hidden_size=int(kwargs["d_model"]), num_dss_layers=int(kwargs["n_layers"]),
        dropout=float(kwargs.get("dropout", 0.0)), state_size=int(published.get("dss_d_state", 64)),
        num_species=int(published.get("species_table_size", 241)),
    )


def load_published(directory):
    """The study's checkpoint (``config.json`` + ``model.pt`` or ``model.safetensors``) in our class.

    ``model.pt`` is read with ``torch.load(weights_only=True)``: tensors only, never pickled code.
    """
    directory = Path(directory)
    config = published_config(directory)
    model = StateSpaceForMaskedLM(config)
    state = drop_aliases(read_weights(directory), directory)
    load_weights_by_name(model, state, directory)
    return model.eval(), new_tokenizer(config), published_species(config)


def published_species(config) -> list:
    """The species list of a study checkpoint: the 241 Zoonomia species, when the table has 241 rows."""
    names = read_species_file(STUDY_SPECIES_FILE)
    return names if config.num_species == len(names) else []


def new_tokenizer(config):
    return NucleotideTokenizer(max_tokens=config.max_tokens)


def load_tokenizer(directory):
    config = StateSpaceConfig.from_pretrained(directory, local_files_only=True)
    return NucleotideTokenizer.load(directory, max_tokens=config.max_tokens)


FAMILY = register(
    Family(
        name="statespace",
        config_class=StateSpaceConfig,
        model_class=StateSpaceForMaskedLM,
        sizes={
            "tiny": dict(hidden_size=16, num_resnet_blocks=1, num_dss_layers=2, state_size=8),
            "base": {},  # the published DSS ResNet (Gankin et al.)
        },
        new_tokenizer=new_tokenizer,
        load_tokenizer=load_tokenizer,
        tokenization="nucleotide",
        species_aware=True,
        load_published=load_published,
        description="State-space model: species-aware bidirectional DSS ResNet over one-hot nucleotides",
    )
)
