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

INTERRUPT_CHANNEL = "__interrupt__"
_INTERNAL_PREFIXES = ("__", "branch:", "start:")


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
        self._checkpointer = checkpointer

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
