"""Server-sent events: the one JSON serializer for wire payloads, the one frame encoder, the
heartbeat, the stream headers and `Last-Event-ID` parsing.

Wire format (reference `langgraph dev`, see `langgraph-api.md` §6.1), CRLF line ends, one `data:`
line, `id:` only for resumable streams:

    event: <name>\\r\\ndata: <compact JSON>\\r\\n[id: <ms>-<seq>\\r\\n]\\r\\n

Framework-free: routes wrap `event_stream(...)` in whatever streaming response their framework has.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import json
import re
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import date, datetime, timedelta, tzinfo
from datetime import time as dt_time
from decimal import Decimal
from ipaddress import IPv4Address, IPv4Interface, IPv4Network, IPv6Address, IPv6Interface, IPv6Network
from pathlib import PurePath
from typing import Any, NamedTuple, Protocol

from langgraph.types import Interrupt, Send

from robyn_server.errors import InvalidInput

try:
    import orjson
except ImportError:  # pragma: no cover - orjson ships with robyn; the fallback keeps the core standalone
    orjson = None  # type: ignore[assignment]

__all__ = [
    "HEARTBEAT",
    "HEARTBEAT_INTERVAL",
    "SSE_HEADERS",
    "START",
    "EventSource",
    "StreamId",
    "WireEvent",
    "dumps",
    "encode_event",
    "event_stream",
    "parse_last_event_id",
]

HEARTBEAT = b": heartbeat\r\n\r\n"
"""The keep-alive comment the reference writes every 5 s from connection start."""

HEARTBEAT_INTERVAL = 5.0

SSE_HEADERS: dict[str, str] = {
    "cache-control": "no-store",
    "connection": "keep-alive",
    "x-accel-buffering": "no",
    "content-type": "text/event-stream; charset=utf-8",
}
"""Stream response headers in the reference's order; routes add `location`/`content-location`."""


# ---------------------------------------------------------------------------------------------
# JSON


def _json_schema_of(schema: Any) -> Any:
    """An interrupt's `response_schema` as JSON Schema (it may be recorded as a Python type)."""
    if schema is None or isinstance(schema, dict):
        return schema
    try:
        from pydantic import TypeAdapter

        return TypeAdapter(schema).json_schema()
    except Exception:
        return None


def _default(obj: Any) -> Any:
    """orjson/json `default=` hook: turn one non-native object into JSON-native values.

    LangChain messages and other pydantic models become their `model_dump()` dict, which is
    what the reference emits (not `dumpd`'s constructor form).
    """
    if isinstance(obj, Interrupt):
        return {"value": obj.value, "id": obj.id, "response_schema": _json_schema_of(obj.response_schema)}
    if isinstance(obj, Send):
        return {"node": obj.node, "arg": obj.arg}
    if hasattr(obj, "model_dump") and not isinstance(obj, type):
        return obj.model_dump()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        # Shallow on purpose: `asdict` deep-copies, and nested values come back through this hook.
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if isinstance(obj, tuple) and hasattr(obj, "_asdict"):
        return obj._asdict()
    if isinstance(obj, BaseException):
        return {"error": type(obj).__name__, "message": str(obj)}
    if isinstance(obj, set | frozenset | deque | tuple):
        return list(obj)
    if isinstance(obj, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(obj)).decode("ascii")
    if isinstance(obj, timedelta):
        return obj.total_seconds()
    if isinstance(obj, Decimal):
        return int(obj) if obj.is_finite() and obj == obj.to_integral_value() else float(obj)
    if isinstance(obj, tzinfo):
        return obj.tzname(None)
    if isinstance(obj, re.Pattern):
        return obj.pattern
    if isinstance(
        obj,
        PurePath | IPv4Address | IPv4Interface | IPv4Network | IPv6Address | IPv6Interface | IPv6Network,
    ):
        return str(obj)
    return str(obj)


if orjson is not None:
    _ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS

    def dumps(obj: Any) -> bytes:
        """Serialize `obj` to compact UTF-8 JSON, the one serializer for wire payloads.

        Handles LangChain messages and other pydantic models (`model_dump()`), dataclasses,
        named tuples, `Interrupt` (`{"value","id","response_schema"}`), `Send`, UUIDs and
        datetimes (str / ISO-8601), sets, bytes (base64) and falls back to `str()`.
        """
        try:
            # orjson's result keeps its ~8 KiB write buffer allocated whatever its length; payloads
            # are retained (stream logs, run outcomes), so keep an exact-size copy instead.
            return bytes(memoryview(orjson.dumps(obj, default=_default, option=_ORJSON_OPTIONS)))
        except orjson.JSONEncodeError:
            # orjson refuses ints beyond 64 bits and nesting deeper than 254; the stdlib does not.
            return _stdlib_dumps(obj)

