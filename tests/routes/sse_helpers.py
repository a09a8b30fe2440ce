"""Helpers for the HTTP streaming and state tests: strict SSE parsing, transcripts, masking.

`parse_frames` checks the reference framing byte by byte (CRLF line ends, `event:` then one
`data:` line, optional `id:`, blank line; `: heartbeat` comments) while it parses, so every test
that reads a stream also checks the framing.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.engine.test_streaming import Masker, without_late_tool_ids

TRANSCRIPTS = Path(
    os.environ.get("ROBYN_REFERENCE_TRANSCRIPTS")
    or Path(__file__).resolve().parents[3] / "shared" / "reference" / "transcripts"
)

HEARTBEAT = b": heartbeat\r\n\r\n"
_EVENT_ID = re.compile(r"^\d{13}-\d+$")


@dataclass(frozen=True)
class Frame:
    """One SSE event as received."""

    event: str
    data: Any
    id: str | None
    raw: bytes


def parse_frames(body: bytes) -> tuple[list[Frame], int]:
    """Events and the number of heartbeat comments of a complete SSE body.

    Fails the test on anything but the reference framing.
    """
    if not body:
        return [], 0
    assert body.endswith(b"\r\n\r\n"), body[-200:]
    frames: list[Frame] = []
    heartbeats = 0
    for block in body[:-4].split(b"\r\n\r\n"):
        raw = block + b"\r\n\r\n"
        if raw == HEARTBEAT:
            heartbeats += 1
            continue
        assert b"\n" not in block.replace(b"\r\n", b""), f"bare LF in {block[:200]!r}"
        assert b"\r" not in block.replace(b"\r\n", b""), f"bare CR in {block[:200]!r}"
        lines = block.split(b"\r\n")
        assert len(lines) in (2, 3), f"unexpected frame {block[:300]!r}"
        assert lines[0].startswith(b"event: ") and lines[1].startswith(b"data: "), block[:300]
        event_id = None
        if len(lines) == 3:
            assert lines[2].startswith(b"id: "), block[:300]
            event_id = lines[2][4:].decode()
            assert _EVENT_ID.match(event_id), event_id
        payload = lines[1][6:]
        data = json.loads(payload)
        assert json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode() == payload, (
            "payload is not compact JSON"
        )
        frames.append(Frame(lines[0][7:].decode(), data, event_id, raw))
    return frames, heartbeats


def events(frames: list[Frame]) -> list[tuple[str, Any]]:
    """`(event, data)` pairs."""
    return [(f.event, f.data) for f in frames]


def transcript(name: str) -> tuple[dict[str, str], list[Frame]]:
    """A reference `.sse` transcript: its response headers and events (metadata included)."""
    path = TRANSCRIPTS / f"{name}.sse"
    if not path.exists():
        pytest.skip(f"reference transcript {path} not available")
    head, body = path.read_bytes().split(b"\n\n", 1)
    headers = dict(line.split(": ", 1) for line in head.decode().splitlines()[1:])
    frames, _ = parse_frames(body)
    return headers, frames


# Keys of the run's own metadata/configurable that differ by server: the reference adds
# `run_attempt`, `langgraph_*` version/host keys and its request bookkeeping; we add `owner`,
# `user_id` and forwarded headers. Everything LangGraph itself puts in these dicts is compared.
SERVER_KEYS = frozenset(
    {
        "created_by",
        "graph_id",
        "assistant_id",
        "run_attempt",
        "langgraph_version",
        "langgraph_api_version",
        "langgraph_plan",
        "langgraph_host",
        "langgraph_api_url",
        "owner",
        "user_id",
        "run_id",
        "thread_id",
        "langgraph_auth_user",
        "langgraph_auth_user_id",
        "langgraph_auth_permissions",
        "langgraph_request_id",
        "__request_start_time_ms__",
        "__after_seconds__",
        "user-agent",
    }
)


def _strip_server_keys(value: Any, parent: str | None = None) -> Any:
    if isinstance(value, dict):
        drop = parent in ("metadata", "configurable")
        return {
            k: _strip_server_keys(v, k)
            for k, v in value.items()
            if not (drop and (k in SERVER_KEYS or k.startswith("x-")))
        }
    if isinstance(value, list):
        return [_strip_server_keys(v) for v in value]
    return value


def comparable(pairs: list[tuple[str, Any]]) -> list[tuple[str, str]]:
    """Masked `(event, json)` pairs with server-specific run metadata removed.

    The metadata of `messages` tuples (`[chunk, metadata]`) is treated like a `metadata` dict.
    """
    prepared = []
    for name, data in without_late_tool_ids(pairs):
        if name.partition("|")[0] == "messages" and isinstance(data, list) and len(data) == 2:
            data = [_strip_server_keys(data[0]), _strip_server_keys(data[1], "metadata")]
        else:
            data = _strip_server_keys(data)
        prepared.append((name, data))
    return Masker().events(prepared)


def stream_run(
    client: httpx.Client, thread_id: str, body: dict[str, Any], **kwargs: Any
) -> tuple[httpx.Response, list[Frame], int]:
    """POST `/threads/{id}/runs/stream` and read it to the end: (response, events, heartbeats)."""
    with client.stream("POST", f"/threads/{thread_id}/runs/stream", json=body, **kwargs) as response:
        body_bytes = response.read()
    if response.status_code != 200:
        return response, [], 0
    frames, heartbeats = parse_frames(body_bytes)
    return response, frames, heartbeats


class LiveStream:
    """An open SSE response read incrementally (for disconnects, joins and thread streams)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._chunks: Iterator[bytes] = response.iter_raw()
        self.buffer = b""
        self.frames: list[Frame] = []
        self.heartbeats = 0
        self.closed = False

    def _take_complete(self) -> None:
        end = self.buffer.rfind(b"\r\n\r\n")
        if end < 0:
            return
        complete, self.buffer = self.buffer[: end + 4], self.buffer[end + 4 :]
        frames, heartbeats = parse_frames(complete)
        self.frames.extend(frames)
        self.heartbeats += heartbeats

    def read_until(self, done: Callable[[LiveStream], bool], timeout: float = 10.0) -> LiveStream:
        """Read chunks until `done(self)` or the body ends; fail at the deadline."""
        deadline = time.monotonic() + timeout
        while not done(self):
            if self.closed:
                return self
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"stream condition not met in {timeout}s: {[f.event for f in self.frames]}"
                )
            try:
                chunk = next(self._chunks)
            except StopIteration:
                self.closed = True
                assert not self.buffer, self.buffer
                return self
            self.buffer += chunk
            self._take_complete()
        return self

    def read_events(self, count: int, timeout: float = 10.0) -> LiveStream:
        """Read until at least `count` events arrived."""
        return self.read_until(lambda s: len(s.frames) >= count, timeout)

    def read_to_end(self, timeout: float = 10.0) -> LiveStream:
        """Read until the server closes the body."""
        return self.read_until(lambda s: False, timeout)


def poll(probe: Callable[[], Any], accept: Callable[[Any], bool], timeout: float = 5.0) -> Any:
    """Call `probe` every 20 ms until `accept(value)`; fail with the last value at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if accept(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last value: {value!r}")
        time.sleep(0.02)
