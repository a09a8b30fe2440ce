"""RunManager: executes runs as asyncio tasks on the server's loop, one at a time per thread.

Rules:
- No polling. A run starts the moment its thread is free and a concurrency slot is open;
  runs on one thread never overlap and start in creation order.
- Events go to the `RunBroker` (per-run log, any number of subscribers) and, for thread
  streams, to the thread channel.
- Thread status comes from the run outcome and the checkpointer: `busy` while a run is
  pending or running, `error` after a failed run, `interrupted` when the latest checkpoint
  has pending tasks (interrupt(), interrupt_before/after, a cancelled run), else `idle`.
- A run's final output (`/wait`, `/join`) is the thread state as the graph reads it at the
  end (so never-written reducer channels show as empty, like the reference's last `values`
  event), `{"__error__": ...}` after a failure, `{}` after a rollback. It is kept for the
  broker's retention window; after that it is read back from the checkpointer.
- Once a run's graph has stopped it is `finishing`: cancels no longer apply, and recording
  the end (statuses, thread, temporary-thread deletion) is shielded from cancellation.
- A run cancelled before it started (queued, or waiting out `after_seconds`) or rolled back
  leaves the thread as its checkpoint and remaining runs say, not `interrupted`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from robyn_server.engine.broker import RunBroker, Subscription
from robyn_server.engine.checkpoints import delete_run_checkpoints
from robyn_server.engine.graphs import GraphRegistry
from robyn_server.engine.run_spec import CancelAction, RunOutcome, RunSpec, build_command, execution_metadata
from robyn_server.engine.streaming import error_payload, stream_graph
from robyn_server.errors import NotFound
from robyn_server.sse import dumps
from robyn_server.storage.base import Run, RunStatus, Storage, ThreadPatch
from robyn_server.wire import run_to_wire

logger = logging.getLogger(__name__)


@dataclass
class _Live:
    spec: RunSpec
    thread_id: str
    run: Run
    done: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    cancel_action: CancelAction | None = None
    outcome: RunOutcome | None = None
    # Set once the run has ended and is being recorded: too late to cancel.
    finishing: bool = False


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
    def graphs(self) -> GraphRegistry:
        """The registered graphs."""
        return self._graphs

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
        self._live[created["run_id"]] = _Live(spec=spec, thread_id=created["thread_id"], run=created)
        await self._storage.threads.update(created["thread_id"], ThreadPatch(status="busy"), owner=None)
        await self._schedule(created["thread_id"])
        return created, subscription

    def cancel_soon(self, run: Run, action: CancelAction) -> None:
        """Cancel from a place that cannot await (a stream's cleanup after a client disconnect)."""
        self._spawn(self.cancel(run, action))

    async def _schedule(self, thread_id: str) -> None:
        if thread_id in self._running_on_thread:
            return
        active = await self._storage.runs.active_for_thread(thread_id)
        for run in active:
            live = self._live.get(run["run_id"])
            if live is None or live.task is not None or run["status"] != "pending":
                continue
            self._running_on_thread[thread_id] = run["run_id"]
            live.task = asyncio.ensure_future(self._execute(run, live))
            return
        # Queued runs whose records are gone (their thread was deleted) will never start:
        # end them so nobody waits on them forever.
        known = {run["run_id"] for run in active}
        for run_id, live in list(self._live.items()):
            if live.thread_id == thread_id and live.task is None and run_id not in known:
                live.cancel_action = "interrupt"
                live.task = asyncio.ensure_future(self._finish_unstarted(live.run, live))

    # ------------------------------------------------------------------ execute

    async def _execute(self, run: Run, live: _Live) -> None:
        run_id, thread_id, spec = run["run_id"], run["thread_id"], live.spec
        started = time.monotonic()
        status: RunStatus = "success"
        error: dict[str, Any] | None = None
        ran = False  # whether the graph started (a run cancelled before that leaves no state)
        output: dict[str, Any] | None = None
        waiting = False
        try:
            if spec.after_seconds > 0:
                await asyncio.sleep(spec.after_seconds)
            async with self._slots:
                if await self._storage.runs.set_status(run_id, "running") is None:
                    raise asyncio.CancelledError
                ran = True
                self.started_total += 1
                self._emit(run_id, thread_id, "metadata", {"run_id": run_id, "attempt": 1}, mode="lifecycle")
                config = {
                    **spec.config,
                    "metadata": {**spec.config.get("metadata", {}), **execution_metadata(run_id, thread_id)},
                }
                async with self._graphs.build(
                    spec.graph_id,
                    config,
                    checkpointer=self._storage.checkpointer,
                    store=self._storage.store,
                ) as graph:
                    try:
                        await self._stream(graph, run_id, thread_id, spec, config)
                    finally:
                        # From here on the run is ending: too late to cancel. Read the end
                        # state even when cancelled or failed.
                        live.finishing = True
                        output, waiting = await asyncio.shield(self._end_state(graph, thread_id))
        except asyncio.CancelledError:
            status = "interrupted"
            waiting = ran
        except Exception as exc:
            status = "error"
            error = error_payload(exc)
            # Clients get the sanitized payload; operators get the real exception.
            logger.warning("run %s failed: %s: %s", run_id, type(exc).__name__, exc)
            self._emit(run_id, thread_id, "error", error, mode="run_modes")
        # Recording the end must not be cut short by a late cancel.
        live.finishing = True
        await asyncio.shield(
            self._finish(
                run, live, status, error, waiting, time.monotonic() - started, output=output, started=ran
            )
        )

    async def _end_state(self, graph: Any, thread_id: str) -> tuple[dict[str, Any] | None, bool]:
        """The thread's values as the graph reads them (with `__interrupt__`), and whether it waits.

        Reading through the graph matters: channels never written (an `operator.add` list)
        show their empty value, as in the reference's final `values` event.
        """
        try:
            state = await graph.aget_state({"configurable": {"thread_id": thread_id}})
        except Exception:
            logger.exception("reading the end state of thread %s failed", thread_id)
            return None, False
        values: Any = state.values
        if isinstance(values, dict):
            values = dict(values)
            if state.interrupts:
                values["__interrupt__"] = list(state.interrupts)
        return values, bool(state.next)

    async def _stream(
        self, graph: Any, run_id: str, thread_id: str, spec: RunSpec, config: dict[str, Any]
    ) -> None:
        graph_input: Any = spec.input
        if spec.command is not None:
            graph_input = build_command(spec.command)
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
        *,
        output: Any = None,
        started: bool = True,
    ) -> None:
        """Record the end of a run (or of a cancelled run that never started)."""
        run_id, thread_id = run["run_id"], run["thread_id"]
        live.finishing = True
        final: Run | None = None
        try:
            if live.cancel_action == "rollback":
                await delete_run_checkpoints(self._storage.checkpointer, thread_id, run_id)
                with contextlib.suppress(NotFound):
                    await self._storage.runs.delete(thread_id, run_id, owner=None)
                outcome = RunOutcome("interrupted", b"{}")
                await self._settle_thread(thread_id, live.spec, state_changed=started)
            else:
                final = await self._storage.runs.set_status(run_id, status)
                if final is None:
                    await self._drop_orphaned_state(thread_id)
                if error:
                    output = {"__error__": error}
                elif output is None:
                    output = await self.final_values(thread_id)
                outcome = RunOutcome(status, dumps(output))
                if started:
                    await self._update_thread(thread_id, error=error, waiting=waiting)
                else:
                    await self._settle_thread(thread_id, live.spec, state_changed=False)
        except Exception:
            logger.exception("finishing run %s failed", run_id)
            outcome = RunOutcome(status, dumps({"__error__": error} if error else {}))
        if live.spec.temporary:
            # Gone before `/wait` answers, as in the reference.
            try:
                await self._delete_temporary(thread_id)
            except Exception:
                logger.exception("deleting temporary thread %s failed", thread_id)
        live.outcome = outcome
        self._finished[run_id] = outcome
        if live.task is not None and self._running_on_thread.get(thread_id) == run_id:
            # Thread streams only: the run's own stream just ends (reference: no `end` event).
            self._broker.publish_thread(
                thread_id, "metadata", dumps({"status": "run_done", "run_id": run_id}), mode="lifecycle"
            )
        self._broker.finish(run_id)
        self._live.pop(run_id, None)
        if self._running_on_thread.get(thread_id) == run_id:
            del self._running_on_thread[thread_id]
        live.done.set()
        self.completed[outcome.status] = self.completed.get(outcome.status, 0) + 1
        for hook in self.on_run_finished:
            try:
                hook(final or run, outcome, duration)
            except Exception:
                logger.exception("run-finished hook failed")
        self._spawn(self._forget_later(run_id))
        if live.spec.webhook and final is not None and self._webhook is not None:
            self._spawn(self._webhook(live.spec.webhook, run_to_wire(final)))
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
        """After a run that executed: status from the remaining runs, the outcome and the checkpoint."""
        if await self._storage.runs.active_for_thread(thread_id):
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

    async def _drop_orphaned_state(self, thread_id: str) -> None:
        """The run's record vanished with its thread while it ran: drop what it kept writing."""
        try:
            await self._storage.threads.get(thread_id, owner=None)
        except NotFound:
            await self._storage.checkpointer.adelete_thread(thread_id)

    async def _settle_thread(self, thread_id: str, spec: RunSpec, *, state_changed: bool) -> None:
        """After a run left no trace (cancelled before it started, or rolled back).

        The thread goes back to what its runs and checkpoint say: `busy` with other runs
        active, else `error` if its last run failed, `interrupted` if the checkpoint waits,
        else `idle`.
        """
        with contextlib.suppress(NotFound):
            if await self._storage.runs.active_for_thread(thread_id):
                status = "busy"
            elif (await self._storage.threads.get(thread_id, owner=None))["error"] is not None:
                status = "error"
            else:
                status = "interrupted" if await self._waits(thread_id, spec) else "idle"
            patch = ThreadPatch(status=status, touch_state=state_changed)
            await self._storage.threads.update(thread_id, patch, owner=None)

    async def _waits(self, thread_id: str, spec: RunSpec) -> bool:
        """Whether the thread's latest checkpoint has tasks to run (interrupted)."""
        if await self._storage.checkpointer.aget_tuple({"configurable": {"thread_id": thread_id}}) is None:
            return False
        try:
            async with self._graphs.build(
                spec.graph_id, spec.config, checkpointer=self._storage.checkpointer, store=self._storage.store
            ) as graph:
                state = await graph.aget_state({"configurable": {"thread_id": thread_id}})
        except Exception:
            logger.exception("reading the state of thread %s failed", thread_id)
            return False
        return bool(state.next)

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
        """Cancel a pending or running run. Returns False if it had already ended.

        Cancelling a run that is already being cancelled only upgrades the action to
        `rollback` if asked; the run's task is never cancelled twice.
        """
        live = self._live.get(run["run_id"])
        if live is None or live.finishing:
            return False
        if live.cancel_action is not None:
            if action == "rollback":
                live.cancel_action = action
            return True
        live.cancel_action = action
        if live.task is None:
            # Still queued behind another run: end it without executing.
            live.task = asyncio.ensure_future(self._finish_unstarted(run, live))
        else:
            live.task.cancel()
        return True

    async def _finish_unstarted(self, run: Run, live: _Live) -> None:
        await self._finish(run, live, "interrupted", None, False, 0.0, started=False)


__all__ = ["CancelAction", "RunManager", "RunOutcome", "RunSpec"]