else:  # pragma: no cover

    def dumps(obj: Any) -> bytes:
        """Serialize `obj` to compact UTF-8 JSON (stdlib fallback, see the orjson variant)."""
        return _stdlib_dumps(obj)


def _stdlib_default(obj: Any) -> Any:
    """The stdlib encoder lacks orjson's native UUID/datetime/enum support; add it."""
    if isinstance(obj, uuid.UUID):
        return str(obj)
    if isinstance(obj, datetime | date | dt_time):
        return obj.isoformat()
    if isinstance(obj, enum.Enum):
        return obj.value
    return _default(obj)


def _stdlib_dumps(obj: Any) -> bytes:
    return json.dumps(obj, default=_stdlib_default, separators=(",", ":"), ensure_ascii=False).encode()


# ---------------------------------------------------------------------------------------------
# Frames


def encode_event(event: str, data: Any, *, event_id: str | None = None) -> bytes:
    """Encode one SSE frame exactly as the reference does.

    Args:
        event: the event name (`metadata`, `values`, `updates|child:<task id>`, ...).
        data: the payload; `bytes` are taken as already-serialized compact JSON and inserted
            as-is (they must not contain a line break), anything else goes through `dumps`.
        event_id: the `<ms>-<seq>` id, written only when given (resumable streams).

    Returns:
        `event: <name>\\r\\ndata: <json>\\r\\n[id: <id>\\r\\n]\\r\\n` as bytes.
    """
    payload = data if isinstance(data, bytes) else dumps(data)
    head = b"event: " + event.encode() + b"\r\ndata: "
    if event_id is None:
        return head + payload + b"\r\n\r\n"
    return head + payload + b"\r\nid: " + event_id.encode() + b"\r\n\r\n"


class WireEvent(Protocol):
    """What `event_stream` needs from an event (the broker's `StreamEvent` is one)."""

    @property
    def id(self) -> str: ...
    @property
    def event(self) -> str: ...
    @property
    def data(self) -> bytes: ...


class EventSource(Protocol):
    """A batch source such as the broker's `Subscription`."""

    async def next_batch(self, timeout: float | None = None) -> Sequence[WireEvent] | None:
        """Events available now (waiting up to `timeout` for one); `[]` on timeout, None at end."""
        ...

    def close(self) -> None:
        """Stop following; called once the stream is over or abandoned."""
        ...


async def event_stream(
    source: EventSource,
    *,
    with_ids: bool,
    heartbeat_interval: float = HEARTBEAT_INTERVAL,
    clock: Callable[[], float] = time.monotonic,
) -> AsyncIterator[bytes]:
    """Turn a subscription into the chunks of an SSE body.

    Events that are already queued are coalesced into one chunk. A heartbeat comment goes out
    every `heartbeat_interval` seconds counted from the start, whether or not events flowed in
    between (the reference's schedule). Ends when the source ends. The source is closed on the
    way out, also when the consumer abandons the generator (client disconnect), so a route can
    hand `event_stream(broker.subscribe(...), ...)` straight to its streaming response.

    Args:
        source: where events come from.
        with_ids: write `id:` lines (resumable runs and thread streams).
        heartbeat_interval: seconds between heartbeats.
        clock: monotonic clock, injectable for tests.
    """
    next_heartbeat = clock() + heartbeat_interval
    try:
        while True:
            batch = await source.next_batch(max(0.0, next_heartbeat - clock()))
            if batch is None:
                return
            if batch:
                yield b"".join(
                    encode_event(e.event, e.data, event_id=e.id if with_ids else None) for e in batch
                )
            if clock() >= next_heartbeat:
                yield HEARTBEAT
                next_heartbeat += heartbeat_interval
    finally:
        source.close()


# ---------------------------------------------------------------------------------------------
# Event ids


class StreamId(NamedTuple):
    """A Redis-stream-style event id `<epoch-ms>-<seq>`; tuples order like the ids do."""

    ms: int
    seq: int

    def __str__(self) -> str:
        return f"{self.ms}-{self.seq}"


START = StreamId(0, 0)
"""Sorts before every real id (Redis never issues `0-0`): "replay from the first event"."""

_STREAM_ID = re.compile(r"(\d+)(?:-(\d+))?")


def parse_last_event_id(value: str | None) -> StreamId | None:
    """Parse a `Last-Event-ID` header.

    Accepted: `<ms>-<seq>`, a bare `<ms>` (= `<ms>-0`, as Redis reads it), and `0`, `-1`, `-`
    meaning "from the start" (`START`). A missing or empty header is None: follow the live tail.

    Raises:
        InvalidInput: anything else (the reference's 422 text).
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value in ("-1", "-"):
        return START
    match = _STREAM_ID.fullmatch(value)
    if match is None or not value.isascii():
        raise InvalidInput("Invalid last-event-id: must be a valid Redis stream ID")
    return StreamId(int(match[1]), int(match[2] or 0))
