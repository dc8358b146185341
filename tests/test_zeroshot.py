"""Per-nucleotide zero-shot probabilities: the batched engine against a naive slow reference.

The reference below masks one target nucleotide at a time, runs the full model (LM head and
softmax over the whole vocabulary at every position) and marginalises by enumerating the
vocabulary's token strings letter by letter: nothing of the engine's tables, batching, row
bookkeeping or merging of copies is shared with it.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from utrbench.errors import UserError
from utrbench.infer.zeroshot import ZeroShotScorer, parse_strategy
from utrbench.io import read_probabilities
from utrbench.models import init_model, save_model
from utrbench.seq import reverse_complement

PROJECT_DIR = Path(__file__).resolve().parents[1]
FAMILIES_WITH_HEAD = ["dnabert", "ntv2", "dnabert2", "statespace"]
SPECIES = ["Homo_sapiens", "Mus_musculus"]


def random_sequence(length, seed, alphabet="ACGT"):
    rng = np.random.default_rng(seed)
    return "".join(rng.choice(list(alphabet), length))


@pytest.fixture(scope="module")
def models():
    return {family: init_model(family, "tiny", seed=3, species=SPECIES) for family in FAMILIES_WITH_HEAD}


def token_strings(tokenizer):
    """Letters of every vocabulary id, from the tokenizer's own vocabulary list."""
    if hasattr(tokenizer, "tokens"):
        return list(tokenizer.tokens)
    return [tokenizer._tokenizer.id_to_token(i) for i in range(tokenizer.vocab_size)]


