"""`robyn_server/engine/streaming.py` against the reference transcripts (no server).

Our test graphs (`tests/graphs/test_graphs.py`) behave like the reference peer's graphs, so a run
through `stream_graph` with the transcript's request must give the transcript's events once
volatile values (uuids, checkpoint ids, lc_run ids, interrupt ids, timestamps) are masked. The
run config copies what langgraph-api put into the reference runs' config (its extra
`configurable` and `metadata` keys included), so masked payloads are compared in full: event
names, order, keys, key order and values.

Transcripts are read from `../shared/reference/transcripts` beside the checkout (override with
`ROBYN_REFERENCE_TRANSCRIPTS`); tests that need one skip when it is missing. Scenarios the
transcripts lack were captured from the same reference server (langgraph-api 0.16.7,
langgraph 1.2.22) and are pinned below as event-name sequences.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.errors import GraphRecursionError
from langgraph.store.memory import InMemoryStore
from langgraph.types import Command

from robyn_server import errors
from robyn_server.engine.graphs import GraphRegistry, system_assistant_id
from robyn_server.engine.stream_modes import ModeTranslator
from robyn_server.engine.streaming import (
    WIRE_MODES,
    WireEvent,
    error_payload,
    normalize_stream_modes,
    stream_graph,
)
from robyn_server.sse import encode_event

GRAPHS_CONFIG = Path(__file__).parents[1] / "graphs" / "langgraph.json"
TRANSCRIPTS = Path(
    os.environ.get("ROBYN_REFERENCE_TRANSCRIPTS")
    or Path(__file__).resolve().parents[3] / "shared" / "reference" / "transcripts"
)

WEATHER = {"messages": [{"role": "user", "content": "weather in Rome"}]}

Event = tuple[str, Any]


# ---------------------------------------------------------------------------------------------
# Helpers


def parse_sse(body: bytes) -> list[Event]:
    """`(event, data)` pairs of an SSE body (CRLF framing, one `data:` line per event)."""
    events = []
    for block in body.decode().split("\r\n\r\n"):
        if not block.strip() or block.startswith(":"):
            continue
        fields = dict(line.split(": ", 1) for line in block.split("\r\n"))
        events.append((fields["event"], json.loads(fields["data"])))
    return events


def transcript(name: str) -> list[Event]:
    """A transcript's events without the leading `metadata` (the caller of `stream_graph` emits it)."""
    path = TRANSCRIPTS / f"{name}.sse"
    if not path.exists():
        pytest.skip(f"reference transcript {path} not available")
    raw = path.read_bytes()
    events = parse_sse(raw.split(b"\n\n", 1)[1])  # status line + headers end at the first blank line
    assert events[0][0] == "metadata"
    return events[1:]


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00$")


class Masker:
    """Replaces volatile values by numbered placeholders, numbered in order of first appearance.

    Numbering (instead of one generic placeholder) keeps identities checkable: the same uuid
    must come back in the same places (message ids, run ids, task ids, namespaces).
    """

    def __init__(self) -> None:
        self._seen: dict[str, str] = {}

    def _name(self, kind: str, value: str) -> str:
        if value not in self._seen:
            self._seen[value] = f"<{kind}{len(self._seen)}>"
        return self._seen[value]

    def text(self, value: str) -> str:
        if _TIMESTAMP.match(value):
            return "<timestamp>"
        if _HEX32.match(value):
            return self._name("hex", value)
        return _UUID.sub(lambda m: self._name("uuid", m.group()), value)

    def __call__(self, value: Any, key: str | None = None) -> Any:
        if key == "__request_start_time_ms__":
            return "<ms>"
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(k): self(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self(v) for v in value]
        return value

    def events(self, events: list[Event]) -> list[tuple[str, str]]:
        """Masked events, the payload as JSON text so that key order is compared too."""
        return [(self.text(name), json.dumps(self(data))) for name, data in events]


def masked(events: list[Event]) -> list[tuple[str, str]]:
    return Masker().events(events)


