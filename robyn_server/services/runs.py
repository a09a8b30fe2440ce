"""Runs: turn a request into a run record and an execution spec, the way the reference does."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from typing import Any

from robyn_server import models
from robyn_server.clock import utcnow
from robyn_server.engine.broker import Subscription
from robyn_server.engine.runs import CancelAction, RunManager, RunOutcome, RunSpec
from robyn_server.engine.streaming import normalize_stream_modes
from robyn_server.errors import BadRequest, Conflict, InvalidInput, NotFound
from robyn_server.ids import uuid7
from robyn_server.ownership import stamp_owner
from robyn_server.services.assistants import BOTH_CONFIGURABLE_AND_CONTEXT, AssistantService
from robyn_server.sse import dumps
from robyn_server.storage.base import Assistant, Run, Storage, Thread, ThreadPatch

THREAD_OR_ASSISTANT_NOT_FOUND = "Thread or assistant not found."
NO_RUNS_TO_CANCEL = "No runs found to cancel."
NO_MATCHING_RUNS = (
    "No matching runs to cancel. Please verify the thread ID and run IDs are correct, "
    "and the runs haven't been deleted or completed."
)
STATUS_WITH_IDS = (
    "When providing a 'status', 'thread_id' and 'run_ids' must be omitted. The 'status' parameter "
    "cancels all runs with the given status, regardless of thread or run ID."
)
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

        Everything that can reject the request (schema details, the assistant, the thread,
        `reject`) is checked before anything changes: a refused request neither creates the
        thread nor preempts the thread's running run.

        With `subscribe`, also return a subscription to the run's events registered before
        the run can start (the creating request's own stream).
        """
        temporary = thread_id is None
        stream_modes = normalize_stream_modes(
            body.stream_mode, schema="RunCreateStateless" if temporary else "RunCreateStateful"
        )
        if (body.config or {}).get("configurable") and body.context:
            raise BadRequest(BOTH_CONFIGURABLE_AND_CONTEXT)
        if temporary and body.command is not None and body.command.to_dict().get("resume"):
            raise BadRequest("You must provide a thread_id when resuming.")
        if body.checkpoint_id:
            try:
                uuid.UUID(body.checkpoint_id)
            except ValueError:
                raise InvalidInput("Invalid checkpoint ID") from None
        assistant = await self._assistant(body.assistant_id, owner=owner)
        existing = await self._existing_thread(thread_id, body, owner=owner)
        if existing is not None:
            await self._check_reject(existing, body.multitask_strategy)
        tags = {"graph_id": assistant["graph_id"], "assistant_id": assistant["assistant_id"]}
        if existing is None:
            # Like the reference, a thread made for the run carries the request metadata too.
            request_metadata = {**((body.config or {}).get("metadata") or {}), **(body.metadata or {})}
            thread = await self._new_thread(thread_id, owner=owner, metadata={**tags, **request_metadata})
        else:
            thread = existing
            if thread["status"] != "busy":
                # OAP finds a user's conversations by these two keys; the reference sets them here.
                patch = ThreadPatch(metadata=tags, config=thread["config"] or {"configurable": {}})
                thread = await self._storage.threads.update(thread["thread_id"], patch, owner=None)
        await self._preempt(thread, body.multitask_strategy)
        run_id = uuid7()
        metadata = _run_metadata(assistant, thread if existing is not None else None, body, owner=owner)
        config, context = self._run_config(assistant, thread, body, run_id, user_id, headers)
        config["metadata"] = {**config.get("metadata", {}), **metadata}
        spec = RunSpec(
            graph_id=assistant["graph_id"],
            input=body.input,
            command=body.command.to_dict() if body.command is not None else None,
            config=config,
            context=context,
            stream_modes=stream_modes,
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
        return await self.manager.submit(run, spec, subscribe=subscribe)

    async def _assistant(self, assistant_id: str, *, owner: str | None) -> Assistant:
        """A UUID (404 if unknown or foreign) or a graph id (422 if not registered), as the reference."""
        if assistant_id not in self.manager.graphs:
            try:
                uuid.UUID(assistant_id)
            except ValueError:
                raise InvalidInput(
                    f"Invalid assistant: '{assistant_id}'. Must be either:\n"
                    "- A valid assistant UUID, or\n"
                    f"- One of the registered graphs: {', '.join(self.manager.graphs.ids())}"
                ) from None
        try:
            return await self._assistants.resolve_id(assistant_id, owner=owner)
        except NotFound:
            raise NotFound(THREAD_OR_ASSISTANT_NOT_FOUND) from None

    async def _existing_thread(
        self, thread_id: str | None, body: models.RunCreate, *, owner: str | None
    ) -> Thread | None:
        """The caller's thread; None when it must be created. Raises NotFound."""
        if thread_id is None:
            return None
        try:
            return await self._storage.threads.get(thread_id, owner=owner)
        except NotFound:
            if body.if_not_exists != "create":
                raise NotFound(THREAD_OR_ASSISTANT_NOT_FOUND) from None
        return None

    async def _new_thread(
        self, thread_id: str | None, *, owner: str | None, metadata: dict[str, Any]
    ) -> Thread:
        now = utcnow()
        record: Thread = {
            "thread_id": thread_id or uuid7(),
            "created_at": now,
            "updated_at": now,
            "state_updated_at": now,
            "metadata": stamp_owner(metadata, owner),
            "config": {"configurable": {}},
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

    async def _check_reject(self, thread: Thread, strategy: str) -> None:
        if strategy == "reject" and await self._storage.runs.active_for_thread(thread["thread_id"]):
            raise Conflict(THREAD_BUSY)

    async def _preempt(self, thread: Thread, strategy: str) -> None:
        if strategy not in ("interrupt", "rollback"):
            return
        for run in await self._storage.runs.active_for_thread(thread["thread_id"]):
            await self.manager.cancel(run, strategy)  # type: ignore[arg-type]

    def _run_config(
        self,
        assistant: Assistant,
        thread: Thread,
        body: models.RunCreate,
        run_id: str,
        user_id: str,
        headers: Mapping[str, str],
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        request_config = copy.deepcopy(body.config or {})
        request_configurable = request_config.pop("configurable", None) or {}
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
        # Like the reference: the assistant's config (tags, recursion_limit, ...) under the request's.
        assistant_config = copy.deepcopy(assistant["config"])
        assistant_config.pop("configurable", None)
        config: dict[str, Any] = {**assistant_config, **request_config, "configurable": configurable}
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
            raise NotFound(NO_RUNS_TO_CANCEL) from None
        if not await self.manager.cancel(run, action):
            raise NotFound(NO_MATCHING_RUNS)
        return run

    async def cancel_many(self, body: models.RunsCancel, action: CancelAction, *, owner: str | None) -> int:
        """Cancel by ids on a thread, or every pending/running run of the caller.

        Raises InvalidInput when the body is neither shape (the reference's `oneOf`), NotFound
        when nothing could be cancelled.
        """
        if body.status is not None:
            if body.thread_id or body.run_ids:
                raise InvalidInput(STATUS_WITH_IDS)
            statuses = ["pending", "running"] if body.status == "all" else [body.status]
            runs = await self._storage.runs.by_status(statuses, owner=owner)
        elif body.thread_id and body.run_ids is not None:
            runs = []
            for run_id in body.run_ids:
                try:
                    runs.append(await self._storage.runs.get(body.thread_id, run_id, owner=owner))
                except NotFound:
                    continue
        else:
            instance = body.model_dump(exclude_unset=True)
            raise InvalidInput(
                f"{dumps(instance).decode()} is not valid under any of the schemas listed in the "
                f"'oneOf' keyword\n\nFailed validating \"oneOf\" in schema\n\nOn instance:\n    "
                f"{dumps(instance).decode()}"
            )
        if not runs:
            raise NotFound(NO_RUNS_TO_CANCEL)
        cancelled = 0
        for run in runs:
            cancelled += await self.manager.cancel(run, action)
        if not cancelled:
            raise NotFound(NO_MATCHING_RUNS)
        return cancelled

    async def cancel_output(self, run: Run) -> bytes:
        """The body of `cancel?wait=true`: what the run produced after the cancel (`{}` normally).

        The reference answers with the values streamed after it subscribed, which for a
        cancelled run is nothing; a run that still ended on its own (or failed) shows that.
        """
        outcome = await self.outcome(run)
        return outcome.output if outcome.status in ("success", "error") else b"{}"

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


def _run_metadata(
    assistant: Assistant, thread: Thread | None, body: models.RunCreate, *, owner: str | None
) -> dict[str, Any]:
    """Assistant + thread + request metadata, merged in the reference's order.

    A thread created for this run (stateless, `if_not_exists: create`) contributes nothing,
    so such runs carry no `graph_id`, as in the reference. `owner`, `assistant_id` and (when
    present) `graph_id` are authoritative: request metadata cannot change them.
    """
    metadata = {
        **assistant["metadata"],
        **(thread["metadata"] if thread is not None else {}),
        **((body.config or {}).get("metadata") or {}),
        **(body.metadata or {}),
    }
    if thread is not None:
        metadata["graph_id"] = assistant["graph_id"]
    metadata["assistant_id"] = assistant["assistant_id"]
    if owner is not None:
        metadata["owner"] = owner
    else:
        metadata.pop("owner", None)
    return metadata


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
