"""SSE and long-poll JSON responses over Robyn's StreamingResponse.

Robyn facts this module is shaped by: an exception inside the generator ends the body
silently, so errors become an `event: error` frame here; `after_request` never sees a
stream, so CORS headers are set on the response itself; a client that hangs up is only
noticed at a later write, as `GeneratorExit` at the `yield` (heartbeats make that happen).
That `GeneratorExit` is thrown in from one of Robyn's own threads, with no event loop, so the
clean-up of an abandoned body (closing the subscription, `on_disconnect: cancel`, the stream
count) is handed back to the server's loop (`_cleanup_on`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable

from robyn import StreamingResponse
from robyn.robyn import Headers

from robyn_server.engine.broker import Subscription
from robyn_server.engine.streaming import error_payload
from robyn_server.http import request_context
from robyn_server.lifecycle import StreamTracker
from robyn_server.sse import SSE_HEADERS, dumps, encode_event, event_stream

logger = logging.getLogger(__name__)

# Robyn forces `Content-Type: text/event-stream` (no charset) for that exact media type, and
# does not stream other media types reliably; this spelling streams and keeps our header.
_STREAM_MEDIA_TYPE = "text/event-stream; charset=utf-8"

# Robyn writes these on every streaming response itself; sending ours too would double them.
# (It also adds its own `cache-control`, which we cannot suppress, so ours stays next to it.)
_SET_BY_ROBYN = frozenset({"x-accel-buffering"})


def _headers(base: dict[str, str], extra: dict[str, str] | None) -> Headers:
    ctx = request_context.get()
    merged = {**(ctx.cors_headers if ctx else {}), **base, **(extra or {})}
    return Headers({k: v for k, v in merged.items() if k.lower() not in _SET_BY_ROBYN})


def _cleanup_on(loop: asyncio.AbstractEventLoop, cleanup: Callable[[], None]) -> None:
    """Run `cleanup` on `loop`: now if this is the loop's thread, else as soon as the loop can."""
    try:
        current = asyncio.get_running_loop()
    except RuntimeError:
        current = None
    if current is loop:
        cleanup()
    elif not loop.is_closed():
        loop.call_soon_threadsafe(cleanup)


def _close_later(loop: asyncio.AbstractEventLoop, stream: AsyncGenerator[bytes, None]) -> None:
    """Close an abandoned inner generator on the loop (its `finally` closes the subscription)."""
    task = loop.create_task(stream.aclose())
    task.add_done_callback(lambda t: t.cancelled() or t.exception())


def sse_response(
    tracker: StreamTracker,
    source: Subscription,
    *,
    with_ids: bool,
    heartbeat: float,
    headers: dict[str, str] | None = None,
    on_abandon: Callable[[], None] | None = None,
) -> StreamingResponse:
    """An SSE response fed by a broker subscription.

    Args:
        on_abandon: called on the server's loop when the client went away before the end,
            e.g. to honour `on_disconnect: cancel`.
    """

    async def body() -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        tracker.enter()
        stream = event_stream(source, with_ids=with_ids, heartbeat_interval=heartbeat)
        finished = False
        try:
            async for chunk in stream:
                yield chunk
            finished = True
        except Exception as error:  # Robyn would end the body silently; say what happened
            logger.exception("stream failed")
            finished = True
            yield encode_event("error", error_payload(error))
        finally:

            def cleanup() -> None:
                tracker.leave()
                if not finished:
                    _close_later(loop, stream)
                    if on_abandon is not None:
                        on_abandon()

            _cleanup_on(loop, cleanup)

    return StreamingResponse(body(), media_type=_STREAM_MEDIA_TYPE, headers=_headers(SSE_HEADERS, headers))


def error_stream(
    tracker: StreamTracker, payload: dict, *, headers: dict[str, str] | None = None
) -> StreamingResponse:
    """A 200 SSE body carrying one `error` event (the reference's answer to joining a missing run)."""

    async def body() -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        tracker.enter()
        try:
            yield encode_event("error", payload)
        finally:
            _cleanup_on(loop, tracker.leave)

    return StreamingResponse(body(), media_type=_STREAM_MEDIA_TYPE, headers=_headers(SSE_HEADERS, headers))


def json_wait_response(
    tracker: StreamTracker,
    result: Awaitable[bytes],
    *,
    heartbeat: float,
    headers: dict[str, str] | None = None,
    on_abandon: Callable[[], None] | None = None,
) -> StreamingResponse:
    """A JSON body written when `result` is ready, with `\\n` keep-alives meanwhile (as the reference)."""

    async def body() -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        tracker.enter()
        task = asyncio.ensure_future(result)
        finished = False
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=heartbeat)
                if done:
                    break
                yield b"\n"
            finished = True
            yield task.result()
        except Exception as error:
            logger.exception("waiting for a run failed")
            finished = True
            yield dumps({"__error__": error_payload(error)})
        finally:

            def cleanup() -> None:
                tracker.leave()
                if not finished:
                    task.cancel()
                    if on_abandon is not None:
                        on_abandon()

            _cleanup_on(loop, cleanup)

    json_headers = {"Content-Type": "application/json", "Cache-Control": "no-store"}
    return StreamingResponse(body(), media_type=_STREAM_MEDIA_TYPE, headers=_headers(json_headers, headers))