def without_late_tool_ids(events: list[Event]) -> list[Event]:
    """Known difference: ToolMessage ids in `events` payloads emitted before LangGraph stamps them.

    `on_tool_end` and the tool node's `on_chain_stream`/`on_chain_end` carry a ToolMessage that
    gets its id only when LangGraph applies the step's writes (in place, on the same object).
    The reference serializes each event later, on a worker thread, so by then the id is usually
    there; we serialize at once and show `null`. Both sides get `id: null` in those events.
    """

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            if value.get("type") == "tool" and "tool_call_id" in value:
                return {**value, "id": None}
            return {k: strip(v) for k, v in value.items()}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return [
        (name, {**data, "data": strip(data["data"])})
        if name == "events"
        and (data["event"] == "on_tool_end" or data["event"] in ("on_chain_stream", "on_chain_end"))
        and data["name"] in ("get_weather", "tools")
        else (name, data)
        for name, data in events
    ]


def event_names(events: list[Event]) -> list[str]:
    """Names with namespaces masked; `events` events as `events:<event>:<name>`."""
    return [
        f"events:{data['event']}:{data['name']}" if name == "events" else _UUID.sub("*", name)
        for name, data in events
    ]


def run_config(graph_id: str, thread_id: str | None = None) -> dict[str, Any]:
    """A run config shaped like the ones langgraph-api built for the transcripts' runs."""
    thread_id, run_id = thread_id or str(uuid.uuid4()), str(uuid.uuid4())
    assistant_id = system_assistant_id(graph_id)
    return {
        "configurable": {
            "langgraph_auth_user": None,
            "langgraph_auth_user_id": "",
            "langgraph_auth_permissions": [],
            "langgraph_request_id": str(uuid.uuid4()),
            "__request_start_time_ms__": 0,
            "__after_seconds__": 0,
            "run_id": run_id,
            "thread_id": thread_id,
            "graph_id": graph_id,
            "assistant_id": assistant_id,
            "user_id": "",
        },
        "metadata": {
            "created_by": "system",
            "graph_id": graph_id,
            "assistant_id": assistant_id,
            "run_attempt": 1,
            "langgraph_version": "1.2.22",
            "langgraph_api_version": "0.16.7",
            "langgraph_plan": "enterprise",
            "langgraph_host": "self-hosted",
            "langgraph_api_url": "http://127.0.0.1:2124",
            "run_id": run_id,
            "thread_id": thread_id,
        },
    }


@pytest.fixture(scope="module")
def registry() -> GraphRegistry:
    return GraphRegistry.from_config_file(GRAPHS_CONFIG)


class Runner:
    """Runs graphs through `stream_graph` on one checkpointer, like a thread's runs."""

    def __init__(self, registry: GraphRegistry) -> None:
        self.registry = registry
        self.checkpointer = InMemorySaver()
        self.store = InMemoryStore()
        self.wire: list[WireEvent] = []
        self.config: dict[str, Any] = {}

    async def run(
        self,
        graph_id: str,
        input: Any,
        stream_mode: str | list[str] | None = None,
        *,
        subgraphs: bool = False,
        thread_id: str | None = None,
        interrupt_before: list[str] | None = None,
        interrupt_after: list[str] | None = None,
        durability: str | None = None,
    ) -> list[Event]:
        """The run's events, each serialized with `sse.encode_event` and parsed back.

        Runs with the same `thread_id` continue one thread (shared checkpointer).
        """
        config = self.config = run_config(graph_id, thread_id)
        body = b""
        self.wire = []
        async with self.registry.build(
            graph_id, config, checkpointer=self.checkpointer, store=self.store
        ) as graph:
            async for event in stream_graph(
                graph,
                input,
                config,
                stream_modes=normalize_stream_modes(stream_mode),
                subgraphs=subgraphs,
                interrupt_before=interrupt_before,
                interrupt_after=interrupt_after,
                durability=durability,
            ):
                self.wire.append(event)
                body += encode_event(event.event, event.data)  # at once, as the run manager does
        return parse_sse(body)


@pytest.fixture()
def runner(registry: GraphRegistry) -> Runner:
    return Runner(registry)


