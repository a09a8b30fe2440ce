"""LangGraph stream chunks -> wire events: the per-mode reshaping of langgraph-api's `astream_state`.

Used by `streaming.stream_graph`, which runs the graph. Kept apart so each piece can be tested
on its own (`tests/engine/test_streaming.py`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import (
    AIMessageChunk,
    BaseMessage,
    BaseMessageChunk,
    ToolMessageChunk,
    convert_to_messages,
    message_chunk_to_message,
)
from langchain_core.runnables import RunnableConfig

__all__ = ["ModeTranslator", "WireEvent"]


@dataclass(frozen=True, slots=True)
class WireEvent:
    """One event of a run's stream.

    Attributes:
        event: the SSE event name, including a `|<ns>` suffix for subgraph events.
        data: the payload for `sse.dumps` (LangChain objects included). Serialize it before
            pulling the next event: LangGraph may reuse state containers between chunks.
        mode: the requested stream mode the event belongs to (`messages-tuple` for `messages`,
            `messages` for `messages/*`), for subscribers' mode filters.
    """

    event: str
    data: Any
    mode: str


class ModeTranslator:
    """Maps LangGraph stream items to wire events for one run.

    Call it with each item of `graph.astream(..., stream_mode=[...])` (`(mode, chunk)`, or
    `(ns, mode, chunk)` when `subgraphs`). It keeps the legacy `messages` accumulator, so use
    one translator per run.

    Args:
        requested: the run's requested wire modes.
        subgraphs: whether items carry a namespace.
    """

    def __init__(self, requested: list[str], subgraphs: bool) -> None:
        self._requested = frozenset(requested)
        self._tuple_messages = "messages-tuple" in self._requested
        self._subgraphs = subgraphs
        self._messages: dict[str | None, BaseMessage] = {}

    def __call__(self, item: tuple[Any, ...]) -> Iterator[WireEvent]:
        if self._subgraphs:
            ns, mode, chunk = item
        else:
            mode, chunk = item
            ns = ()
        suffix = "|" + "|".join(ns) if ns else ""
        if mode == "messages":
            if self._tuple_messages:
                # If both message modes are requested the reference serves only the tuple form.
                yield WireEvent("messages" + suffix, chunk, "messages-tuple")
            else:
                yield from self._legacy_messages(chunk)
        elif mode in self._requested:
            if mode == "debug" and chunk.get("type") == "checkpoint":
                chunk = {**chunk, "payload": _debug_checkpoint(chunk["payload"])}
            yield WireEvent(mode + suffix, chunk, mode)

    def _legacy_messages(self, chunk: tuple[Any, dict[str, Any]]) -> Iterator[WireEvent]:
        """`messages/metadata` on a new id, then the accumulated message (langgraph-api's logic)."""
        raw, metadata = chunk
        is_dict_chunk = False
        if isinstance(raw, dict):
            # Graphs may stream plain dicts; the reference rebuilds messages from them.
            kind = f"{raw.get('type', '')}{raw.get('role', '')}".lower()
            if "chunk" in kind:
                role = str(raw.get("role", "")).lower()
                cls = AIMessageChunk if "ai" in role else ToolMessageChunk if "tool" in role else None
                message: BaseMessage = cls(**raw) if cls else BaseMessageChunk(**raw)
                is_dict_chunk = True
            else:
                message = convert_to_messages([raw])[0]
        else:
            message = raw
        known = self._messages.get(message.id)
        if known is None:
            self._messages[message.id] = message
            yield WireEvent("messages/metadata", {message.id: {"metadata": metadata}}, "messages")
        elif isinstance(known, BaseMessageChunk) and isinstance(message, BaseMessageChunk):
            self._messages[message.id] = known + message
        else:
            # The reference would `+` a whole message here (a LangChain prompt template, not a
            # message); a repeated whole message simply replaces the earlier one.
            self._messages[message.id] = message
        accumulated = self._messages[message.id]
        name = "messages/partial" if isinstance(message, BaseMessageChunk) else "messages/complete"
        # Chunks are sent as whole messages (`"type":"ai"`, no `tool_call_chunks`).
        payload = accumulated if is_dict_chunk else message_chunk_to_message(accumulated)
        yield WireEvent(name, [payload], "messages")


def _debug_checkpoint(payload: dict[str, Any] | None) -> dict[str, Any] | None:
    """langgraph-api's reshaping of a debug checkpoint payload.

    Adds `checkpoint`/`parent_checkpoint` (`{checkpoint_id, thread_id, checkpoint_ns[,
    checkpoint_map]}`) after LangGraph's keys, and renames a subgraph task's `state` (a config
    pointing at the subgraph's checkpoints) to `checkpoint`. Returns new dicts: LangGraph shares
    the payload with the `checkpoints` event.
    """
    if not payload:
        return None
    return {
        **payload,
        "checkpoint": _config_to_checkpoint(payload["config"]),
        "parent_checkpoint": _config_to_checkpoint(payload.get("parent_config")),
        "tasks": [_debug_task(task) for task in payload["tasks"]],
    }


def _debug_task(task: dict[str, Any]) -> dict[str, Any]:
    state = task.get("state")
    if not isinstance(state, dict) or not state.get("configurable"):
        return task
    renamed = {k: v for k, v in task.items() if k != "state"}
    renamed["checkpoint"] = state["configurable"]
    return renamed


def _config_to_checkpoint(config: RunnableConfig | None) -> dict[str, Any] | None:
    """langgraph-api's `runnable_config_to_checkpoint`."""
    configurable = (config or {}).get("configurable") or {}
    if not configurable.get("thread_id") or not configurable.get("checkpoint_id"):
        return None
    checkpoint: dict[str, Any] = {
        "checkpoint_id": configurable["checkpoint_id"],
        "thread_id": configurable["thread_id"],
    }
    if "checkpoint_ns" in configurable:
        checkpoint["checkpoint_ns"] = configurable["checkpoint_ns"] or ""
    if "checkpoint_map" in configurable:
        checkpoint["checkpoint_map"] = configurable["checkpoint_map"]
    return checkpoint
