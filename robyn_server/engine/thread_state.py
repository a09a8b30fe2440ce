"""Read a thread's values and pending interrupts straight from the checkpointer.

Thread objects (`GET /threads/{id}`, searches) show `values` and `interrupts`. They
come only from the latest checkpoint, never from a copy kept elsewhere, and reading
them needs no graph: state keys are the non-internal channels of the checkpoint, and
interrupts are the `__interrupt__` pending writes by task id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

try:  # private in LangGraph (langgraph-api imports it the same way); optional here
    from langgraph.checkpoint.serde.jsonplus import _msgpack_ext_hook_to_json
except ImportError:  # pragma: no cover - a LangGraph without it: read through the saver itself
    _msgpack_ext_hook_to_json = None  # type: ignore[assignment]

INTERRUPT_CHANNEL = "__interrupt__"
_INTERNAL_PREFIXES = ("__", "branch:", "start:")


def json_reader(saver: BaseCheckpointSaver) -> BaseCheckpointSaver:
    """A read-only view of `saver` that decodes stored values to JSON-ready data.

    Reads for the API (state, history, thread values) need no LangChain objects: each would be
    rebuilt (pydantic validation) only to be dumped again. As langgraph-api does, decode the
    stored msgpack with LangGraph's `_msgpack_ext_hook_to_json` instead: messages come out as
    their `model_dump()` dicts, 3-4x faster for long histories. Only for the plain
    `InMemorySaver` (the view shares its dicts); any other saver is returned as it is.
    """
    if (
        _msgpack_ext_hook_to_json is None
        or type(saver) is not InMemorySaver
        or type(saver.serde) is not JsonPlusSerializer
    ):
        return saver
    view = InMemorySaver(serde=JsonPlusSerializer(__unpack_ext_hook__=_msgpack_ext_hook_to_json))
    view.storage = saver.storage
    view.writes = saver.writes
    view.blobs = saver.blobs
    return view


def interrupt_to_wire(item: Any) -> dict[str, Any]:
    """`{"id", "value"}` for a LangGraph Interrupt (or an already plain dict)."""
    if isinstance(item, dict):
        return {"id": item.get("id"), "value": item.get("value")}
    return {"id": getattr(item, "id", None), "value": getattr(item, "value", item)}


@dataclass(frozen=True)
class ThreadSummary:
    """What a thread object shows of its state."""

    values: dict[str, Any] | None
    interrupts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    checkpoint_id: str | None = None


class ThreadStateReader:
    """Thread summaries from the latest root checkpoint."""

    def __init__(self, checkpointer: BaseCheckpointSaver) -> None:
        self._checkpointer = json_reader(checkpointer)

    async def summary(self, thread_id: str) -> ThreadSummary:
        """Values and interrupts of the thread's latest checkpoint; `values` None when there is none."""
        config = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
        found = await self._checkpointer.aget_tuple(config)  # type: ignore[arg-type]
        if found is None:
            return ThreadSummary(values=None)
        values = {
            key: value
            for key, value in found.checkpoint["channel_values"].items()
            if not key.startswith(_INTERNAL_PREFIXES)
        }
        interrupts: dict[str, list[dict[str, Any]]] = {}
        for task_id, channel, value in found.pending_writes or ():
            if channel != INTERRUPT_CHANNEL:
                continue
            items = value if isinstance(value, list | tuple) else [value]
            interrupts.setdefault(task_id, []).extend(interrupt_to_wire(item) for item in items)
        return ThreadSummary(values=values, interrupts=interrupts, checkpoint_id=found.checkpoint["id"])
