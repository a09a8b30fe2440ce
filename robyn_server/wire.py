"""Record → wire shapes, exactly as the reference serves them (key order included)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from robyn_server.storage.base import Assistant, AssistantVersion, Cron, Run, Thread


def iso(moment: datetime | None) -> str | None:
    """ISO-8601 with microseconds and `+00:00`, like the reference."""
    if moment is None:
        return None
    return moment.isoformat(timespec="microseconds")


def assistant_to_wire(assistant: Assistant) -> dict[str, Any]:
    """The Assistant object."""
    return {
        "assistant_id": assistant["assistant_id"],
        "graph_id": assistant["graph_id"],
        "config": assistant["config"],
        "context": assistant["context"],
        "metadata": assistant["metadata"],
        "name": assistant["name"],
        "created_at": iso(assistant["created_at"]),
        "updated_at": iso(assistant["updated_at"]),
        "version": assistant["version"],
        "description": assistant["description"],
    }


def version_to_wire(version: AssistantVersion) -> dict[str, Any]:
    """An assistant version object (no `updated_at`)."""
    return {
        "assistant_id": version["assistant_id"],
        "version": version["version"],
        "graph_id": version["graph_id"],
        "config": version["config"],
        "context": version["context"],
        "metadata": version["metadata"],
        "created_at": iso(version["created_at"]),
        "name": version["name"],
        "description": version["description"],
    }


def thread_to_wire(
    thread: Thread,
    *,
    values: Any = None,
    interrupts: dict[str, Any] | None = None,
    include_values: bool = True,
) -> dict[str, Any]:
    """The Thread object; `error` and `interrupts` appear once the thread has had a run."""
    wire: dict[str, Any] = {
        "thread_id": thread["thread_id"],
        "created_at": iso(thread["created_at"]),
        "updated_at": iso(thread["updated_at"]),
        "state_updated_at": iso(thread["state_updated_at"]),
        "metadata": thread["metadata"],
        "status": thread["status"],
        "config": thread["config"],
    }
    if include_values:
        wire["values"] = values
    if thread["has_run"]:
        wire["error"] = thread["error"]
        wire["interrupts"] = interrupts or {}
    return wire


def run_to_wire(run: Run) -> dict[str, Any]:
    """The Run object."""
    return {
        "run_id": run["run_id"],
        "thread_id": run["thread_id"],
        "assistant_id": run["assistant_id"],
        "metadata": run["metadata"],
        "status": run["status"],
        "kwargs": run["kwargs"],
        "multitask_strategy": run["multitask_strategy"],
        "created_at": iso(run["created_at"]),
        "updated_at": iso(run["updated_at"]),
        "langsmith_session_name": None,
    }


def cron_to_wire(cron: Cron) -> dict[str, Any]:
    """The Cron object (`next_run_date` without microseconds, like the reference)."""
    next_run = cron["next_run_date"]
    return {
        "cron_id": cron["cron_id"],
        "assistant_id": cron["assistant_id"],
        "thread_id": cron["thread_id"],
        "user_id": cron["user_id"],
        "end_time": iso(cron["end_time"]),
        "schedule": cron["schedule"],
        "timezone": cron["timezone"],
        "payload": cron["payload"],
        "next_run_date": next_run.isoformat(timespec="seconds") if next_run else None,
        "metadata": cron["metadata"],
        "on_run_completed": cron["on_run_completed"],
        "enabled": cron["enabled"],
        "created_at": iso(cron["created_at"]),
        "updated_at": iso(cron["updated_at"]),
    }


EMPTY_STATE: dict[str, Any] = {
    "values": {},
    "next": [],
    "tasks": [],
    "metadata": None,
    "created_at": None,
    "checkpoint": None,
    "parent_checkpoint": None,
    "interrupts": [],
    "checkpoint_id": None,
    "parent_checkpoint_id": None,
}


def checkpoint_ref(config: Any) -> dict[str, Any] | None:
    """langgraph-api's `runnable_config_to_checkpoint`: `{checkpoint_id, thread_id[,
    checkpoint_ns][, checkpoint_map]}`, or None without a thread id and a checkpoint id."""
    configurable = (config or {}).get("configurable") or {}
    if not configurable.get("thread_id") or not configurable.get("checkpoint_id"):
        return None
    ref = {"checkpoint_id": configurable["checkpoint_id"], "thread_id": configurable["thread_id"]}
    if "checkpoint_ns" in configurable:
        ref["checkpoint_ns"] = configurable["checkpoint_ns"] or ""
    if "checkpoint_map" in configurable:
        ref["checkpoint_map"] = configurable["checkpoint_map"]
    return ref


def interrupt_to_wire(item: Any) -> dict[str, Any]:
    """`{"id", "value"}` (+ `response_schema` when set), langgraph-api's `patch_interrupt`."""
    if isinstance(item, dict):
        wire = {"id": item.get("id"), "value": item.get("value")}
        schema = item.get("response_schema")
    else:
        wire = {"id": getattr(item, "id", None), "value": getattr(item, "value", item)}
        schema = getattr(item, "response_schema", None)
    if schema is not None:
        wire["response_schema"] = schema
    return wire


def _task_error(error: Any) -> Any:
    # LangGraph keeps a failed task's error as its repr() string; an exception object (a
    # custom saver's) is shown the way the reference serializes exceptions.
    if isinstance(error, BaseException):
        from robyn_server.engine.streaming import error_payload

        return error_payload(error)
    return error


def snapshot_to_wire(snapshot: Any) -> dict[str, Any]:
    """A LangGraph `StateSnapshot` as the reference's ThreadState (`state_snapshot_to_thread_state`).

    A task's `state` is a nested ThreadState when the snapshot was read with `subgraphs=True`
    and the subgraph has state; otherwise a subgraph task's checkpoint config is shown as its
    `checkpoint` (`{thread_id, checkpoint_ns}`) and `state` is null.
    """
    tasks = []
    for task in snapshot.tasks:
        state = task.state
        nested = state is not None and hasattr(state, "values") and hasattr(state, "tasks")
        tasks.append(
            {
                "id": task.id,
                "name": task.name,
                "path": list(task.path),
                "error": _task_error(task.error),
                "interrupts": [interrupt_to_wire(i) for i in task.interrupts],
                "checkpoint": state["configurable"] if state is not None and not nested else None,
                "state": snapshot_to_wire(state) if nested else None,
                "result": getattr(task, "result", None),
            }
        )
    config, parent = snapshot.config, snapshot.parent_config
    return {
        "values": snapshot.values,
        "next": list(snapshot.next),
        "tasks": tasks,
        "metadata": snapshot.metadata,
        "created_at": snapshot.created_at,
        "checkpoint": checkpoint_ref(config),
        "parent_checkpoint": checkpoint_ref(parent),
        "interrupts": [interrupt_to_wire(i) for i in getattr(snapshot, "interrupts", ())],
        "checkpoint_id": config["configurable"].get("checkpoint_id") if config else None,
        "parent_checkpoint_id": parent["configurable"]["checkpoint_id"] if parent else None,
    }