# ---------------------------------------------------------------------------------------------
# Against the transcripts, payloads in full


TRANSCRIPT_RUNS = [
    # (transcript, graph, input, stream_mode, subgraphs)
    *[
        (f"chat_{mode}", "chat", WEATHER, mode, False)
        for mode in ("values", "updates", "messages-tuple", "messages", "custom", "tasks", "checkpoints")
    ],
    ("chat_debug", "chat", WEATHER, "debug", False),
    ("chat_events", "chat", WEATHER, "events", False),
    (
        "chat_multi",
        "chat",
        {"messages": [{"role": "user", "content": "hi there"}]},
        ["values", "updates", "messages-tuple", "custom"],
        False,
    ),
    ("chat_default", "chat", {"messages": [{"role": "user", "content": "hi"}]}, None, False),
    (
        "hitl_interrupt",
        "hitl",
        {"messages": [{"role": "user", "content": "deploy to prod"}]},
        ["values", "updates"],
        False,
    ),
    ("nested_updates_subgraphs", "nested", {}, ["updates", "custom"], True),
    ("nested_values_sub", "nested", {}, "values", True),
    ("nested_values_nosub", "nested", {}, "values", False),
]


@pytest.mark.parametrize(
    ("name", "graph_id", "input", "stream_mode", "subgraphs"),
    TRANSCRIPT_RUNS,
    ids=[r[0] for r in TRANSCRIPT_RUNS],
)
async def test_matches_transcript(
    runner: Runner, name: str, graph_id: str, input: Any, stream_mode: Any, subgraphs: bool
) -> None:
    expected = transcript(name)
    ours = await runner.run(graph_id, input, stream_mode, subgraphs=subgraphs)
    assert event_names(ours) == event_names(expected)
    assert masked(without_late_tool_ids(ours)) == masked(without_late_tool_ids(expected))


@pytest.mark.parametrize(
    ("name", "graph_id", "input", "exc_type"),
    [
        ("chat_error", "chat", {"messages": [{"role": "user", "content": "please fail"}]}, ValueError),
        ("slow_error", "slow", {"fail": True}, RuntimeError),
    ],
)
async def test_error_transcripts(
    runner: Runner, name: str, graph_id: str, input: Any, exc_type: type[Exception]
) -> None:
    expected = transcript(name)
    assert expected[-1][0] == "error"
    with pytest.raises(exc_type) as caught:
        await runner.run(graph_id, input)
    # Events before the failure are the transcript's; the exception becomes its `error` event.
    seen = parse_sse(b"".join(encode_event(e.event, e.data) for e in runner.wire))
    assert masked(seen) == masked(expected[:-1])
    assert error_payload(caught.value) == expected[-1][1]


# ---------------------------------------------------------------------------------------------
# Scenarios captured from the reference server (not in the transcripts)


def expand(spec: list[str]) -> list[str]:
    """`"name*3"` -> three names (run-length encoding of the pinned sequences)."""
    out: list[str] = []
    for item in spec:
        name, _, count = item.rpartition("*") if re.search(r"\*\d+$", item) else (item, "", "1")
        out.extend([name] * int(count))
    return out


