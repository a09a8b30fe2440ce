"""Tests for `robyn_server/sse.py`: byte-exact frames and payloads against the reference transcripts."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import NamedTuple

import orjson
import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from langgraph.types import Command, Interrupt, Send
from pydantic import BaseModel

from robyn_server.errors import InvalidInput
from robyn_server.sse import (
    HEARTBEAT,
    SSE_HEADERS,
    START,
    StreamId,
    dumps,
    encode_event,
    event_stream,
    parse_last_event_id,
)

# Copied byte for byte from the reference transcripts (T/chat_values.sse, T/07_resumable.txt, ...).
METADATA_FRAME = (
    b'event: metadata\r\ndata: {"run_id":"01a1fc96-9df4-751d-9c07-6ac72add143b","attempt":1}\r\n\r\n'
)
VALUES_FRAME = (
    b'event: values\r\ndata: {"messages":[{"content":"weather in Rome","additional_kwargs":{},'
    b'"response_metadata":{},"type":"human","name":null,"id":"e67f0b5a-c25a-4abe-96e8-f83b01f61092"}]}'
    b"\r\n\r\n"
)
RESUMABLE_FRAME = b'event: custom\r\ndata: {"step":1,"of":6}\r\nid: 1795239180984-0\r\n\r\n'
UPDATES_AI = (
    b'{"agent":{"messages":[{"content":"","additional_kwargs":{},"response_metadata":{},"type":"ai",'
    b'"name":null,"id":"lc_run--01a1fc96-a3df-73df-ab58-8bfa8d7001ef-0","tool_calls":[{"name":"get_weather",'
    b'"args":{"city":"Rome"},"id":"call_weather_0","type":"tool_call"}],"invalid_tool_calls":[],'
    b'"usage_metadata":null}]}}'
)
UPDATES_TOOL = (
    b'{"tools":{"messages":[{"content":"It is always sunny in Rome","additional_kwargs":{},'
    b'"response_metadata":{},"type":"tool","name":"get_weather","id":"4abe174c-672f-4c05-b839-1d1d9aeb7288",'
    b'"tool_call_id":"call_weather_0","artifact":null,"status":"success"}]}}'
)
CHUNK_LAST = (
    b'{"content":"","additional_kwargs":{},"response_metadata":{},"type":"AIMessageChunk","name":null,'
    b'"id":"lc_run--01a1fc96-abc9-77fc-9e1f-e54cb92c235e","tool_calls":[{"name":"get_weather",'
    b'"args":{"city":"Rome"},"id":"call_weather_0","type":"tool_call"}],"invalid_tool_calls":[],'
    b'"usage_metadata":null,"tool_call_chunks":[{"name":"get_weather","args":"{\\"city\\": \\"Rome\\"}",'
    b'"id":"call_weather_0","index":0,"type":"tool_call_chunk"}],"chunk_position":"last"}'
)
INTERRUPT_FRAME = (
    b'event: updates\r\ndata: {"__interrupt__":[{"value":{"question":"Approve the draft?",'
    b'"draft":"Plan for: deploy to prod"},"id":"18b73bf026edd1e0816de704090ce7a5","response_schema":null}]}'
    b"\r\n\r\n"
)


# -- encode_event ------------------------------------------------------------------------------


def test_metadata_frame_is_byte_exact() -> None:
    data = {"run_id": "01a1fc96-9df4-751d-9c07-6ac72add143b", "attempt": 1}
    assert encode_event("metadata", data) == METADATA_FRAME


def test_values_frame_with_human_message_is_byte_exact() -> None:
    msg = HumanMessage(content="weather in Rome", id="e67f0b5a-c25a-4abe-96e8-f83b01f61092")
    assert encode_event("values", {"messages": [msg]}) == VALUES_FRAME


def test_frame_with_id_is_byte_exact() -> None:
    assert encode_event("custom", {"step": 1, "of": 6}, event_id="1795239180984-0") == RESUMABLE_FRAME


def test_preserialized_bytes_are_inserted_as_is() -> None:
    assert encode_event("custom", b'{"step":1,"of":6}', event_id="1795239180984-0") == RESUMABLE_FRAME


def test_non_ascii_is_utf8_not_escaped() -> None:
    assert (
        encode_event("custom", {"city": "Zürich"})
        == 'event: custom\r\ndata: {"city":"Zürich"}\r\n\r\n'.encode()
    )


def test_heartbeat_and_headers() -> None:
    assert HEARTBEAT == b": heartbeat\r\n\r\n"
    assert SSE_HEADERS["content-type"] == "text/event-stream; charset=utf-8"
    assert SSE_HEADERS["cache-control"] == "no-store"
    assert SSE_HEADERS["x-accel-buffering"] == "no"


# -- dumps -------------------------------------------------------------------------------------


def test_ai_message_with_tool_call_matches_reference() -> None:
    msg = AIMessage(
        content="",
        id="lc_run--01a1fc96-a3df-73df-ab58-8bfa8d7001ef-0",
        tool_calls=[{"name": "get_weather", "args": {"city": "Rome"}, "id": "call_weather_0"}],
    )
    assert dumps({"agent": {"messages": [msg]}}) == UPDATES_AI


def test_tool_message_matches_reference() -> None:
    msg = ToolMessage(
        content="It is always sunny in Rome",
        name="get_weather",
        id="4abe174c-672f-4c05-b839-1d1d9aeb7288",
        tool_call_id="call_weather_0",
    )
    assert dumps({"tools": {"messages": [msg]}}) == UPDATES_TOOL


def test_ai_message_chunk_matches_reference() -> None:
    chunk = AIMessageChunk(
        content="",
        id="lc_run--01a1fc96-abc9-77fc-9e1f-e54cb92c235e",
        tool_call_chunks=[
            {"name": "get_weather", "args": '{"city": "Rome"}', "id": "call_weather_0", "index": 0}
        ],
        chunk_position="last",
    )
    assert dumps(chunk) == CHUNK_LAST


def test_interrupt_matches_reference() -> None:
    interrupt = Interrupt(
        value={"question": "Approve the draft?", "draft": "Plan for: deploy to prod"},
        id="18b73bf026edd1e0816de704090ce7a5",
    )
    assert encode_event("updates", {"__interrupt__": (interrupt,)}) == INTERRUPT_FRAME


def test_interrupt_response_schema_type_becomes_json_schema() -> None:
    class Decision(BaseModel):
        approved: bool

    data = orjson.loads(dumps(Interrupt(value=1, id="x", response_schema=Decision)))
    assert data["response_schema"]["properties"] == {"approved": {"title": "Approved", "type": "boolean"}}


def test_langgraph_send_and_command() -> None:
    assert dumps(Send("node", {"a": 1})) == b'{"node":"node","arg":{"a":1}}'
    assert (
        dumps(Command(resume={"ok": True})) == b'{"graph":null,"update":null,"resume":{"ok":true},"goto":[]}'
    )


def test_misc_types() -> None:
    @dataclasses.dataclass
    class Point:
        x: int
        tags: set[str]

    class Pair(NamedTuple):
        a: int
        b: str

    uid = uuid.UUID("01a1fc96-9df4-751d-9c07-6ac72add143b")
    when = datetime(2026, 11, 21, 5, 31, 16, 976075, tzinfo=UTC)
    assert dumps({"u": uid, "t": when}) == (
        b'{"u":"01a1fc96-9df4-751d-9c07-6ac72add143b","t":"2026-11-21T05:31:16.976075+00:00"}'
    )
    assert dumps(Point(1, {"q"})) == b'{"x":1,"tags":["q"]}'
    assert dumps(Pair(1, "b")) == b'{"a":1,"b":"b"}'
    assert dumps(b"\x00\x01") == b'"AAE="'
    assert dumps(ValueError("boom")) == b'{"error":"ValueError","message":"boom"}'
    assert dumps({1: "int key"}) == b'{"1":"int key"}'
    assert dumps(object)[:1] == b'"'  # anything else is its str()
    assert dumps(2**70) == b"1180591620717411303424"  # beyond orjson's 64-bit range


# -- parse_last_event_id -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("0", START),
        ("-1", START),
        ("-", START),
        ("1795239178984-0", StreamId(1795239178984, 0)),
        ("1795239178984-7", StreamId(1795239178984, 7)),
        ("1795239178984", StreamId(1795239178984, 0)),
    ],
)
def test_parse_last_event_id(value: str | None, expected: StreamId | None) -> None:
    assert parse_last_event_id(value) == expected


@pytest.mark.parametrize("value", ["abc", "1-2-3", "-2", "1-", "x-1", "1795239178984-a", "١٢"])
def test_parse_last_event_id_rejects(value: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_last_event_id(value)
    assert info.value.status_code == 422
    assert info.value.detail == "Invalid last-event-id: must be a valid Redis stream ID"


def test_stream_id_str_and_order() -> None:
    assert str(StreamId(5, 1)) == "5-1"
    assert START < StreamId(1, 0) < StreamId(1, 1) < StreamId(2, 0)


# -- event_stream ------------------------------------------------------------------------------


@dataclasses.dataclass
class _Event:
    id: str
    event: str
    data: bytes


class _ScriptedSource:
    """Returns pre-set batches; a float in the script is a pause that then times out."""

    def __init__(self, script: list[list[_Event] | float]) -> None:
        self.script = script
        self.timeouts: list[float | None] = []
        self.closed = False

    def close(self) -> None:
        self.closed = True

    async def next_batch(self, timeout: float | None = None) -> Sequence[_Event] | None:
        self.timeouts.append(timeout)
        if not self.script:
            return None
        step = self.script.pop(0)
        if isinstance(step, float):
            await asyncio.sleep(step)
            return []
        return step


async def test_event_stream_coalesces_batches_and_sends_heartbeats() -> None:
    a = _Event("1-0", "custom", b"1")
    b = _Event("1-1", "custom", b"2")
    source = _ScriptedSource([[a, b], 0.06, [a]])
    chunks = [c async for c in event_stream(source, with_ids=True, heartbeat_interval=0.05)]
    assert chunks == [
        b"event: custom\r\ndata: 1\r\nid: 1-0\r\n\r\nevent: custom\r\ndata: 2\r\nid: 1-1\r\n\r\n",
        HEARTBEAT,
        b"event: custom\r\ndata: 1\r\nid: 1-0\r\n\r\n",
    ]
    assert all(t is not None and t <= 0.05 for t in source.timeouts)
    assert source.closed


async def test_event_stream_closes_the_source_when_abandoned() -> None:
    source = _ScriptedSource([[_Event("1-0", "custom", b"1")], [_Event("1-1", "custom", b"2")]])
    stream = event_stream(source, with_ids=False)
    assert await anext(stream) == b"event: custom\r\ndata: 1\r\n\r\n"
    await stream.aclose()  # what a server does when the client disconnects
    assert source.closed


async def test_event_stream_heartbeat_schedule_counts_from_start() -> None:
    now = [0.0]
    ev = _Event("1-0", "values", b"{}")

    class Source:
        # Each call advances the fake clock by 3 s and yields one event: heartbeats still come at 5, 10.
        calls = 0

        def close(self) -> None:
            pass

        async def next_batch(self, timeout: float | None = None) -> list[_Event] | None:
            Source.calls += 1
            if Source.calls > 4:
                return None
            now[0] += 3.0
            return [ev]

    chunks = [
        c async for c in event_stream(Source(), with_ids=False, heartbeat_interval=5.0, clock=lambda: now[0])
    ]
    frame = b"event: values\r\ndata: {}\r\n\r\n"
    assert chunks == [frame, frame, HEARTBEAT, frame, frame, HEARTBEAT]
