"""Threads: creation, search (including by state values), copy and prune."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from langgraph.errors import InvalidUpdateError
from langgraph.types import StateUpdate

from robyn_server import models
from robyn_server.clock import utcnow
from robyn_server.engine.checkpoints import copy_thread, prune_keep_latest
from robyn_server.engine.graphs import GraphRegistry
from robyn_server.engine.run_spec import build_command
from robyn_server.engine.thread_state import ThreadStateReader, ThreadSummary
from robyn_server.errors import BadRequest
from robyn_server.ids import uuid4, uuid7
from robyn_server.ownership import stamp_owner
from robyn_server.storage.base import (
    CronFilter,
    Page,
    SearchResult,
    Storage,
    Thread,
    ThreadFilter,
    ThreadPatch,
)
from robyn_server.storage.filters import json_contains

NO_GRAPH_FOR_SUPERSTEPS = (
    "Thread '{tid}' has no assigned graph ID. This usually occurs when no runs have been made on this "
    "particular thread. This operation requires a graph ID. Please ensure a run has been made for the thread "
    "or manually update the thread metadata (by setting the 'graph_id' field) before running this operation."
)


class ThreadView:
    """A thread record with its state summary, ready to serialize."""

    __slots__ = ("summary", "thread")

    def __init__(self, thread: Thread, summary: ThreadSummary) -> None:
        self.thread = thread
        self.summary = summary


class ThreadService:
    """Thread use cases over storage and the checkpointer."""

    def __init__(self, storage: Storage, graphs: GraphRegistry) -> None:
        self._storage = storage
        self._graphs = graphs
        self._reader = ThreadStateReader(storage.checkpointer)

    async def view(self, thread: Thread) -> ThreadView:
        """Attach the state summary read from the checkpointer."""
        summary = await self._reader.summary(thread["thread_id"])
        graph_id = thread["metadata"].get("graph_id")
        if summary.values is not None and graph_id in self._graphs:
            summary = dataclasses.replace(summary, values=self._graphs.state_values(graph_id, summary.values))
        return ThreadView(thread, summary)

    async def create(self, body: models.ThreadCreate, *, owner: str | None) -> tuple[ThreadView, str | None]:
        """Create a thread. Returns the view and, for supersteps that could not apply, a warning."""
        now = utcnow()
        ttl = body.ttl.model_dump() if body.ttl else None
        record: Thread = {
            "thread_id": body.thread_id or uuid7(),
            "created_at": now,
            "updated_at": now,
            "state_updated_at": now,
            "metadata": stamp_owner(body.metadata, owner),
            "config": {},
            "status": "idle",
            "error": None,
            "ttl": ttl,
            "has_run": False,
            "owner": owner,
        }
        thread = await self._storage.threads.create(record, owner=owner, if_exists=body.if_exists)
        warning = None
        if body.supersteps:
            problem = await self._apply_supersteps(thread, body.supersteps)
            if problem:
                # The reference keeps the thread and answers 201 with this detail.
                warning = (
                    f"Thread {thread['thread_id']} was created, but there were problems updating "
                    f"the state: {problem}"
                )
            else:
                thread = await self._storage.threads.get(thread["thread_id"], owner=owner)
        return await self.view(thread), warning

    async def _apply_supersteps(self, thread: Thread, supersteps: list[dict[str, Any]]) -> str | None:
        """Write initial state as a sequence of supersteps. Returns a problem description, or None."""
        graph_id = thread["metadata"].get("graph_id")
        if not graph_id or graph_id not in self._graphs:
            return NO_GRAPH_FOR_SUPERSTEPS.format(tid=thread["thread_id"])
        thread_id = thread["thread_id"]
        config = {"configurable": {"thread_id": thread_id, "checkpoint_ns": "", "graph_id": graph_id}}
        try:
            steps = [
                [
                    StateUpdate(
                        build_command(update["command"]) if update.get("command") else update.get("values"),
                        update.get("as_node"),
                        update.get("task_id"),
                    )
                    for update in step.get("updates", [])
                ]
                for step in supersteps
            ]
            async with self._graphs.build(
                graph_id, config, checkpointer=self._storage.checkpointer, store=self._storage.store
            ) as graph:
                await graph.abulk_update_state(config, steps)
                waiting = bool((await graph.aget_state(config)).next)
        except (InvalidUpdateError, ValueError, KeyError, TypeError, AttributeError) as error:
            return str(error) or type(error).__name__
        patch = ThreadPatch(status="interrupted" if waiting else "idle", touch_state=True)
        await self._storage.threads.update(thread_id, patch, owner=None)
        return None

    async def get(self, thread_id: str, *, owner: str | None) -> ThreadView:
        """The thread with its values. Raises NotFound."""
        return await self.view(await self._storage.threads.get(thread_id, owner=owner))

    async def patch(self, thread_id: str, body: models.ThreadPatchBody, *, owner: str | None) -> ThreadView:
        """Merge metadata, replace ttl."""
        patch = ThreadPatch(metadata=body.metadata, ttl=body.ttl.model_dump() if body.ttl else None)
        return await self.view(await self._storage.threads.update(thread_id, patch, owner=owner))

    async def delete(self, thread_id: str, *, owner: str | None) -> None:
        """Delete the thread, its runs, its crons and its checkpoints."""
        await self._storage.threads.delete(thread_id, owner=owner)
        await self._storage.checkpointer.adelete_thread(thread_id)
        by_thread = CronFilter(thread_id=thread_id)
        crons = await self._storage.crons.search(by_thread, Page(limit=None), owner=None)
        for cron in crons.items:
            await self._storage.crons.delete(cron["cron_id"], owner=None)

    async def delete_by_assistant(self, assistant_id: str, *, owner: str | None) -> int:
        """Delete the caller's threads whose metadata names this assistant (DELETE ?delete_threads)."""
        found = await self._storage.threads.search(
            ThreadFilter(metadata={"assistant_id": assistant_id}), Page(limit=None), owner=owner
        )
        for thread in found.items:
            await self.delete(thread["thread_id"], owner=owner)
        return len(found.items)

    async def search(self, body: models.ThreadSearch, *, owner: str | None) -> SearchResult[ThreadView]:
        """Visible threads matching the filters; a `values` filter is applied to checkpointer state."""
        ids = None
        if body.ids is not None:
            ids = [models.normalize_uuid(i, "thread", status=400) for i in body.ids]
        filters = ThreadFilter(ids=ids, metadata=body.metadata, status=body.status)
        order = body.sort_order or "desc"
        if body.values is None:
            page = Page(limit=body.limit, offset=body.offset, sort_by=body.sort_by, sort_order=order)
            result = await self._storage.threads.search(filters, page, owner=owner)
            return SearchResult([await self.view(t) for t in result.items], result.total)
        everything = await self._storage.threads.search(
            filters, Page(limit=None, sort_by=body.sort_by, sort_order=order), owner=owner
        )
        matched = [v for v in [await self.view(t) for t in everything.items] if _values_match(v, body.values)]
        return SearchResult(matched[body.offset : body.offset + body.limit], len(matched))

    async def count(self, body: models.ThreadCount, *, owner: str | None) -> int:
        """How many visible threads match."""
        filters = ThreadFilter(metadata=body.metadata, status=body.status)
        if body.values is None:
            return await self._storage.threads.count(filters, owner=owner)
        everything = await self._storage.threads.search(filters, Page(limit=None), owner=owner)
        views = [await self.view(t) for t in everything.items]
        return sum(1 for v in views if _values_match(v, body.values))

    async def copy(self, thread_id: str, *, owner: str | None) -> ThreadView:
        """A new thread (uuid4, like the reference) with the same metadata and full checkpoint history."""
        source = await self._storage.threads.get(thread_id, owner=owner)
        now = utcnow()
        record: Thread = {
            **source,
            "thread_id": uuid4(),
            "created_at": now,
            "updated_at": now,
            "state_updated_at": now,
        }
        if record["status"] == "busy":
            record["status"] = "idle"
        created = await self._storage.threads.create(record, owner=source["owner"])
        await copy_thread(self._storage.checkpointer, thread_id, created["thread_id"])
        return await self.view(created)

    async def prune(self, body: models.ThreadPrune, *, owner: str | None) -> int:
        """Delete threads, or keep only their latest checkpoint. Unknown/foreign ids are skipped."""
        ids = [models.normalize_uuid(i, "thread", status=422) for i in body.thread_ids]
        visible = await self._storage.threads.search(ThreadFilter(ids=ids), Page(limit=None), owner=owner)
        found = [t["thread_id"] for t in visible.items]
        if body.strategy == "delete":
            for tid in found:
                await self.delete(tid, owner=owner)
        elif found:
            await prune_keep_latest(self._storage.checkpointer, found)
        return len(found)

    async def expire(self) -> int:
        """Delete threads whose TTL has passed (called by a background sweeper)."""
        now = utcnow()
        everything = await self._storage.threads.search(ThreadFilter(), Page(limit=None), owner=None)
        expired = [
            t["thread_id"]
            for t in everything.items
            if t["ttl"] and t["updated_at"] + timedelta(minutes=float(t["ttl"]["ttl"])) <= now
        ]
        for tid in expired:
            await self.delete(tid, owner=None)
        return len(expired)


def _values_match(view: ThreadView, wanted: dict[str, Any]) -> bool:
    values = view.summary.values
    return values is not None and json_contains(values, wanted)


def require_graph_id(thread: Thread) -> str:
    """The graph a thread belongs to, for state operations. Raises BadRequest."""
    graph_id = thread["metadata"].get("graph_id")
    if not graph_id:
        raise BadRequest(NO_GRAPH_FOR_SUPERSTEPS.format(tid=thread["thread_id"]))
    return graph_id