# Captured with `POST /threads/{id}/runs/stream` against the reference (see module docstring).
CAPTURED: dict[str, tuple[str, Any, list[str], bool, list[str]]] = {
    "events_only": (
        "chat",
        WEATHER,
        ["events"],
        False,
        [
            "events:on_chain_start:chat",
            "events:on_chain_start:agent",
            "events:on_chat_model_start:ScriptedChatModel",
            "events:on_chat_model_stream:ScriptedChatModel",
            "events:on_chat_model_end:ScriptedChatModel",
            "events:on_chain_start:route_after_agent",
            "events:on_chain_end:route_after_agent",
            "events:on_chain_stream:agent",
            "events:on_chain_end:agent",
            "events:on_chain_start:tools",
            "events:on_tool_start:get_weather",
            "events:on_tool_end:get_weather",
            "events:on_chain_stream:tools",
            "events:on_chain_end:tools",
            "events:on_chain_start:agent",
            "events:on_chat_model_start:ScriptedChatModel",
            "events:on_chat_model_stream:ScriptedChatModel*19",
            "events:on_chat_model_end:ScriptedChatModel",
            "events:on_chain_start:route_after_agent",
            "events:on_chain_end:route_after_agent",
            "events:on_chain_stream:agent",
            "events:on_chain_end:agent",
            "events:on_chain_end:chat",
        ],
    ),
    "events_values": (
        "chat",
        WEATHER,
        ["events", "values"],
        False,
        [
            "events:on_chain_start:chat",
            "values",
            "events:on_chain_start:agent",
            "events:on_chat_model_start:ScriptedChatModel",
            "events:on_chat_model_stream:ScriptedChatModel",
            "events:on_chat_model_end:ScriptedChatModel",
            "events:on_chain_start:route_after_agent",
            "events:on_chain_end:route_after_agent",
            "events:on_chain_stream:agent",
            "events:on_chain_end:agent",
            "values",
            "events:on_chain_start:tools",
            "events:on_tool_start:get_weather",
            "events:on_tool_end:get_weather",
            "events:on_chain_stream:tools",
            "events:on_chain_end:tools",
            "values",
            "events:on_chain_start:agent",
            "events:on_chat_model_start:ScriptedChatModel",
            "events:on_chat_model_stream:ScriptedChatModel*19",
            "events:on_chat_model_end:ScriptedChatModel",
            "events:on_chain_start:route_after_agent",
            "events:on_chain_end:route_after_agent",
            "events:on_chain_stream:agent",
            "events:on_chain_end:agent",
            "values",
            "events:on_chain_end:chat",
        ],
    ),
    "events_messages_updates": (
        "chat",
        WEATHER,
        ["events", "messages", "updates"],
        False,
        [
            "events:on_chain_start:chat",
            "events:on_chain_start:agent",
            "events:on_chat_model_start:ScriptedChatModel",
            "events:on_chat_model_stream:ScriptedChatModel",
            "messages/metadata",
            "messages/partial",
            "events:on_chat_model_end:ScriptedChatModel",
            "events:on_chain_start:route_after_agent",
            "events:on_chain_end:route_after_agent",
            "events:on_chain_stream:agent",
            "events:on_chain_end:agent",
            "updates",
            "events:on_chain_start:tools",
            "events:on_tool_start:get_weather",
            "events:on_tool_end:get_weather",
            "events:on_chain_stream:tools",
            "events:on_chain_end:tools",
            "messages/metadata",
            "messages/complete",
            "updates",
            "events:on_chain_start:agent",
            "events:on_chat_model_start:ScriptedChatModel",
            "events:on_chat_model_stream:ScriptedChatModel",
            "messages/metadata",
            "messages/partial",
            *["events:on_chat_model_stream:ScriptedChatModel", "messages/partial"] * 18,
            "events:on_chat_model_end:ScriptedChatModel",
            "events:on_chain_start:route_after_agent",
            "events:on_chain_end:route_after_agent",
            "events:on_chain_stream:agent",
            "events:on_chain_end:agent",
            "updates",
            "events:on_chain_end:chat",
        ],
    ),
    "both_message_modes": ("chat", WEATHER, ["messages", "messages-tuple"], False, ["messages*21"]),
    "hitl_values_updates_events": (
        "hitl",
        {"messages": [{"role": "user", "content": "deploy to prod"}]},
        ["values", "updates", "events"],
        False,
        [
            "events:on_chain_start:hitl",
            "values",
            "events:on_chain_start:draft",
            "events:on_chain_stream:draft",
            "events:on_chain_end:draft",
            "updates",
            "values",
            "events:on_chain_start:review",
            "updates",
            "values",
            "events:on_chain_end:hitl",
        ],
    ),
    "nested_debug_subgraphs": ("nested", {}, ["debug"], True, ["debug*6", "debug|child:**8", "debug*5"]),
    "nested_tasks_checkpoints_subgraphs": (
        "nested",
        {},
        ["tasks", "checkpoints"],
        True,
        [
            "checkpoints*2",
            "tasks*2",
            "checkpoints",
            "tasks",
            "checkpoints|child:**2",
            "tasks|child:**2",
            "checkpoints|child:*",
            "tasks|child:**2",
            "checkpoints|child:*",
            "tasks",
            "checkpoints",
            "tasks*2",
            "checkpoints",
        ],
    ),
    "nested_events_updates_subgraphs": (
        "nested",
        {},
        ["events", "updates"],
        True,
        [
            "events:on_chain_start:nested",
            "events:on_chain_start:prepare",
            "events:on_chain_stream:prepare",
            "events:on_chain_end:prepare",
            "updates",
            "events:on_chain_start:child",
            "events:on_chain_start:LangGraph",
            "events:on_chain_start:left",
            "events:on_chain_stream:left",
            "events:on_chain_end:left",
            "events:on_chain_start:right",
            "updates|child:*",
            "events:on_chain_stream:right",
            "events:on_chain_end:right",
            "updates|child:*",
            "events:on_chain_end:LangGraph",
            "events:on_chain_stream:child",
            "events:on_chain_end:child",
            "updates",
            "events:on_chain_start:done",
            "events:on_chain_stream:done",
            "events:on_chain_end:done",
            "updates",
            "events:on_chain_end:nested",
        ],
    ),
}


