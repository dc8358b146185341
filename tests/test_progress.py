"""The progress helper: periodic log lines off a terminal, a tqdm bar on one."""

import io

from utrbench.progress import Progress


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_log_lines_every_interval_with_rate_and_time_left():
    stream, clock = io.StringIO(), FakeClock()
    progress = Progress("fine-tuning", total=400, unit="steps", stream=stream, interval=30, clock=clock)
    clock.now += 10
    progress.update(20)  # 10 s < 30 s: no line yet
    assert stream.getvalue() == ""
    clock.now += 50
    progress.update(100)  # 120 steps in 60 s = 2 steps/s; 280 left = 140 s
    progress.write("step 120: dev loss 1.0")
    clock.now += 20
    progress.update(40)  # 20 s since the last line: none
    clock.now += 40
    progress.close()  # 160 steps in 120 s
    assert stream.getvalue().splitlines() == [
        "fine-tuning: 120/400 steps (30%), 2 steps/s, 02:20 left, 01:00 elapsed",
        "step 120: dev loss 1.0",
        "fine-tuning: 160/400 steps (40%), 1.33 steps/s, 03:00 left, 02:00 elapsed",
    ]


def test_unknown_total_reports_count_and_rate_only():
    stream, clock = io.StringIO(), FakeClock()
    with Progress("DExTER exploration", unit="domains", stream=stream, clock=clock) as progress:
        clock.now += 4
        progress.update(16)
    assert stream.getvalue() == "DExTER exploration: 16 domains, 4 domains/s, 00:04 elapsed\n"


def test_a_terminal_gets_a_tqdm_bar():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    with Progress("fine-tuning", total=10, unit="steps", stream=stream) as progress:
        assert progress.bar is not None
        progress.update(10)
        progress.write("a message")
    output = stream.getvalue()
    assert "a message" in output and "10/10" in output and "fine-tuning" in output


def test_a_total_planned_block_by_block_grows_with_each_block():
    stream, clock = io.StringIO(), FakeClock()
    with Progress("zero-shot exact", unit="copies", stream=stream, clock=clock) as progress:
        progress.extend(30)  # the first block's masked copies
        clock.now += 10
        progress.update(30)
        progress.extend(10)  # the second block's
        clock.now += 10
        progress.update(10)
    assert stream.getvalue() == "zero-shot exact: 40/40 copies (100%), 2 copies/s, 00:00 left, 00:20 elapsed\n"


def test_zero_shot_and_embedding_loops_report_their_work(tmp_path):
    from utrbench.infer.embeddings import Embedder
    from utrbench.infer.zeroshot import ZeroShotScorer
    from utrbench.models.registry import init_model

    loaded = init_model("statespace", "tiny", seed=0)
    sequences = ["ACGTACGTTGCA", "TTGCAACGTAGCTAG"]
    stream, clock = io.StringIO(), FakeClock()
    with Progress("zero-shot", unit="copies", stream=stream, clock=clock) as progress:
        ZeroShotScorer(loaded, "exact", window=None, progress=progress).score(sequences)
    assert progress.done == progress.total == sum(map(len, sequences))  # one masked copy per nucleotide
    with Progress("embedding", unit="windows", stream=stream, clock=clock) as progress:
        Embedder(loaded, progress=progress).embed(sequences)
    assert progress.done == progress.total == 2
