"""Thread-level checkpoint operations on any `BaseCheckpointSaver`.

Savers may implement `acopy_thread`/`aprune`/`adelete_for_runs` natively (the Postgres
one does); `InMemorySaver` does not, so these fall back to the public list/put API.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple


async def _tuples(saver: BaseCheckpointSaver, thread_id: str) -> list[CheckpointTuple]:
    found = [t async for t in saver.alist({"configurable": {"thread_id": thread_id}})]
    found.reverse()  # oldest first, so parents are written before their children
    return found


async def _write(
    saver: BaseCheckpointSaver, thread_id: str, items: Iterable[CheckpointTuple], *, keep_parents: bool
) -> None:
    """Put checkpoints (and their pending writes) under `thread_id`, oldest first."""
    for item in items:
        configurable: dict[str, Any] = {
            "thread_id": thread_id,
            "checkpoint_ns": item.config["configurable"].get("checkpoint_ns", ""),
        }
        if keep_parents and item.parent_config:
            configurable["checkpoint_id"] = item.parent_config["configurable"]["checkpoint_id"]
        saved = await saver.aput(
            {"configurable": configurable},
            item.checkpoint,
            item.metadata,
            dict(item.checkpoint["channel_versions"]),
        )
        by_task: dict[str, list[tuple[str, Any]]] = {}
        for task_id, channel, value in item.pending_writes or ():
            by_task.setdefault(task_id, []).append((channel, value))
        for task_id, writes in by_task.items():
            await saver.aput_writes(saved, writes, task_id)


async def copy_thread(saver: BaseCheckpointSaver, source: str, target: str) -> None:
    """Copy every checkpoint (all namespaces) and pending write of `source` to `target`."""
    try:
        await saver.acopy_thread(source, target)
    except NotImplementedError:
        await _write(saver, target, await _tuples(saver, source), keep_parents=True)


async def prune_keep_latest(saver: BaseCheckpointSaver, thread_ids: Sequence[str]) -> None:
    """Keep only each thread's latest checkpoint per namespace."""
    try:
        await saver.aprune(thread_ids, strategy="keep_latest")
        return
    except NotImplementedError:
        pass
    for thread_id in thread_ids:
        latest: dict[str, CheckpointTuple] = {}
        for item in await _tuples(saver, thread_id):
            latest[item.config["configurable"].get("checkpoint_ns", "")] = item
        await saver.adelete_thread(thread_id)
        await _write(saver, thread_id, latest.values(), keep_parents=False)


async def delete_run_checkpoints(saver: BaseCheckpointSaver, thread_id: str, run_id: str) -> None:
    """Remove the checkpoints a run wrote (rollback), keeping the thread's earlier history."""
    try:
        await saver.adelete_for_runs([run_id])
        return
    except NotImplementedError:
        pass
    items = await _tuples(saver, thread_id)
    kept = [item for item in items if (item.metadata or {}).get("run_id") != run_id]
    if len(kept) != len(items):
        await saver.adelete_thread(thread_id)
        await _write(saver, thread_id, kept, keep_parents=True)