@pytest.mark.parametrize("case", list(CAPTURED))
async def test_matches_captured_sequence(runner: Runner, case: str) -> None:
    graph_id, input, modes, subgraphs, spec = CAPTURED[case]
    ours = await runner.run(graph_id, input, modes, subgraphs=subgraphs)
    assert event_names(ours) == expand(spec)


# ---------------------------------------------------------------------------------------------
# Interrupts and resuming (short runs captured from the reference, pinned in full)

HITL_INPUT = {"messages": [{"role": "user", "content": "deploy to prod"}]}


def human(content: str, id: str) -> dict[str, Any]:
    """A human message as the reference serializes it."""
    return {
        "content": content,
        "additional_kwargs": {},
        "response_metadata": {},
        "type": "human",
        "name": None,
        "id": id,
    }


def ai(content: str, id: str) -> dict[str, Any]:
    """An AI message (no tool calls) as the reference serializes it."""
    return {
        **human(content, id),
        "type": "ai",
        "name": None,
        "id": id,
        "tool_calls": [],
        "invalid_tool_calls": [],
        "usage_metadata": None,
    }


# `{"command": {"resume": {"approved": true}}, "stream_mode": ["values", "updates", "messages"]}`
# after a first run stopped at interrupt() (ids as captured; they are masked).
_PROD = human("deploy to prod", "6c18e182-7f28-4732-b8c3-6e19323a1a24")
_DECISION = ai('Decision recorded: {"approved": true}', "e9fe6f0e-2bf8-43ec-b9f1-c8cfa6dc2654")
_DRAFT = {"draft": "Plan for: deploy to prod"}
HITL_RESUME: list[Event] = [
    ("values", {"messages": [_PROD], **_DRAFT}),
    ("updates", {"review": {"decision": {"approved": True}}}),
    ("values", {"messages": [_PROD], **_DRAFT, "decision": {"approved": True}}),
    (
        "messages/metadata",
        {
            _DECISION["id"]: {
                "metadata": {
                    "created_by": "system",
                    "graph_id": "hitl",
                    "assistant_id": "d2a02ed8-fb92-5e43-81ea-cb78d82caa2f",
                    "run_attempt": 1,
                    "langgraph_version": "1.2.22",
                    "langgraph_api_version": "0.16.7",
                    "langgraph_plan": "enterprise",
                    "langgraph_host": "self-hosted",
                    "langgraph_api_url": "http://127.0.0.1:2124",
                    "run_id": "01a1fcd8-1542-74ed-a9f0-44f4d0ff87fd",
                    "thread_id": "01a1fcd8-12e3-749f-9b12-591a343f1cd0",
                    "ls_integration": "langgraph",
                    "langgraph_step": 3,
                    "langgraph_node": "finish",
                    "langgraph_triggers": ["branch:to:finish"],
                    "langgraph_path": ["__pregel_pull", "finish"],
                    "langgraph_checkpoint_ns": "finish:db0739f4-ef50-bd3b-29c8-5c88a38f1835",
                }
            }
        },
    ),
    ("messages/complete", [_DECISION]),
    ("updates", {"finish": {"messages": [_DECISION]}}),
    ("values", {"messages": [_PROD, _DECISION], **_DRAFT, "decision": {"approved": True}}),
]

