"""Runs: turn a request into a run record and an execution spec, the way the reference does."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from robyn_server import models
from robyn_server.clock import utcnow
from robyn_server.engine.broker import Subscription
from robyn_server.engine.runs import CancelAction, RunManager, RunOutcome, RunSpec
from robyn_server.engine.streaming import normalize_stream_modes
from robyn_server.errors import BadRequest, Conflict, NotFound
from robyn_server.ids import uuid7
from robyn_server.ownership import stamp_owner
from robyn_server.services.assistants import BOTH_CONFIGURABLE_AND_CONTEXT, AssistantService
from robyn_server.sse import dumps
from robyn_server.storage.base import Assistant, Run, Storage, Thread, ThreadPatch

THREAD_OR_ASSISTANT_NOT_FOUND = "Thread or assistant not found."
THREAD_BUSY = (
    "Thread is already running a task. Wait for it to finish or choose a different multitask strategy."
)
# Headers never copied into `configurable` (credentials); everything else starting with x- is.
EXCLUDED_HEADERS = frozenset({"x-api-key", "x-tenant-id", "x-service-key", "x-auth-scheme"})


def configurable_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Request headers a graph may read from `configurable` (OAP needs x-supabase-access-token)."""
    picked = {k: v for k, v in headers.items() if k.startswith("x-") and k not in EXCLUDED_HEADERS}
    if "user-agent" in headers:
        picked["user-agent"] = headers["user-agent"]
    return picked


