"""Streaming and sharded inference: blocks, shards, merge, and memory flat in the number of records."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from utrbench.errors import UserError
from utrbench.infer.shards import SHARD_NAME, iter_blocks, merge_shards, split_fasta
from utrbench.models import get_family, init_model, save_model
from utrbench.seq import read_fasta

PROJECT_DIR = Path(__file__).resolve().parents[1]


def utr_like(count, seed, low=60, high=140):
    """AT-rich 3'UTR-like sequences (A .3, C .2, G .2, T .3) of random lengths in [low, high)."""
    rng = np.random.default_rng(seed)
    return [(f"utr{n}", "".join(rng.choice(list("ACGT"), int(rng.integers(low, high)), p=[.3, .2, .2, .3])))
            for n in range(count)]


def test_blocks_are_greedy_in_file_order():
    records = [("a", "A" * 4), ("b", "C" * 5), ("c", "G" * 12), ("d", "T" * 3), ("e", "A" * 2)]
    blocks = [[name for name, _ in block] for block in iter_blocks(records, 10)]
    assert blocks == [["a", "b"], ["c"], ["d", "e"]]  # 'c' alone: longer than a shard
    with pytest.raises(UserError, match="at least 1"):
        list(iter_blocks(records, 0))


def test_split_fasta_writes_the_blocks(tmp_path):
    fasta = tmp_path / "in.fa"
    fasta.write_text(">a\nAAAA\n>b\nCCCCC\n>c\nGGGGGGGGGGGG\n>d\nTTT\n")
    assert split_fasta(fasta, 10, tmp_path / "shards") == 3
    shards = sorted((tmp_path / "shards").iterdir())
    assert [p.name for p in shards] == [SHARD_NAME.format(n) for n in range(3)]
    assert [list(read_fasta(p)) for p in shards] == [["a", "b"], ["c"], ["d"]]
    fasta.write_text(">a\nAAAA\n>a\nCCCC\n")
    with pytest.raises(UserError, match="occurs more than once"):
        split_fasta(fasta, 10, tmp_path / "again")
    assert not (tmp_path / "again").exists()


def load_cli(name):
    spec = importlib.util.spec_from_file_location(f"{name}_cli", PROJECT_DIR / "bin" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


@pytest.fixture(scope="module")
def dnabert_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("model") / "dnabert"
    save_model(init_model("dnabert", "tiny", seed=5), directory)
    return directory


@pytest.mark.parametrize("step, args", [("zeroshot", ["--strategy", "exact"]), ("embed", []),
                                        ("embed", ["--per-nucleotide"])])
def test_sharded_output_equals_unsharded_byte_for_byte(tmp_path, dnabert_dir, step, args):
    records = utr_like(9, 1, 20, 60)
    fasta = tmp_path / "all.fa"
    fasta.write_text("".join(f">{name}\n{sequence}\n" for name, sequence in records))
    shard_nt = next(n for n in range(60, 600) if len(list(iter_blocks(records, n))) == 3)
    main, runner = load_cli(step), CliRunner()
    common = ["--model", str(dnabert_dir), "--shard-nt", str(shard_nt), "--token-budget", "300", *args]
    result = runner.invoke(main, [*common, "--fasta", str(fasta), "--out", str(tmp_path / "whole.h5")])
    assert result.exit_code == 0, result.output
    assert split_fasta(fasta, shard_nt, tmp_path / "shards") == 3
    parts = []
    for shard in sorted((tmp_path / "shards").iterdir()):
        parts.append(tmp_path / f"{shard.stem}.h5")
        result = runner.invoke(main, [*common, "--fasta", str(shard), "--out", str(parts[-1])])
        assert result.exit_code == 0, result.output
    merge_shards(parts, tmp_path / "merged.h5")
    assert (tmp_path / "merged.h5").read_bytes() == (tmp_path / "whole.h5").read_bytes()


def test_merge_refuses_shards_of_different_runs(tmp_path, dnabert_dir):
    fasta = tmp_path / "in.fa"
    fasta.write_text(">u1\nACGTACGTTGCAACGTAGC\n")
    main = load_cli("zeroshot")
    for name, strategy in (("a.h5", "exact"), ("b.h5", "unmasked")):
        result = CliRunner().invoke(main, ["--model", str(dnabert_dir), "--fasta", str(fasta), "--strategy", strategy,
                                           "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
    with pytest.raises(UserError, match="b.h5: its layout or attributes differ"):
        merge_shards([tmp_path / "a.h5", tmp_path / "b.h5"], tmp_path / "merged.h5")
    assert not (tmp_path / "merged.h5").exists()


def peak_rss_mb(command) -> float:
    """Peak resident set (MB) of a child process, from the kernel's accounting of that child alone."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env={**os.environ, "PYTHONPATH": str(PROJECT_DIR / "bin")})
    _, status, usage = os.wait4(process.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, process.stderr.read().decode()
    return usage.ru_maxrss / 1024


@pytest.mark.slow
def test_peak_memory_is_flat_in_the_number_of_sequences(tmp_path, dnabert_dir):
    peaks = {}
    for count in (200, 2000):
        fasta = tmp_path / f"{count}.fa"
        fasta.write_text("".join(f">{name}\n{sequence}\n" for name, sequence in utr_like(count, count, 8, 16)))
        peaks[count] = peak_rss_mb([sys.executable, str(PROJECT_DIR / "bin" / "zeroshot.py"), "--model", str(dnabert_dir),
                                    "--fasta", str(fasta), "--strategy", "exact", "--shard-nt", "2000",
                                    "--device", "cpu", "--out", str(tmp_path / f"{count}.h5")])
    assert peaks[2000] <= 1.2 * peaks[200], peaks


@pytest.mark.parametrize("family", ["dnabert", "ntv2", "dnabert2", "statespace"])
def test_default_window_is_the_context_in_tokens(family):
    """On a 3'UTR-like sequence, every default window holds exactly the model's context in tokens
    (base size), whatever its length in nucleotides; kept parts partition the sequence."""
    from utrbench.infer.windows import sequence_windows

    config_family = get_family(family)
    tokenizer = config_family.new_tokenizer(config_family.config_class(**config_family.sizes["base"]))
    _, sequence = utr_like(1, 7, 3 * tokenizer.max_tokens * 6, 3 * tokenizer.max_tokens * 6 + 1)[0]
    windows = sequence_windows(tokenizer, 0, sequence)
    assert len(windows) >= 3
    assert [len(tokens) for _, tokens in windows] == [tokenizer.max_tokens] * len(windows)
    assert windows[0][0].keep_start == 0 and windows[-1][0].keep_end == len(sequence)
    assert all(a.keep_end == b.keep_start for (a, _), (b, _) in zip(windows, windows[1:]))
    whole = tokenizer.encode(sequence)
    nt_per_token = len(sequence) / int((whole.spans[:, 0] >= 0).sum())
    first = windows[0][0]
    specials = int((whole.spans[:, 0] < 0).sum())
    # the window's length in nt is its tokens times the tokenizer's nt per token on this sequence
    assert abs((first.end - first.start) / ((tokenizer.max_tokens - specials) * nt_per_token) - 1) < 0.1