# Input "x", `["updates", "values"]`, `interrupt_after: ["draft"]`; then `input: null`.
_X = human("x", "dd4e0386-0d1b-471e-b95f-053124f14050")
_X_INTERRUPT = [
    {
        "value": {"question": "Approve the draft?", "draft": "Plan for: x"},
        "id": "36fb0fc99945396dac780e6235c7c660",
        "response_schema": None,
    }
]
HITL_INTERRUPT_AFTER: list[Event] = [
    ("values", {"messages": [_X]}),
    ("updates", {"draft": {"draft": "Plan for: x"}}),
    ("values", {"messages": [_X], "draft": "Plan for: x"}),
    ("updates", {"__interrupt__": []}),
]
HITL_CONTINUE: list[Event] = [
    ("values", {"messages": [_X], "draft": "Plan for: x"}),
    ("updates", {"__interrupt__": _X_INTERRUPT}),
    ("values", {"messages": [_X], "draft": "Plan for: x", "__interrupt__": _X_INTERRUPT}),
]


async def test_resume_with_command(runner: Runner) -> None:
    first = await runner.run("hitl", HITL_INPUT, ["updates"])
    assert first[-1][0] == "updates"
    assert list(first[-1][1]) == ["__interrupt__"]
    thread_id = runner.config["configurable"]["thread_id"]
    ours = await runner.run(
        "hitl", Command(resume={"approved": True}), ["values", "updates", "messages"], thread_id=thread_id
    )
    assert masked(ours) == masked(HITL_RESUME)


async def test_interrupt_after_then_continue(runner: Runner) -> None:
    x = {"messages": [{"role": "user", "content": "x"}]}
    ours = await runner.run("hitl", x, ["updates", "values"], interrupt_after=["draft"])
    thread_id = runner.config["configurable"]["thread_id"]
    resumed = await runner.run("hitl", None, ["updates", "values"], thread_id=thread_id)
    # One masker over both runs: the continued run shows the first run's message id.
    masker = Masker()
    assert masker.events(ours + resumed) == Masker().events(HITL_INTERRUPT_AFTER + HITL_CONTINUE)


async def test_interrupt_before(runner: Runner) -> None:
    """Reference: `values` alone shows no interrupt marker, `updates` shows `{"__interrupt__": []}`."""
    x = {"messages": [{"role": "user", "content": "x"}]}
    values_only = await runner.run("hitl", x, "values", interrupt_before=["review"])
    assert [name for name, _ in values_only] == ["values", "values"]
    assert "__interrupt__" not in values_only[-1][1]
    updates = await runner.run("hitl", x, ["updates"], interrupt_before=["review"])
    assert updates == [("updates", {"draft": {"draft": "Plan for: x"}}), ("updates", {"__interrupt__": []})]


# ---------------------------------------------------------------------------------------------
# Payload details


async def test_wire_event_modes(runner: Runner) -> None:
    await runner.run("chat", WEATHER, ["values", "messages-tuple", "custom", "events"])
    modes = {(e.event.partition("|")[0], e.mode) for e in runner.wire}
    assert modes == {
        ("values", "values"),
        ("messages", "messages-tuple"),
        ("custom", "custom"),
        ("events", "events"),
    }
    await runner.run("chat", WEATHER, ["messages", "updates"])
    assert {(e.event, e.mode) for e in runner.wire} == {
        ("messages/metadata", "messages"),
        ("messages/partial", "messages"),
        ("messages/complete", "messages"),
        ("updates", "updates"),
    }


