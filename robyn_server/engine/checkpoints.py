"""Thread-level checkpoint operations on any `BaseCheckpointSaver`.

Savers may implement `acopy_thread`/`aprune` natively (the Postgres one does);
`InMemorySaver` does not, so these fall back to the public put/list API.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple


async def _tuples(saver: BaseCheckpointSaver, thread_id: str) -> list[CheckpointTuple]:
    found = [t async for t in saver.alist({"configurable": {"thread_id": thread_id}})]
    found.reverse()  # oldest first, so parents exist before their children
    return found


async def copy_thread(saver: BaseCheckpointSaver, source: str, target: str) -> None:
    """Copy every checkpoint (all namespaces) and pending write of `source` to `target`."""
    try:
        await saver.acopy_thread(source, target)
        return
    except NotImplementedError:
        pass
    for item in await _tuples(saver, source):
        ns = item.config["configurable"].get("checkpoint_ns", "")
        parent_id = item.parent_config["configurable"]["checkpoint_id"] if item.parent_config else None
        config: dict[str, Any] = {"configurable": {"thread_id": target, "checkpoint_ns": ns}}
        if parent_id:
            config["configurable"]["checkpoint_id"] = parent_id
        checkpoint = item.checkpoint
        saved = await saver.aput(config, checkpoint, item.metadata, dict(checkpoint["channel_versions"]))  # type: ignore[arg-type]
        by_task: dict[str, list[tuple[str, Any]]] = {}
        for task_id, channel, value in item.pending_writes or ():
            by_task.setdefault(task_id, []).append((channel, value))
        for task_id, writes in by_task.items():
            await saver.aput_writes(saved, writes, task_id)


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
        for ns, item in latest.items():
            config = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns}}
            saved = await saver.aput(
                config,  # type: ignore[arg-type]
                item.checkpoint,
                item.metadata,
                dict(item.checkpoint["channel_versions"]),
            )
            by_task: dict[str, list[tuple[str, Any]]] = {}
            for task_id, channel, value in item.pending_writes or ():
                by_task.setdefault(task_id, []).append((channel, value))
            for task_id, writes in by_task.items():
                await saver.aput_writes(saved, writes, task_id)
