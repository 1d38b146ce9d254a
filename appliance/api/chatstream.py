"""A streamed answer as server-sent events (WHATWG HTML, SSE), for the API and the console.

Events: ``token`` (``{"text"}``: guarded text, in order), ``withheld`` (``{"notice",
"entities"}``: the output guard withheld the answer; show the notice instead of the tokens),
``end`` (token counts, how it ended, what the guard found), or ``error`` (a problem document's
title, status, detail and reasons) if generation failed after the stream began. A refusal (the
policy, a bad request) comes before the stream, as an ordinary problem response.

The decision was made and audited before the response starts (:func:`chat.open_stream`). The
model runs on a thread of its own; each event is awaited on a worker thread. When the client goes
away, sse-starlette cancels the stream and :meth:`ChatStream.close` stops the model at its next
token and writes the outcome (``finish: disconnected``); a response that never starts is closed by
its background task, so every stream ends with its outcome in the audit log.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import anyio
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.background import BackgroundTask

from appliance.api.metrics import RequestMetrics
from appliance.api.streams import KEEPALIVE_S, sse
from appliance.errors import ApplianceError
from appliance.training.chat import ChatStream

log = logging.getLogger("appliance.api")


def chat_response(stream: ChatStream, metrics: RequestMetrics) -> EventSourceResponse:
    return EventSourceResponse(_events(stream, metrics), ping=KEEPALIVE_S, sep="\n",
                               background=BackgroundTask(stream.close))


async def _events(stream: ChatStream, metrics: RequestMetrics
                  ) -> AsyncIterator[ServerSentEvent]:
    try:
        while (event := await anyio.to_thread.run_sync(stream.next_event)) is not None:
            name, data = event
            yield sse(name, data)
    except ApplianceError as exc:
        yield sse("error", {"title": exc.title, "status": exc.http_status,
                            "detail": exc.message, "reasons": exc.reasons})
    except Exception:  # a bug: the log has the traceback, the client a generic problem
        log.exception("streamed generation failed")
        yield sse("error", {"title": "Internal error", "status": 500,
                            "detail": "generation failed; the server log has the cause",
                            "reasons": []})
    finally:
        with anyio.CancelScope(shield=True):  # a client that left must still get its outcome
            await anyio.to_thread.run_sync(stream.close)
        if stream.answer is not None:
            metrics.observe_generation([stream.answer], "stream")