async def test_events_root_run_is_the_api_run(runner: Runner) -> None:
    events = await runner.run("chat", {"messages": [{"role": "user", "content": "hi"}]}, "events")
    run_id = runner.config["configurable"]["run_id"]
    assert events[0][1]["event"] == "on_chain_start"
    assert events[0][1]["run_id"] == run_id
    assert events[-1][1]["event"] == "on_chain_end"
    assert events[-1][1]["run_id"] == run_id
    assert all(data["parent_ids"][0] == run_id for _, data in events[1:-1])
    assert "run_id" not in runner.config  # the caller's config is not modified


async def test_debug_subgraph_tasks_point_at_checkpoints(runner: Runner) -> None:
    events = await runner.run("nested", {}, ["debug"], subgraphs=True)
    checkpoints = [(name, data["payload"]) for name, data in events if data["type"] == "checkpoint"]
    for name, payload in checkpoints:
        assert list(payload) == [
            *("config", "parent_config", "values", "metadata", "next", "tasks"),
            *("checkpoint", "parent_checkpoint"),
        ]
        assert payload["checkpoint"]["checkpoint_id"] == payload["config"]["configurable"]["checkpoint_id"]
        if "|" in name:  # inside the subgraph: namespaced checkpoints carry the checkpoint map
            assert list(payload["checkpoint"])[-1] == "checkpoint_map"
    child_task = next(t for _, p in checkpoints for t in p["tasks"] if t["name"] == "child")
    assert list(child_task) == ["id", "name", "interrupts", "checkpoint"]
    assert child_task["checkpoint"]["checkpoint_ns"] == f"child:{child_task['id']}"


async def test_durability_and_context_pass_through(registry: GraphRegistry) -> None:
    config = run_config("ctx")
    saver = InMemorySaver()
    async with registry.build("ctx", config, checkpointer=saver, store=None) as graph:
        events = [
            (e.event, e.data)
            async for e in stream_graph(
                graph,
                {"name": "Ada"},
                config,  # type: ignore[arg-type]
                stream_modes=["updates"],
                subgraphs=False,
                interrupt_before=None,
                interrupt_after=None,
                durability="exit",
                context={"greeting": "Hi"},
            )
        ]
    assert events == [("updates", {"greet": {"reply": "Hi, Ada!"}})]
    # `exit` durability: only the final checkpoint is written.
    assert len([c async for c in saver.alist(config)]) == 1


async def test_closing_early_stops_the_run(registry: GraphRegistry) -> None:
    config = run_config("slow")
    async with registry.build("slow", config, checkpointer=InMemorySaver(), store=None) as graph:
        stream = stream_graph(
            graph,
            {"seconds": 30, "steps": 300},
            config,  # type: ignore[arg-type]
            stream_modes=["custom"],
            subgraphs=False,
            interrupt_before=None,
            interrupt_after=None,
        )
        first = await anext(stream)
        assert first == WireEvent("custom", {"step": 1, "of": 300}, "custom")
        await stream.aclose()  # must not hang for 30 s nor raise


