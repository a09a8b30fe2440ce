"""Helpers shared by the OAP tests: SSE reading, OAP's request bodies, message checks.

The request bodies follow `oap-ecosystem.md` §2 exactly (key for key), so a test that uses
them replays what the OAP web UI sends.
"""

from __future__ import annotations

import itertools
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

# LangGraph's system assistant ids: uuid5 of this namespace and the graph id.
SYSTEM_ASSISTANT_NAMESPACE = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")

# What OAP's chat sends in `config.configurable.apiKeys` when the user saved no keys.
EMPTY_API_KEYS: dict[str, str] = {
    "OPENAI_API_KEY": "",
    "ANTHROPIC_API_KEY": "",
    "GOOGLE_API_KEY": "",
    "TAVILY_API_KEY": "",
}
OAP_STREAM_MODES = ["values", "messages-tuple", "custom"]
FAKE_MODEL = "openai:fake-model"
# `Content-Location` of a run; the JS SDK parses the run id from it (`onRunCreated`).
RUN_LOCATION = re.compile(r"^/threads/(?P<thread_id>[0-9a-f-]+)/runs/(?P<run_id>[0-9a-f-]+)$")
# The agent server's own OPENAI_API_KEY (used when the run brings no key of its own).
SERVER_OPENAI_KEY = "sk-server-env-key"


def system_assistant_id(graph_id: str) -> str:
    """The id of the assistant the server creates at startup for `graph_id`."""
    return str(uuid.uuid5(SYSTEM_ASSISTANT_NAMESPACE, graph_id))


@dataclass
class StreamResult:
    """A consumed SSE response: status, headers and `(event, data)` pairs in order."""

    status_code: int
    headers: httpx.Headers
    events: list[tuple[str, Any]] = field(default_factory=list)

    def named(self, name: str) -> list[Any]:
        """The data of every event called `name`."""
        return [data for event, data in self.events if event == name]

    @property
    def names(self) -> list[str]:
        """Event names in order."""
        return [event for event, _ in self.events]


def parse_sse_lines(lines: Iterable[str]) -> list[tuple[str, Any]]:
    """`(event, data)` pairs from SSE lines (any framing; comments and ids are skipped)."""
    events: list[tuple[str, Any]] = []
    name: str | None = None
    data: list[str] = []
    for raw in [*lines, ""]:
        line = raw.rstrip("\r")
        if not line:
            if name is not None or data:
                payload = "\n".join(data)
                events.append((name or "message", json.loads(payload) if payload else None))
            name, data = None, []
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    return events


def stream(client: httpx.Client, path: str, body: Mapping[str, Any], **kwargs: Any) -> StreamResult:
    """POST `body` to a streaming endpoint and read the whole SSE response."""
    with client.stream("POST", path, json=dict(body), **kwargs) as response:
        if response.status_code != 200:
            response.read()
            return StreamResult(response.status_code, response.headers, [("http_error", response.text)])
        events = parse_sse_lines(response.iter_lines())
        return StreamResult(response.status_code, response.headers, events)


def human_message(text: str) -> dict[str, Any]:
    """A user message exactly as OAP's chat composes it (content blocks, client-side id)."""
    return {"id": str(uuid.uuid4()), "type": "human", "content": [{"type": "text", "text": text}]}


def oap_chat_body(
    assistant_id: str,
    supabase_token: str,
    *,
    text: str | None,
    agent_config: Mapping[str, Any] | None = None,
    checkpoint: Mapping[str, Any] | None = None,
    api_keys: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The body of OAP's `POST /threads/{id}/runs/stream` (§2.5).

    `text=None` is a regenerate: no `input` at all, only the parent `checkpoint`.
    `checkpoint` is sent without `thread_id`, as the SDK strips it.
    """
    body: dict[str, Any] = {
        "config": {
            "configurable": {
                "model_name": FAKE_MODEL,
                **(agent_config or {}),
                "apiKeys": dict(api_keys if api_keys is not None else EMPTY_API_KEYS),
            }
        },
        "metadata": {"supabaseAccessToken": supabase_token},
        "stream_mode": list(OAP_STREAM_MODES),
        "stream_subgraphs": True,
        "stream_resumable": True,
        "on_disconnect": "continue",
        "assistant_id": assistant_id,
    }
    if text is not None:
        body["input"] = {"messages": [human_message(text)]}
    if checkpoint is not None:
        body["checkpoint"] = {k: v for k, v in checkpoint.items() if k != "thread_id"}
    return body


def ai_deltas(result: StreamResult) -> dict[str, list[str]]:
    """AI message chunk contents (text deltas) per message id, from `messages` tuples."""
    deltas: dict[str, list[str]] = {}
    for data in result.named("messages"):
        chunk, _metadata = data
        if chunk.get("type") in ("AIMessageChunk", "ai") and isinstance(chunk.get("content"), str):
            deltas.setdefault(chunk["id"], []).append(chunk["content"])
    return deltas


def message_text(message: Mapping[str, Any]) -> str:
    """The text of a wire message (string content or text blocks)."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    return " ".join(
        b.get("text", "") for b in content or [] if isinstance(b, dict) and b.get("type") == "text"
    )


def assert_messages_tuples(result: StreamResult) -> None:
    """Every `messages` event is `[chunk, metadata]` with a chunk id and a node in the metadata."""
    tuples = result.named("messages")
    assert tuples, f"no messages events in {result.names}"
    for data in tuples:
        assert isinstance(data, list) and len(data) == 2, data
        chunk, metadata = data
        assert chunk.get("id"), f"message chunk without id: {chunk}"
        assert isinstance(metadata, dict) and metadata.get("langgraph_node"), metadata


def assert_history_chain(history: list[dict[str, Any]], thread_id: str) -> None:
    """History is newest first and each state's parent is the next (older) state's checkpoint."""
    assert history, "empty history"
    for state in history:
        assert set(state) >= {
            "values",
            "next",
            "tasks",
            "checkpoint",
            "parent_checkpoint",
            "metadata",
            "created_at",
        }, state.keys()
        assert state["checkpoint"]["thread_id"] == thread_id
        assert state["checkpoint"]["checkpoint_ns"] == ""
        assert state["checkpoint"]["checkpoint_id"]
    for newer, older in itertools.pairwise(history):
        assert newer["parent_checkpoint"]["checkpoint_id"] == older["checkpoint"]["checkpoint_id"]
        assert newer["created_at"] >= older["created_at"]
    assert history[-1]["parent_checkpoint"] is None


def user_client(base_url: str, headers: Mapping[str, str]) -> httpx.Client:
    """httpx client sending `headers` (OAP's browser headers for a user); close it after use."""
    return httpx.Client(base_url=base_url, headers=dict(headers), timeout=30)
