"""Thread state and history, read and written only through LangGraph and the checkpointer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from langgraph.errors import InvalidUpdateError
from langgraph.pregel import Pregel

from robyn_server.engine.broker import RunBroker
from robyn_server.engine.graphs import GraphRegistry
from robyn_server.engine.thread_state import json_reader
from robyn_server.errors import BadRequest, Conflict
from robyn_server.services.threads import require_graph_id
from robyn_server.sse import dumps
from robyn_server.storage.base import Storage, Thread, ThreadPatch
from robyn_server.wire import EMPTY_STATE, snapshot_to_wire


def _config(thread_id: str, checkpoint: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """The config addressing a thread's root state, or the given checkpoint.

    A given checkpoint is used as sent (like the reference, which then echoes a missing
    checkpoint back without `checkpoint_ns` when none was sent).
    """
    configurable: dict[str, Any] = {"thread_id": thread_id, **extra}
    if checkpoint:
        configurable.update({k: v for k, v in checkpoint.items() if v is not None and k != "thread_id"})
    else:
        configurable["checkpoint_ns"] = ""
    return {"configurable": configurable}


class StateService:
    """`/threads/{id}/state` and `/history`."""

    def __init__(self, storage: Storage, graphs: GraphRegistry, broker: RunBroker) -> None:
        self._storage = storage
        self._graphs = graphs
        self._broker = broker
        # Reads decode stored values straight to JSON data, as langgraph-api does.
        self._reader = json_reader(storage.checkpointer)

    @asynccontextmanager
    async def _graph(self, thread: Thread, *, write: bool = False) -> AsyncIterator[Pregel | None]:
        graph_id = thread["metadata"].get("graph_id")
        if not graph_id or graph_id not in self._graphs:
            yield None
            return
        config = {"configurable": {"thread_id": thread["thread_id"], "graph_id": graph_id}}
        checkpointer = self._storage.checkpointer if write else self._reader
        async with self._graphs.build(
            graph_id, config, checkpointer=checkpointer, store=self._storage.store
        ) as graph:
            yield graph

    async def get(
        self, thread_id: str, *, checkpoint: dict[str, Any] | None, subgraphs: bool, owner: str | None
    ) -> dict[str, Any]:
        """The thread's state (at a checkpoint if given); the empty shape for a thread with none."""
        thread = await self._storage.threads.get(thread_id, owner=owner)
        async with self._graph(thread) as graph:
            if graph is None:
                return dict(EMPTY_STATE)
            snapshot = await graph.aget_state(_config(thread_id, checkpoint), subgraphs=subgraphs)
        if snapshot.config is None or not snapshot.config.get("configurable", {}).get("checkpoint_id"):
            return dict(EMPTY_STATE)
        return snapshot_to_wire(snapshot)

    async def history(
        self,
        thread_id: str,
        *,
        limit: int,
        before: dict[str, Any] | None,
        metadata: dict[str, Any] | None,
        checkpoint: dict[str, Any] | None,
        owner: str | None,
    ) -> list[dict[str, Any]]:
        """States newest first."""
        thread = await self._storage.threads.get(thread_id, owner=owner)
        async with self._graph(thread) as graph:
            if graph is None:
                return []
            states = [
                snapshot_to_wire(s)
                async for s in graph.aget_state_history(
                    _config(thread_id, checkpoint),
                    limit=limit,
                    before=_config(thread_id, before) if before else None,
                    filter=metadata,
                )
            ]
        return states

    async def update(
        self,
        thread_id: str,
        *,
        values: Any,
        as_node: str | None,
        checkpoint: dict[str, Any] | None,
        owner: str | None,
    ) -> dict[str, Any]:
        """Write a new checkpoint (as if `as_node` returned `values`). Raises BadRequest, Conflict."""
        thread = await self._storage.threads.get(thread_id, owner=owner)
        require_graph_id(thread)
        if thread["status"] == "busy":
            raise Conflict("Thread is busy with a run; update its state when the run has finished.")
        async with self._graph(thread, write=True) as graph:
            assert graph is not None
            try:
                # `graph_id` lands in the new checkpoint's metadata, as in the reference.
                config = _config(thread_id, checkpoint, graph_id=thread["metadata"]["graph_id"])
                saved = await graph.aupdate_state(config, values, as_node=as_node)
            except (InvalidUpdateError, ValueError, KeyError) as error:
                raise BadRequest(str(error).strip("'\"") or type(error).__name__) from None
            snapshot = await graph.aget_state(_config(thread_id))
        status = "interrupted" if snapshot.next else "idle"
        await self._storage.threads.update(
            thread_id, ThreadPatch(status=status, clear_error=True, touch_state=True), owner=None
        )
        state = snapshot_to_wire(snapshot)
        self._broker.publish_thread(thread_id, "state_update", dumps({"state": state}), mode="state_update")
        configurable = saved["configurable"]
        ref = {
            "thread_id": configurable["thread_id"],
            "checkpoint_ns": configurable.get("checkpoint_ns", ""),
            "checkpoint_id": configurable["checkpoint_id"],
        }
        return {"checkpoint": ref, "configurable": ref, "checkpoint_id": ref["checkpoint_id"]}
