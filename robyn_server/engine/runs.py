"""RunManager: executes runs as asyncio tasks on the server's loop, one at a time per thread.

Rules:
- No polling. A run starts the moment its thread is free and a concurrency slot is open;
  runs on one thread never overlap and start in creation order.
- Events go to the `RunBroker` (per-run log, any number of subscribers) and, for thread
  streams, to the thread channel.
- Thread status comes from the run outcome and the checkpointer: `busy` while a run is
  pending or running, `error` after a failed run, `interrupted` when the latest checkpoint
  has pending tasks (interrupt(), interrupt_before/after, a cancelled run), else `idle`.
- A finished run's final output (`/wait`, `/join`) is kept for the broker's retention
  window; after that it is read back from the checkpointer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from langgraph.types import Command

from robyn_server.engine.broker import RunBroker, Subscription
from robyn_server.engine.checkpoints import delete_run_checkpoints
from robyn_server.engine.graphs import GraphRegistry
from robyn_server.engine.streaming import error_payload, stream_graph
from robyn_server.engine.thread_state import interrupt_to_wire
from robyn_server.errors import NotFound
from robyn_server.sse import dumps
from robyn_server.storage.base import Run, RunStatus, Storage, ThreadPatch
from robyn_server.wire import run_to_wire

logger = logging.getLogger(__name__)

CancelAction = Literal["interrupt", "rollback"]


@dataclass(frozen=True)
class RunSpec:
    """How to execute a run; built by the run service from the request."""

    graph_id: str
    input: Any
    command: dict[str, Any] | None
    config: dict[str, Any]
    context: dict[str, Any] | None
    stream_modes: list[str]
    subgraphs: bool
    resumable: bool
    interrupt_before: list[str] | Literal["*"] | None
    interrupt_after: list[str] | Literal["*"] | None
    durability: str | None
    after_seconds: float = 0.0
    webhook: str | None = None
    temporary: bool = False


@dataclass
class RunOutcome:
    """The end of a run: its status and the final output `/wait` and `/join` return."""

    status: RunStatus
    output: bytes


@dataclass
class _Live:
    spec: RunSpec
    thread_id: str
    done: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    cancel_action: CancelAction | None = None
    outcome: RunOutcome | None = None


Webhook = Callable[[str, dict[str, Any]], Awaitable[None]]


class RunManager:
    """Creates, executes, cancels and joins runs."""

    def __init__(
        self,
        *,
        storage: Storage,
        graphs: GraphRegistry,
        broker: RunBroker,
        max_concurrent_runs: int,
        retention_seconds: float,
        webhook: Webhook | None = None,
    ) -> None:
        self._storage = storage
        self._graphs = graphs
        self._broker = broker
        self._slots = asyncio.Semaphore(max_concurrent_runs)
        self._retention = retention_seconds
        self._webhook = webhook
        self._live: dict[str, _Live] = {}
        self._finished: dict[str, RunOutcome] = {}
        self._running_on_thread: dict[str, str] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self.started_total = 0
        self.completed: dict[str, int] = {}
        self.durations: list[float] = []
        self.on_run_finished: list[Callable[[Run, RunOutcome, float], None]] = []

    # ------------------------------------------------------------------ lifecycle

    @property
    def active_count(self) -> int:
        """Runs pending or running in this process."""
        return len(self._live)

    @property
    def running_count(self) -> int:
        """Runs executing now."""
        return len(self._running_on_thread)

    async def shutdown(self, timeout: float) -> None:
        """Wait for runs to finish, then cancel what remains."""
        tasks = [live.task for live in self._live.values() if live.task is not None]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=2.0)
        for task in list(self._background):
            task.cancel()

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    # ------------------------------------------------------------------ create

    async def submit(
        self, run: Run, spec: RunSpec, *, subscribe: bool = False
    ) -> tuple[Run, Subscription | None]:
        """Store a pending run and start it as soon as its thread is free.

        With `subscribe`, the caller's subscription is registered before the run can publish,
        so it sees every event including `metadata`.
        """
        created = await self._storage.runs.create(run, owner=run["owner"])
        self._broker.open_run(created["run_id"], resumable=spec.resumable)
        subscription = self._broker.subscribe(created["run_id"]) if subscribe else None
        self._live[created["run_id"]] = _Live(spec=spec, thread_id=created["thread_id"])
        await self._storage.threads.update(created["thread_id"], ThreadPatch(status="busy"), owner=None)
        await self._schedule(created["thread_id"])
        return created, subscription

    def cancel_soon(self, run: Run, action: CancelAction) -> None:
        """Cancel from a place that cannot await (a stream's cleanup after a client disconnect)."""
        self._spawn(self.cancel(run, action))

    async def _schedule(self, thread_id: str) -> None:
        if thread_id in self._running_on_thread:
            return
        for run in await self._storage.runs.active_for_thread(thread_id):
            live = self._live.get(run["run_id"])
            if live is None or live.task is not None or run["status"] != "pending":
                continue
            self._running_on_thread[thread_id] = run["run_id"]
            live.task = asyncio.ensure_future(self._execute(run, live))
            return

    # ------------------------------------------------------------------ execute

    async def _execute(self, run: Run, live: _Live) -> None:
        run_id, thread_id, spec = run["run_id"], run["thread_id"], live.spec
        started = time.monotonic()
        status: RunStatus = "success"
        error: dict[str, Any] | None = None
        waiting = False
        try:
            if spec.after_seconds > 0:
                await asyncio.sleep(spec.after_seconds)
            async with self._slots:
                if await self._storage.runs.set_status(run_id, "running") is None:
                    raise asyncio.CancelledError
                self.started_total += 1
                self._emit(run_id, thread_id, "metadata", {"run_id": run_id, "attempt": 1}, mode="lifecycle")
                async with self._graphs.build(
                    spec.graph_id,
                    spec.config,
                    checkpointer=self._storage.checkpointer,
                    store=self._storage.store,
                ) as graph:
                    await self._stream(graph, run_id, thread_id, spec)
                    state = await graph.aget_state({"configurable": {"thread_id": thread_id}})
                    waiting = bool(state.next)
        except asyncio.CancelledError:
            status = "interrupted"
            waiting = live.task is not None and self._running_on_thread.get(thread_id) == run_id
        except Exception as exc:
            status = "error"
            error = error_payload(exc)
            logger.info("run %s failed: %s: %s", run_id, error["error"], error["message"])
            self._emit(run_id, thread_id, "error", error, mode="run_modes")
        await self._finish(run, live, status, error, waiting, time.monotonic() - started)

    async def _stream(self, graph: Any, run_id: str, thread_id: str, spec: RunSpec) -> None:
        graph_input: Any = spec.input
        if spec.command is not None:
            graph_input = _command(spec.command)
        config = dict(spec.config)
        kwargs: dict[str, Any] = {}
        if spec.context is not None:
            kwargs["context"] = spec.context
        async for event in stream_graph(
            graph,
            graph_input,
            config,  # type: ignore[arg-type]
            stream_modes=spec.stream_modes,
            subgraphs=spec.subgraphs,
            interrupt_before=spec.interrupt_before,
            interrupt_after=spec.interrupt_after,
            durability=spec.durability,
            **kwargs,
        ):
            self._emit(run_id, thread_id, event.event, event.data, mode=event.mode)

    def _emit(self, run_id: str, thread_id: str, event: str, data: Any, *, mode: str) -> None:
        payload = dumps(data)
        with contextlib.suppress(KeyError, RuntimeError):
            self._broker.publish(run_id, event, payload)
        thread_mode = "lifecycle" if event == "metadata" else "run_modes"
        self._broker.publish_thread(thread_id, event, payload, mode=thread_mode)

    async def _finish(
        self,
        run: Run,
        live: _Live,
        status: RunStatus,
        error: dict[str, Any] | None,
        waiting: bool,
        duration: float,
    ) -> None:
        run_id, thread_id = run["run_id"], run["thread_id"]
        final: Run | None = None
        try:
            if live.cancel_action == "rollback":
                await delete_run_checkpoints(self._storage.checkpointer, thread_id, run_id)
                with contextlib.suppress(NotFound):
                    await self._storage.runs.delete(thread_id, run_id, owner=None)
                outcome = RunOutcome("interrupted", b"{}")
                waiting = False
            else:
                final = await self._storage.runs.set_status(run_id, status)
                output = {"__error__": error} if error else await self.final_values(thread_id)
                outcome = RunOutcome(status, dumps(output))
            await self._update_thread(thread_id, error=error, waiting=waiting)
        except Exception:
            logger.exception("finishing run %s failed", run_id)
            outcome = RunOutcome(status, dumps({"__error__": error} if error else {}))
        live.outcome = outcome
        self._finished[run_id] = outcome
        if live.task is not None and self._running_on_thread.get(thread_id) == run_id:
            self._emit(
                run_id, thread_id, "metadata", {"status": "run_done", "run_id": run_id}, mode="lifecycle"
            )
        self._broker.finish(run_id)
        self._live.pop(run_id, None)
        if self._running_on_thread.get(thread_id) == run_id:
            del self._running_on_thread[thread_id]
        live.done.set()
        self.completed[outcome.status] = self.completed.get(outcome.status, 0) + 1
        for hook in self.on_run_finished:
            hook(final or run, outcome, duration)
        self._spawn(self._forget_later(run_id))
        if live.spec.webhook and final is not None and self._webhook is not None:
            self._spawn(self._webhook(live.spec.webhook, run_to_wire(final)))
        if live.spec.temporary:
            self._spawn(self._delete_temporary(thread_id))
        await self._schedule(thread_id)

    async def _forget_later(self, run_id: str) -> None:
        await asyncio.sleep(self._retention)
        self._finished.pop(run_id, None)

    async def _delete_temporary(self, thread_id: str) -> None:
        if await self._storage.runs.active_for_thread(thread_id):
            return
        with contextlib.suppress(NotFound):
            await self._storage.threads.delete(thread_id, owner=None)
        await self._storage.checkpointer.adelete_thread(thread_id)

    async def _update_thread(self, thread_id: str, *, error: dict[str, Any] | None, waiting: bool) -> None:
        """Set the thread's status from its remaining runs, the run outcome and its checkpoint."""
        queued = [
            r for r in await self._storage.runs.active_for_thread(thread_id) if r["status"] == "pending"
        ]
        if queued:
            status = "busy"
        elif error is not None:
            status = "error"
        elif waiting:
            status = "interrupted"
        else:
            status = "idle"
        patch = ThreadPatch(status=status, touch_state=True, has_run=True)
        if error is not None:
            patch.error = error
        else:
            patch.clear_error = True
        with contextlib.suppress(NotFound):
            await self._storage.threads.update(thread_id, patch, owner=None)

    async def final_values(self, thread_id: str) -> dict[str, Any]:
        """The thread's latest values, with `__interrupt__` when it is waiting on interrupts."""
        found = await self._storage.checkpointer.aget_tuple(
            {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
        )
        if found is None:
            return {}
        values = {
            k: v for k, v in found.checkpoint["channel_values"].items() if not k.startswith(("__", "branch:"))
        }
        interrupts = [
            item
            for _, channel, value in found.pending_writes or ()
            if channel == "__interrupt__"
            for item in (value if isinstance(value, list | tuple) else [value])
        ]
        if interrupts:
            values["__interrupt__"] = interrupts
        return values

    # ------------------------------------------------------------------ join, cancel

    def is_live(self, run_id: str) -> bool:
        """Whether the run is pending or running here."""
        return run_id in self._live

    async def wait(self, run_id: str) -> RunOutcome | None:
        """Wait for a live run to end; return its outcome (None if it is unknown here)."""
        live = self._live.get(run_id)
        if live is not None:
            await live.done.wait()
            return live.outcome
        return self._finished.get(run_id)

    async def cancel(self, run: Run, action: CancelAction) -> bool:
        """Cancel a pending or running run. Returns False if it had already ended."""
        live = self._live.get(run["run_id"])
        if live is None:
            return False
        live.cancel_action = action
        if live.task is None:
            # Still queued behind another run: end it without executing.
            live.task = asyncio.ensure_future(self._finish_unstarted(run, live))
        else:
            live.task.cancel()
        return True

    async def _finish_unstarted(self, run: Run, live: _Live) -> None:
        await self._finish(run, live, "interrupted", None, False, 0.0)


def _command(raw: dict[str, Any]) -> Command:
    """`command: {resume, update, goto}` → a LangGraph Command."""
    kwargs: dict[str, Any] = {}
    if "resume" in raw:
        kwargs["resume"] = raw["resume"]
    if raw.get("update") is not None:
        update = raw["update"]
        kwargs["update"] = [tuple(item) for item in update] if isinstance(update, list) else update
    if raw.get("goto") is not None:
        kwargs["goto"] = raw["goto"]
    return Command(**kwargs)


__all__ = ["RunManager", "RunOutcome", "RunSpec", "interrupt_to_wire"]