def naive_probabilities(loaded, sequence, readout="middle", species_id=0, groups=None):
    """One masked copy per nucleotide, full head, brute-force letter enumeration. With ``groups``
    (one label per position), a position's copy masks the tokens covering every position of its group."""
    tokenizer, model = loaded.tokenizer, loaded.model
    tokenized = tokenizer.encode(sequence)
    special = set(tokenizer.special_ids)
    strings = [(i, text) for i, text in enumerate(token_strings(tokenizer)) if i not in special and not set(text) - set("ACGT")]
    groups = np.arange(len(sequence)) if groups is None else np.asarray(groups)
    out = np.zeros((len(sequence), 4))
    for position in range(len(sequence)):
        covering = [t for t, (s, e) in enumerate(tokenized.spans) if s <= position < e]
        targets = np.flatnonzero(groups == groups[position])
        ids = torch.tensor(tokenized.ids).clone()
        ids[[t for t, (s, e) in enumerate(tokenized.spans) if ((targets >= s) & (targets < e)).any()]] = tokenizer.mask_id
        with torch.no_grad():
            hidden = model.encode(ids[None], torch.ones(1, len(ids), dtype=torch.bool), torch.tensor([species_id]))[-1]
            probs = torch.softmax(model.lm_logits(hidden)[0].double(), dim=-1).numpy()
        if readout == "middle":
            def distance(t):
                s, e = tokenized.spans[t]
                return abs(position - s - (e - s) // 2)
            covering = [min(covering, key=lambda t: (distance(t), t))]
        letters = np.zeros(4)
        for t in covering:
            start, end = tokenized.spans[t]
            offset, length = position - start, end - start
            marginal = np.zeros(4)
            for b, letter in enumerate("ACGT"):
                marginal[b] = sum(probs[t, i] for i, text in strings if len(text) == length and text[offset] == letter)
            letters += marginal / marginal.sum()
        out[position] = letters / letters.sum()
    return out


@pytest.mark.parametrize("family", FAMILIES_WITH_HEAD)
def test_exact_equals_naive_one_position_at_a_time(models, family):
    sequences = [random_sequence(23, 1), random_sequence(9, 2)]
    scorer = ZeroShotScorer(models[family], "exact", token_budget=200)
    fast = scorer.score(sequences, species_ids=[1, 0])
    for sequence, probs, species_id in zip(sequences, fast, [1, 0]):
        reference = naive_probabilities(models[family], sequence, species_id=species_id)
        assert probs.dtype == np.float32 and probs.shape == (len(sequence), 4)
        assert np.abs(probs - reference).max() < 1e-5
        assert np.abs(probs.sum(1) - 1).max() < 1e-5


def test_middle_readout_equals_naive_and_differs_from_mean(models):
    sequence = random_sequence(20, 4)
    middle = ZeroShotScorer(models["dnabert"], "exact", readout="middle").score([sequence])[0]
    mean = ZeroShotScorer(models["dnabert"], "exact", readout="mean").score([sequence])[0]
    assert np.abs(middle - naive_probabilities(models["dnabert"], sequence, readout="middle")).max() < 1e-5
    assert np.abs(middle - mean).max() > 1e-4


def test_n_letters_are_scored(models):
    sequence = "ACGTNACGTACNNACGT"
    for family in ("dnabert", "ntv2"):
        probs = ZeroShotScorer(models[family], "exact").score([sequence])[0]
        assert np.abs(probs - naive_probabilities(models[family], sequence)).max() < 1e-5


@pytest.mark.parametrize("family", FAMILIES_WITH_HEAD)
def test_strided_with_stride_of_sequence_length_equals_exact(models, family):
    sequence = random_sequence(31, 5)
    exact = ZeroShotScorer(models[family], "exact").score([sequence])[0]
    strided = ZeroShotScorer(models[family], f"strided:{len(sequence)}").score([sequence])[0]
    np.testing.assert_allclose(strided, exact, atol=1e-6)
    coarse = ZeroShotScorer(models[family], "strided:2").score([sequence])[0]
    assert np.abs(coarse - exact).max() > 1e-5  # neighbours masked together change the predictions
    np.testing.assert_allclose(coarse.sum(1), 1, atol=1e-5)


@pytest.mark.parametrize("family", FAMILIES_WITH_HEAD)
def test_strided_merges_every_s_th_exact_copy(models, family):
    """strided:3 masks together the targets of exact copies c, c + 3, ...: every third nucleotide
    where each position has its own exact copy (k-mers, nucleotides), every third token for NT and BPE."""
    loaded = models[family]
    sequence = random_sequence(40, 9)
    if loaded.family.tokenization in ("overlapping_kmer", "nucleotide"):
        exact_copy = np.arange(len(sequence))
    else:
        real = [(s, e) for s, e in loaded.tokenizer.encode(sequence).spans if e > s]
        exact_copy = np.array([next(n for n, (s, e) in enumerate(real) if s <= p < e) for p in range(len(sequence))])
        assert exact_copy.max() >= 5  # several tokens per copy group
    strided = ZeroShotScorer(loaded, "strided:3").score([sequence])[0]
    reference = naive_probabilities(loaded, sequence, groups=exact_copy % 3)
    assert np.abs(strided - reference).max() < 1e-5


def test_strided_copy_masks_every_stride_th_nucleotide(models):
    """strided:S on the nucleotide model: copy c masks c, c + S, ... and reads exactly those."""
    loaded = models["statespace"]
    sequence = random_sequence(12, 6)
    probs = ZeroShotScorer(loaded, "strided:4").score([sequence])[0]
    ids = torch.tensor(loaded.tokenizer.encode(sequence).ids)
    for c in range(4):
        masked = ids.clone()
        masked[c::4] = loaded.tokenizer.mask_id
        with torch.no_grad():
            logits = loaded.model.lm_logits(loaded.model.encode(masked[None])[-1])[0, c::4, :4]
        np.testing.assert_allclose(probs[c::4], torch.softmax(logits, -1).numpy(), atol=1e-6)


def test_unmasked_reads_the_unmasked_pass(models):
    loaded = models["ntv2"]
    sequence = random_sequence(18, 7)  # three 6-mers
    probs = ZeroShotScorer(loaded, "unmasked").score([sequence])[0]
    tokenized = loaded.tokenizer.encode(sequence)
    with torch.no_grad():
        logits = loaded.model.lm_logits(loaded.model.encode(torch.tensor(tokenized.ids)[None])[-1])[0]
    kmer_probs = torch.softmax(logits[1:, 6:6 + 4096].double(), -1).numpy()  # 6-mer ids 6..4101
    strings = loaded.tokenizer.tokens[6:6 + 4096]
    expected = np.zeros((18, 4))
    for token in range(3):
        for offset in range(6):
            for column, text in enumerate(strings):
                expected[6 * token + offset, "ACGT".index(text[offset])] += kmer_probs[token, column]
    assert np.abs(probs - expected).max() < 1e-5


def test_reverse_orientation_maps_back(models):
    loaded = models["dnabert2"]
    sequence = random_sequence(25, 8)
    scorer = ZeroShotScorer(loaded, "exact")
    reverse = scorer.score([sequence], orientation="reverse")[0]
    of_reverse_complement = scorer.score([reverse_complement(sequence)])[0]
    np.testing.assert_allclose(reverse, of_reverse_complement[::-1, [3, 2, 1, 0]], atol=1e-7)
    both = scorer.score([sequence], orientation="both")[0]
    np.testing.assert_allclose(both, (reverse + scorer.score([sequence])[0]) / 2, atol=1e-7)


@pytest.mark.parametrize("family", ["dnabert", "statespace"])
def test_windows_keep_central_predictions(models, family):
    """A long sequence in overlapping windows: each kept position equals scoring its window alone."""
    sequence = random_sequence(70, 9)
    scorer = ZeroShotScorer(models[family], "exact", window=30, overlap=10)
    probs = scorer.score([sequence])[0]
    from utrbench.infer.windows import plan_windows

    windows = plan_windows(0, len(sequence), 30, 10)
    assert len(windows) == 3 and windows[0].keep_end == 25 and windows[-1].keep_end == 70
    for window in windows:
        alone = ZeroShotScorer(models[family], "exact").score([sequence[window.start:window.end]])[0]
        keep = slice(window.keep_start - window.start, window.keep_end - window.start)
        np.testing.assert_allclose(probs[window.keep_start:window.keep_end], alone[keep], atol=1e-6)


def test_batching_does_not_change_results(models):
    sequences = [random_sequence(n, 10 + n) for n in (12, 25, 18)]
    small = ZeroShotScorer(models["dnabert"], "exact", token_budget=60).score(sequences)
    large = ZeroShotScorer(models["dnabert"], "exact", token_budget=100000).score(sequences)
    for a, b in zip(small, large):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_errors(models):
    with pytest.raises(UserError, match="shorter than"):
        ZeroShotScorer(models["dnabert"]).score(["ACGTA"], names=["short_one"])
    for text in ("strided:0", "strided", "fast"):
        with pytest.raises(UserError):
            parse_strategy(text)


# --- command line ---


def run_cli(*args):
    """The entry point in this process (importing torch and transformers again per call is slow)."""
    spec = importlib.util.spec_from_file_location("zeroshot_cli", PROJECT_DIR / "bin" / "zeroshot.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return CliRunner().invoke(module.main, [str(a) for a in args])


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory, models):
    root = tmp_path_factory.mktemp("models")
    for family in ("dnabert", "statespace"):
        save_model(models[family], root / family)
    return root


def test_cli_writes_probabilities_deterministically(tmp_path, model_dirs, models):
    fasta = tmp_path / "in.fa"
    fasta.write_text(">u1:Mus_musculus\nACGTACGGTTACAGGT\n>u2:Homo_sapiens\nTTGACCAGTAGGACCATTAG\n")
    outputs = []
    for name in ("a.h5", "b.h5"):
        result = run_cli("--model", model_dirs / "statespace", "--fasta", fasta, "--species-from-id",
                         "--strategy", "strided:3", "--out", tmp_path / name)
        assert result.exit_code == 0, result.output
        outputs.append((tmp_path / name).read_bytes())
    assert outputs[0] == outputs[1]
    ids, probs, attrs = read_probabilities(tmp_path / "a.h5")
    assert ids == ["u1:Mus_musculus", "u2:Homo_sapiens"] and attrs["strategy"] == "strided:3"
    expected = ZeroShotScorer(models["statespace"], "strided:3").score(
        ["ACGTACGGTTACAGGT"], species_ids=[SPECIES.index("Mus_musculus")])[0]
    np.testing.assert_allclose(probs["u1:Mus_musculus"], expected, atol=1e-6)


def test_cli_errors_exit_2_without_output(tmp_path, model_dirs):
    fasta = tmp_path / "in.fa"
    fasta.write_text(">ok\nACGTACGTAGGA\n>tiny\nACG\n")
    cases = [
        ("dnabert", ["--fasta", fasta], "record tiny"),
        ("statespace", ["--fasta", fasta, "--species", "Pan_troglodytes"], "Pan_troglodytes"),
    ]
    for family, args, message in cases:
        out = tmp_path / f"{family}.h5"
        result = run_cli("--model", model_dirs / family, *args, "--out", out)
        assert result.exit_code == 2 and message in result.output, result.output
        assert not out.exists()
