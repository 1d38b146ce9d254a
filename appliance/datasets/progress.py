"""Ingest progress: a tqdm bar on a terminal, plain periodic lines anywhere else.

A log file or a CI job gets one line every ``interval`` seconds (records, bytes, rate) and a
last one at the end, instead of a bar's carriage returns, or nothing at all.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Literal, TextIO

from tqdm import tqdm

Mode = Literal["bar", "lines"] | None


class IngestProgress:
    """Counts bytes and records read; shows them as ``mode`` says (None: not at all)."""

    def __init__(self, name: str, total_bytes: int | None, mode: Mode, *,
                 out: TextIO | None = None, interval: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name, self.total, self.mode = name, total_bytes, mode
        self.bytes = self.records = 0
        self._out, self._interval, self._clock = out, interval, clock
        self._start = self._last = clock()
        self._bar = tqdm(total=total_bytes, unit="B", unit_scale=True, desc=f"ingest {name}",
                         disable=mode != "bar", leave=False, file=out)

    def read(self, size: int) -> None:
        self.bytes += size
        self._bar.update(size)
        self._maybe_line()

    def record(self) -> None:
        self.records += 1
        self._maybe_line()

    def close(self) -> None:
        self._bar.close()
        if self.mode == "lines":
            self._line("read")

    def _maybe_line(self) -> None:
        if self.mode == "lines" and self._clock() - self._last >= self._interval:
            self._line("read")

    def _line(self, verb: str) -> None:
        now = self._clock()
        self._last = now
        elapsed = max(now - self._start, 1e-9)
        of = f" of {_size(self.total)} ({100 * self.bytes / self.total:.0f}%)" if self.total else ""
        print(f"ingest {self.name}: {verb} {self.records:,} records, {_size(self.bytes)}{of}, "
              f"{_size(self.bytes / elapsed)}/s, {elapsed:.0f} s",
              file=self._out or sys.stderr, flush=True)


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"
