"""Cutting a byte stream into fixed-size segments while holding back the last one.

Both directions of a segmented AEAD (Tink's streaming AEAD, STREAM) need to know whether a segment
is the last one before they process it: the last-segment flag is part of its nonce. A segment is
therefore released as "not last" only once at least one byte beyond it has arrived; whatever is
buffered when the input ends is the last segment (possibly full, possibly empty).

Memory stays constant: one buffer of the largest segment size. Segments that lie wholly inside an
input chunk are returned as views of that chunk, without copying; only segments straddling two
chunks are copied, once, into the buffer.
"""

from __future__ import annotations

from collections.abc import Iterator


class SegmentCutter:
    """Push bytes in; get back complete, known-not-last segments as memoryviews.

    The views are only valid until the generator returned by :meth:`feed` is resumed (they may
    point into the reused buffer), so consume each one before asking for the next.
    """

    def __init__(self, first_size: int, size: int) -> None:
        if first_size < 0 or size <= 0:
            raise ValueError("segment sizes must be positive")
        self._buffer = bytearray(max(first_size, size))
        self._view = memoryview(self._buffer)
        self._fill = 0
        self._need = first_size
        self._size = size

    def feed(self, data: bytes | bytearray | memoryview) -> Iterator[memoryview]:
        """Yield each segment that is now complete and followed by at least one more byte."""
        chunk = memoryview(data).cast("B")
        pos, end = 0, len(chunk)
        if self._fill:
            room = self._need - self._fill
            if end <= room:  # not enough to prove the buffered segment is not the last
                self._view[self._fill : self._fill + end] = chunk
                self._fill += end
                return
            self._view[self._fill : self._need] = chunk[:room]
            pos = room
            yield self._view[: self._need]
            self._fill, self._need = 0, self._size
        while end - pos > self._need:
            yield chunk[pos : pos + self._need]
            pos += self._need
            self._need = self._size
        self._view[: end - pos] = chunk[pos:]
        self._fill = end - pos

    def finish(self) -> memoryview:
        """The held-back bytes: the last segment (the input is over)."""
        return self._view[: self._fill]
