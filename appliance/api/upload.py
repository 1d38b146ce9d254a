"""Stream an HTTP request body into the (synchronous) ingest pipeline without buffering it.

The ingest reads a blocking byte stream; the body arrives as async chunks on the event loop. The
ingest runs on a worker thread and reads through :class:`BodyReader`, which pulls one chunk at a
time from the event loop (``anyio.from_thread.run``). At most one chunk plus the reader's buffer
is in memory, so an upload of any size costs a bounded amount of memory, and the plaintext never
touches the disk (multipart parsing would spool large parts to a temporary file: that is why the
upload is a raw body, not a form).

The byte limit is enforced while reading: the first byte over ``settings.max_upload_bytes``
raises :class:`PayloadTooLarge` inside the ingest, which then stores nothing (the vault writer
commits only on a clean exit).
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import anyio.from_thread
from starlette.requests import ClientDisconnect

from appliance.errors import InvalidInput, PayloadTooLarge

READ_BUFFER = 256 * 1024


class BodyReader(io.RawIOBase):
    """A blocking, read-only file over async body chunks, for use on a worker thread."""

    def __init__(self, chunks: AsyncIterator[bytes], limit: int) -> None:
        self._chunks = chunks
        self._limit = limit
        self._pending = b""
        self._eof = False
        self.received = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending and not self._eof:
            self._pending = anyio.from_thread.run(self._next_chunk)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    async def _next_chunk(self) -> bytes:
        try:
            chunk = await self._chunks.__anext__()
        except StopAsyncIteration:
            self._eof = True
            return b""
        except ClientDisconnect:
            raise InvalidInput("the client disconnected before the upload was complete; "
                               "nothing was stored") from None
        self.received += len(chunk)
        if self.received > self._limit:
            raise PayloadTooLarge(f"upload is over the limit of {self._limit} bytes; "
                                  "nothing was stored")
        return chunk


def body_stream(chunks: AsyncIterator[bytes], limit: int) -> io.BufferedReader:
    """A buffered reader (``readline`` and all) over the body, enforcing ``limit`` bytes."""
    return io.BufferedReader(BodyReader(chunks, limit), buffer_size=READ_BUFFER)