class RunService:
    """Run use cases: create (stateful and stateless), list, get, delete, cancel, join."""

    def __init__(self, storage: Storage, assistants: AssistantService, manager: RunManager) -> None:
        self._storage = storage
        self._assistants = assistants
        self.manager = manager

    async def create(
        self,
        thread_id: str | None,
        body: models.RunCreate,
        *,
        owner: str | None,
        user_id: str,
        headers: Mapping[str, str],
        subscribe: bool = False,
    ) -> tuple[Run, Subscription | None]:
        """Create a run on a thread (or on a new temporary thread when `thread_id` is None).

        With `subscribe`, also return a subscription to the run's events registered before
        the run can start (the creating request's own stream).
        """
        try:
            assistant = await self._assistants.resolve_id(body.assistant_id, owner=owner)
        except NotFound:
            raise NotFound(THREAD_OR_ASSISTANT_NOT_FOUND) from None
        temporary = thread_id is None
        thread = await self._thread_for_run(thread_id, body, owner=owner)
        await self._apply_multitask(thread, body.multitask_strategy)
        run_id = uuid7()
        config, context = self._run_config(assistant, thread, body, run_id, user_id, headers, owner)
        metadata = {**assistant["metadata"], **thread["metadata"], **(body.metadata or {})}
        metadata.pop("owner", None)
        if not temporary:
            metadata["graph_id"] = assistant["graph_id"]
        metadata["assistant_id"] = assistant["assistant_id"]
        metadata = stamp_owner(metadata, owner)
        config["metadata"] = {**config.get("metadata", {}), **metadata}
        spec = RunSpec(
            graph_id=assistant["graph_id"],
            input=body.input,
            command=body.command.to_dict() if body.command is not None else None,
            config=config,
            context=context,
            stream_modes=normalize_stream_modes(body.stream_mode),
            subgraphs=body.stream_subgraphs,
            resumable=body.stream_resumable,
            interrupt_before=body.interrupt_before,
            interrupt_after=body.interrupt_after,
            durability=body.durability,
            after_seconds=body.after_seconds,
            webhook=body.webhook,
            temporary=temporary and body.on_completion == "delete",
        )
        now = utcnow()
        run: Run = {
            "run_id": run_id,
            "thread_id": thread["thread_id"],
            "assistant_id": assistant["assistant_id"],
            "metadata": metadata,
            "status": "pending",
            "kwargs": _kwargs(body, spec, config, context),
            "multitask_strategy": body.multitask_strategy,
            "created_at": now,
            "updated_at": now,
            "owner": owner,
        }
        if not temporary and thread["status"] != "busy":
            # OAP finds a user's conversations by these two keys; the reference sets them here.
            tagged = {"graph_id": assistant["graph_id"], "assistant_id": assistant["assistant_id"]}
            patch = ThreadPatch(metadata=tagged, config=thread["config"] or {"configurable": {}})
            await self._storage.threads.update(thread["thread_id"], patch, owner=None)
        return await self.manager.submit(run, spec, subscribe=subscribe)

    async def _thread_for_run(
        self, thread_id: str | None, body: models.RunCreate, *, owner: str | None
    ) -> Thread:
        now = utcnow()
        if thread_id is not None:
            try:
                return await self._storage.threads.get(thread_id, owner=owner)
            except NotFound:
                if body.if_not_exists != "create":
                    raise NotFound(THREAD_OR_ASSISTANT_NOT_FOUND) from None
        record: Thread = {
            "thread_id": thread_id or uuid7(),
            "created_at": now,
            "updated_at": now,
            "state_updated_at": now,
            "metadata": stamp_owner({}, owner),
            "config": {},
            "status": "idle",
            "error": None,
            "ttl": None,
            "has_run": False,
            "owner": owner,
        }
        try:
            return await self._storage.threads.create(record, owner=owner)
        except Conflict:
            # The id belongs to someone else: never reveal it.
            raise NotFound(THREAD_OR_ASSISTANT_NOT_FOUND) from None

    async def _apply_multitask(self, thread: Thread, strategy: str) -> None:
        active = await self._storage.runs.active_for_thread(thread["thread_id"])
        if not active:
            return
        if strategy == "reject":
            raise Conflict(THREAD_BUSY)
        if strategy in ("interrupt", "rollback"):
            for run in active:
                await self.manager.cancel(run, strategy)  # type: ignore[arg-type]

    def _run_config(
        self,
        assistant: Assistant,
        thread: Thread,
        body: models.RunCreate,
        run_id: str,
        user_id: str,
        headers: Mapping[str, str],
        owner: str | None,
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        request_config = copy.deepcopy(body.config or {})
        request_configurable = request_config.pop("configurable", None) or {}
        if request_configurable and body.context:
            raise BadRequest(BOTH_CONFIGURABLE_AND_CONTEXT)
        configurable: dict[str, Any] = {
            **copy.deepcopy(assistant["config"].get("configurable", {})),
            **copy.deepcopy((thread["config"] or {}).get("configurable", {})),
            **request_configurable,
            **configurable_headers(headers),
            "run_id": run_id,
            "thread_id": thread["thread_id"],
            "graph_id": assistant["graph_id"],
            "assistant_id": assistant["assistant_id"],
            "user_id": user_id,
            "langgraph_auth_user_id": user_id,
        }
        checkpoint = body.checkpoint.model_dump(exclude_none=True) if body.checkpoint else {}
        checkpoint.pop("thread_id", None)
        if body.checkpoint_id:
            checkpoint["checkpoint_id"] = body.checkpoint_id
        if checkpoint.get("checkpoint_id"):
            configurable.update(checkpoint)
        config: dict[str, Any] = {**request_config, "configurable": configurable}
        config.setdefault("metadata", {})
        context = None
        if body.context or assistant["context"]:
            context = {**copy.deepcopy(assistant["context"]), **(body.context or {})}
        return config, context

    # ------------------------------------------------------------------ reads and control

    async def get(self, thread_id: str, run_id: str, *, owner: str | None) -> Run:
        """A run on the caller's thread. Raises NotFound."""
        return await self._storage.runs.get(thread_id, run_id, owner=owner)

    async def list(
        self, thread_id: str, *, limit: int, offset: int, status: str | None, owner: str | None
    ) -> list[Run]:
        """The thread's runs, newest first. Raises NotFound for a foreign thread."""
        await self._storage.threads.get(thread_id, owner=owner)
        return await self._storage.runs.list(
            thread_id, limit=limit, offset=offset, status=status, owner=owner
        )

    async def delete(self, thread_id: str, run_id: str, *, owner: str | None) -> None:
        """Delete a finished run (an active one is cancelled first)."""
        run = await self._storage.runs.get(thread_id, run_id, owner=owner)
        if self.manager.is_live(run_id):
            await self.manager.cancel(run, "interrupt")
            await self.manager.wait(run_id)
        await self._storage.runs.delete(thread_id, run_id, owner=owner)

    async def cancel(self, thread_id: str, run_id: str, action: CancelAction, *, owner: str | None) -> Run:
        """Cancel one run. Raises NotFound (unknown, foreign, or already finished)."""
        try:
            run = await self._storage.runs.get(thread_id, run_id, owner=owner)
        except NotFound:
            raise NotFound("No runs found to cancel.") from None
        if not await self.manager.cancel(run, action):
            raise NotFound(
                "No matching runs to cancel. Please verify the run ID and thread ID are correct, and that "
                "the run is in a cancellable state (pending or running)."
            )
        return run

    async def cancel_many(self, body: models.RunsCancel, action: CancelAction, *, owner: str | None) -> int:
        """Cancel by ids on a thread, or every pending/running run of the caller."""
        if body.run_ids is not None:
            if not body.thread_id:
                raise BadRequest("thread_id is required with run_ids")
            runs = []
            for run_id in body.run_ids:
                try:
                    runs.append(await self._storage.runs.get(body.thread_id, run_id, owner=owner))
                except NotFound:
                    continue
        elif body.status is not None:
            statuses = ["pending", "running"] if body.status == "all" else [body.status]
            runs = await self._storage.runs.by_status(statuses, owner=owner)
        else:
            raise BadRequest("Either run_ids (with thread_id) or status is required")
        cancelled = 0
        for run in runs:
            cancelled += await self.manager.cancel(run, action)
        if not cancelled:
            raise NotFound("No runs found to cancel.")
        return cancelled

    async def outcome(self, run: Run) -> RunOutcome:
        """Wait for the run to end and return its final output."""
        found = await self.manager.wait(run["run_id"])
        if found is not None:
            return found
        # Finished before this process's retention window: rebuild from storage and state.
        fresh = await self._storage.runs.get(run["thread_id"], run["run_id"], owner=None)
        if fresh["status"] == "error":
            thread = await self._storage.threads.get(run["thread_id"], owner=None)
            return RunOutcome("error", dumps({"__error__": thread["error"]}))
        return RunOutcome(fresh["status"], dumps(await self.manager.final_values(run["thread_id"])))


def _kwargs(
    body: models.RunCreate, spec: RunSpec, config: dict[str, Any], context: dict[str, Any] | None
) -> dict[str, Any]:
    """`run.kwargs` as the reference shows it (without its internal keys)."""
    return {
        "input": body.input,
        "command": spec.command,
        "config": config,
        "context": context or {},
        "stream_mode": spec.stream_modes,
        "interrupt_before": body.interrupt_before,
        "interrupt_after": body.interrupt_after,
        "webhook": body.webhook,
        "feedback_keys": body.feedback_keys,
        "temporary": spec.temporary,
        "subgraphs": body.stream_subgraphs,
        "resumable": body.stream_resumable,
        "checkpoint_during": body.checkpoint_during if body.checkpoint_during is not None else True,
        "durability": body.durability or "async",
    }