class TestLegacyMessages:
    """The accumulator behind `messages/*` (langgraph-api's logic), fed directly."""

    META = {"langgraph_node": "agent"}

    def feed(self, *messages: Any) -> list[tuple[str, Any]]:
        translate = ModeTranslator(["messages"], subgraphs=False)
        return [(e.event, e.data) for m in messages for e in translate(("messages", (m, self.META)))]

    def test_chunks_accumulate_into_whole_messages(self) -> None:
        events = self.feed(AIMessageChunk(content="Hel", id="m1"), AIMessageChunk(content="lo", id="m1"))
        assert [name for name, _ in events] == ["messages/metadata", "messages/partial", "messages/partial"]
        assert events[0][1] == {"m1": {"metadata": self.META}}
        last = events[-1][1][0]
        assert isinstance(last, AIMessage) and not isinstance(last, AIMessageChunk)
        assert last.content == "Hello"

    def test_whole_messages_are_complete_and_repeat_without_metadata(self) -> None:
        tool = ToolMessage(content="sunny", tool_call_id="c1", id="t1")
        events = self.feed(tool, tool)
        assert [name for name, _ in events] == ["messages/metadata", "messages/complete", "messages/complete"]
        assert events[-1][1] == [tool]

    def test_dict_messages(self) -> None:
        events = self.feed(
            {"role": "ai_chunk", "type": "AIMessageChunk", "content": "a", "id": "d1"},
            {"role": "ai_chunk", "type": "AIMessageChunk", "content": "b", "id": "d1"},
            {"role": "user", "content": "hi", "id": "d2"},
        )
        assert [name for name, _ in events] == [
            "messages/metadata",
            "messages/partial",
            "messages/partial",
            "messages/metadata",
            "messages/complete",
        ]
        assert events[2][1][0].content == "ab"
        assert events[4][1][0].type == "human"

    def test_subgraph_messages_keep_plain_names(self) -> None:
        translate = ModeTranslator(["messages", "values"], subgraphs=True)
        chunk = (AIMessageChunk(content="x", id="s1"), self.META)
        names = [e.event for e in translate((("child:1",), "messages", chunk))]
        names += [e.event for e in translate((("child:1",), "values", {"a": 1}))]
        assert names == ["messages/metadata", "messages/partial", "values|child:1"]


# ---------------------------------------------------------------------------------------------
# Stream modes and errors


def test_wire_modes() -> None:
    expected = {"values", "updates", "messages-tuple", "messages", "events", "debug", "custom", "tasks"}
    assert expected | {"checkpoints"} == WIRE_MODES


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ["values"]),
        ("", ["values"]),
        ([], ["values"]),
        ("updates", ["updates"]),
        (["values", "values", "updates", "values"], ["values", "updates"]),
        (["messages-tuple", "events", "messages"], ["messages-tuple", "events", "messages"]),
    ],
)
def test_normalize_stream_modes(value: Any, expected: list[str]) -> None:
    assert normalize_stream_modes(value) == expected


@pytest.mark.parametrize(
    ("value", "instance"),
    [("bogus", '"bogus"'), (["values", "bogus"], '["values","bogus"]'), (5, "5"), ([1], "[1]")],
)
def test_normalize_stream_modes_rejects_unknown(value: Any, instance: str) -> None:
    """The reference's 422 detail (jsonschema text, instance as compact JSON)."""
    with pytest.raises(errors.InvalidInput) as caught:
        normalize_stream_modes(value)
    assert caught.value.detail == (
        f"{instance} is not valid under any of the schemas listed in the 'anyOf' keyword\n\n"
        'Failed validating "anyOf" in schema["components"]["schemas"]["RunCreateStateful"]'
        f'["properties"]["stream_mode"]\n\nOn instance["stream_mode"]:\n    {instance}'
    )
    with pytest.raises(errors.InvalidInput, match="RunCreateStateless"):
        normalize_stream_modes(value, schema="RunCreateStateless")


def test_normalize_stream_modes_v2_only() -> None:
    with pytest.raises(errors.InvalidInput) as caught:
        normalize_stream_modes(["values", "tools", "lifecycle"])
    assert caught.value.detail == (
        "stream_mode entries ['lifecycle', 'tools'] are only supported on the v2 event streaming endpoints."
    )


class CustomError(Exception):
    pass


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ValueError("bad value"), {"error": "ValueError", "message": "bad value"}),
        (KeyError("k"), {"error": "KeyError", "message": "'k'"}),
        (GraphRecursionError("too deep"), {"error": "GraphRecursionError", "message": "too deep"}),
        (CustomError("secret internals"), {"error": "CustomError", "message": "An internal error occurred"}),
        (
            ExceptionGroup("group", [RuntimeError("first"), ValueError("second")]),
            {"error": "RuntimeError", "message": "first"},
        ),
        (errors.NotFound("Run not found"), {"error": "NotFound", "message": "Run not found"}),
    ],
)
def test_error_payload(exc: BaseException, expected: dict[str, str]) -> None:
    assert error_payload(exc) == expected
