"""Progress of long loops: a tqdm bar on a terminal, periodic log lines otherwise.

Under Nextflow stderr is a file (``.command.log``), where a redrawn bar is unreadable, so there a
:class:`Progress` writes one line every ``interval`` seconds (and when done) with the count, the
rate and the estimated time left::

    fine-tuning: 120/400 steps (30%), 2.31 steps/s, 0:02:01 left

Entry points create one and hand it to the package's loops, which call :meth:`Progress.update`
and :meth:`Progress.write`; :data:`SILENT` does nothing, for callers that want no output.
"""

import sys
import time

from tqdm import tqdm

LOG_INTERVAL_SECONDS = 30.0


class Progress:
    """Count units of work done out of ``total`` (``None`` when not known in advance)."""

    def __init__(self, description: str, total=None, unit: str = "it", stream=None,
                 interval: float = LOG_INTERVAL_SECONDS, clock=time.monotonic):
        self.description = description
        self.total = total
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self.clock = clock
        self.done = 0
        self.bar = None
        if getattr(self.stream, "isatty", lambda: False)():
            self.bar = tqdm(total=total, desc=description, unit=unit, file=self.stream, dynamic_ncols=True)
        self.started = self.last_logged = clock()

    def update(self, n: int = 1) -> None:
        """``n`` more units done; on a log stream, a line when ``interval`` seconds have passed."""
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        elif self.clock() - self.last_logged >= self.interval:
            self._log_line()

    def extend(self, n: int) -> None:
        """``n`` more units to do: for loops that plan their work block by block."""
        self.total = (self.total or 0) + n
        if self.bar is not None:
            self.bar.total = self.total
            self.bar.refresh()

    def write(self, message: str) -> None:
        """A message line that does not break the bar."""
        if self.bar is not None:
            self.bar.write(message, file=self.stream)
        else:
            print(message, file=self.stream, flush=True)

    def close(self) -> None:
        """Finish: close the bar, or write the final log line."""
        if self.bar is not None:
            self.bar.close()
        else:
            self._log_line()

    def status(self) -> str:
        """``description: done/total unit (percent), rate unit/s, time left``."""
        elapsed = max(self.clock() - self.started, 1e-9)
        rate = self.done / elapsed
        count = f"{self.done}/{self.total}" if self.total else f"{self.done}"
        line = f"{self.description}: {count} {self.unit}"
        if self.total:
            line += f" ({100 * self.done / self.total:.0f}%)"
        line += f", {rate:.3g} {self.unit}/s"
        if self.total and rate > 0:
            line += f", {tqdm.format_interval(max(self.total - self.done, 0) / rate)} left"
        return line + f", {tqdm.format_interval(elapsed)} elapsed"

    def _log_line(self) -> None:
        self.last_logged = self.clock()
        print(self.status(), file=self.stream, flush=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _Silent:
    """A progress that reports nothing (the default of the package's loops)."""

    def update(self, n: int = 1) -> None:
        pass

    def extend(self, n: int) -> None:
        pass

    def write(self, message: str) -> None:
        pass

    def close(self) -> None:
        pass


SILENT = _Silent()
