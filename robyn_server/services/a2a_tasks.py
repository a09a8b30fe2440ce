"""A2A tasks read back from runs and threads: resolve a task id, render a Task, list tasks."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from robyn_server import models
from robyn_server.errors import NotFound
from robyn_server.services import a2a_render as render
from robyn_server.services.a2a_mapping import (
    INVALID_PARAMS,
    RpcError,
    Wire,
    check_history_length,
    is_uuid,
    make_task_id,
    parse_state,
    split_task_id,
    task_state,
    thread_id_for_context,
)
from robyn_server.services.assistants import AssistantService
from robyn_server.services.runs import RunService
from robyn_server.services.state import StateService
from robyn_server.services.threads import ThreadService
from robyn_server.sse import dumps
from robyn_server.storage.base import Assistant, Run, Thread
from robyn_server.wire import iso

RUN_SCAN_LIMIT = 1000
CONTEXT_SCAN_LIMIT = 100
CANCELED_KEY = "a2a_canceled"
CANCELED_KEEP = 100
DEFAULT_PAGE_SIZE = 50


@dataclass(frozen=True)
class Caller:
    """Who is asking: storage owner scope, user id and request headers for runs."""

    owner: str | None
    user_id: str
    headers: Mapping[str, str]


@dataclass
class TaskRef:
    """A task found from its id: the thread, the task's latest run and its state."""

    task_id: str
    context_id: str
    thread: Thread
    run: Run
    runs: list[Run]  # the thread's runs, newest first
    state: str


def plain(value: Any) -> Any:
    """JSON-ready copy (LangChain messages, datetimes) as clients will see it."""
    return orjson.loads(dumps(value))


def a2a_tag(run: Run) -> dict[str, Any]:
    """The `metadata.a2a` a run was created with (empty for runs made outside A2A)."""
    tag = (run.get("metadata") or {}).get("a2a")
    return tag if isinstance(tag, dict) else {}


def context_of(thread: Thread) -> str:
    """The contextId a thread answers to."""
    return str(thread["metadata"].get("a2a_context_id") or thread["thread_id"])


def task_id_of(run: Run, context_id: str) -> str:
    """The task a run belongs to."""
    stored = a2a_tag(run).get("task_id")
    return stored if isinstance(stored, str) and stored else make_task_id(context_id, run["run_id"])


def _timestamp(run: Run) -> str:
    moment = run.get("updated_at") or run.get("created_at")
    return iso(moment) if isinstance(moment, datetime) else str(moment or "")


class A2ATasks:
    """Owner-scoped task lookups and rendering."""

    def __init__(
        self, assistants: AssistantService, threads: ThreadService, runs: RunService, state: StateService
    ) -> None:
        self._assistants = assistants
        self._threads = threads
        self._runs = runs
        self._state = state

    async def assistant(self, assistant_id: str, caller: Caller) -> Assistant:
        """The caller's (or a system) assistant. Raises RpcError (invalid params)."""
        try:
            canonical = str(uuid.UUID(assistant_id))
        except ValueError:
            raise RpcError(INVALID_PARAMS, "Invalid assistant ID: must be a UUID") from None
        try:
            return await self._assistants.get(canonical, owner=caller.owner)
        except NotFound:
            raise RpcError(INVALID_PARAMS, f"Assistant '{assistant_id}' not found") from None

    async def _thread_runs(self, thread_id: str, caller: Caller) -> list[Run]:
        return await self._runs.list(
            thread_id, limit=RUN_SCAN_LIMIT, offset=0, status=None, owner=caller.owner
        )

    async def resolve(
        self, assistant: Assistant, task_id: str, context_id: str | None, caller: Caller
    ) -> TaskRef | None:
        """The task with this id on this assistant, or None (unknown, foreign, malformed)."""
        parsed_context, run_id = split_task_id(task_id)
        if parsed_context and context_id and parsed_context != context_id:
            return None
        context_id = parsed_context or context_id
        if not context_id or not is_uuid(run_id):
            return None
        thread_id = thread_id_for_context(context_id, caller.owner)
        try:
            thread = (await self._threads.get(thread_id, owner=caller.owner)).thread
            anchor = await self._runs.get(thread_id, str(uuid.UUID(run_id)), owner=caller.owner)
        except NotFound:
            return None
        stored = a2a_tag(anchor).get("task_id")
        if anchor["assistant_id"] != assistant["assistant_id"] or (stored and stored != task_id):
            return None
        canonical = task_id_of(anchor, context_id)
        runs = await self._thread_runs(thread_id, caller)
        latest = next(
            (
                r
                for r in runs
                if r["assistant_id"] == anchor["assistant_id"] and task_id_of(r, context_id) == canonical
            ),
            anchor,
        )
        state = self._state_of(latest, thread, runs, canonical)
        return TaskRef(canonical, context_id, thread, latest, runs, state)

    @staticmethod
    def _state_of(run: Run, thread: Thread, runs: list[Run], task_id: str) -> str:
        if task_id in (thread["metadata"].get(CANCELED_KEY) or []):
            return "canceled"
        is_latest = bool(runs) and runs[0]["run_id"] == run["run_id"]
        return task_state(run["status"], thread["status"] if is_latest else None)

    async def starts(self, thread_id: str, context_id: str, caller: Caller) -> dict[str, str]:
        """Human message id -> the task it started, from the runs' `metadata.a2a.message_id`."""
        found: dict[str, str] = {}
        for run in reversed(await self._thread_runs(thread_id, caller)):
            message_id = a2a_tag(run).get("message_id")
            if isinstance(message_id, str):
                found.setdefault(message_id, task_id_of(run, context_id))
        return found

    async def messages_now(self, thread_id: str, caller: Caller) -> list[Any]:
        """The thread's current messages."""
        state = await self._state.get(thread_id, checkpoint=None, subgraphs=False, owner=caller.owner)
        return _messages(plain(state.get("values")))

    async def _snapshot(self, ref: TaskRef, caller: Caller) -> dict[str, Any]:
        """The state the task's latest run left (the current state if it is the thread's latest)."""
        thread_id = ref.thread["thread_id"]
        if not ref.runs or ref.runs[0]["run_id"] == ref.run["run_id"]:
            state = await self._state.get(thread_id, checkpoint=None, subgraphs=False, owner=caller.owner)
            return plain(state)
        found = await self._state.history(
            thread_id,
            limit=1,
            before=None,
            metadata={"run_id": ref.run["run_id"]},
            checkpoint=None,
            owner=caller.owner,
        )
        return plain(found[0]) if found else {"values": {}, "interrupts": []}

    async def render(
        self, ref: TaskRef, caller: Caller, wire: Wire, *, history_length: int | None, artifacts: bool
    ) -> dict[str, Any]:
        """The Task object for a resolved task."""
        snapshot = await self._snapshot(ref, caller)
        values = snapshot.get("values") if isinstance(snapshot.get("values"), dict) else {}
        task: dict[str, Any] = {"kind": "task", "id": ref.task_id, "contextId": ref.context_id}
        message = None
        if ref.state in ("completed", "failed"):
            text = (
                "Task completed successfully"
                if ref.state == "completed"
                else (f"Task failed with status: {ref.run['status']}")
            )
            message = render.a2a_message(
                wire, "agent", [render.text_part(text)], _uuid(), ref.task_id, ref.context_id
            )
        task["status"] = render.status(wire, ref.state, message, _timestamp(ref.run))
        if artifacts:
            # The reference omits these; polling clients (returnImmediately) need the answer.
            if ref.state == "completed":
                parts = render.answer_parts(values, wire)
                task["artifacts"] = [render.response_artifact(parts, ref.run["assistant_id"])]
            elif ref.state == "input-required" and snapshot.get("interrupts"):
                task["artifacts"] = [render.interrupt_artifact(snapshot["interrupts"])]
            else:
                task["artifacts"] = []
        if history_length != 0:
            starts = await self.starts(ref.thread["thread_id"], ref.context_id, caller)
            task["history"] = render.history(
                _messages(values),
                wire,
                task_id=ref.task_id,
                context_id=ref.context_id,
                starts=starts,
                length=history_length,
            )
        return task

    async def mark_canceled(self, ref: TaskRef, caller: Caller) -> None:
        """Remember on the thread that this task was canceled (its runs all ended already)."""
        canceled = [*(ref.thread["metadata"].get(CANCELED_KEY) or []), ref.task_id][-CANCELED_KEEP:]
        await self._threads.patch(
            ref.thread["thread_id"],
            models.ThreadPatchBody(metadata={CANCELED_KEY: canceled}),
            owner=caller.owner,
        )

    async def list(self, assistant: Assistant, params: dict[str, Any], caller: Caller, wire: Wire) -> dict:
        """`ListTasks`: the caller's tasks on this assistant, newest first. Raises RpcError."""
        page_size = params.get("pageSize", DEFAULT_PAGE_SIZE)
        if not isinstance(page_size, int) or isinstance(page_size, bool) or not 1 <= page_size <= 100:
            raise RpcError(INVALID_PARAMS, "pageSize must be an integer between 1 and 100.")
        history_length = check_history_length(params.get("historyLength"))
        wanted = params.get("status")
        if wanted is not None and parse_state(wanted) is None:
            raise RpcError(INVALID_PARAMS, f"Invalid status value: '{wanted}'.")
        token = params.get("pageToken") or "0"
        if not isinstance(token, str) or not token.isdigit():
            raise RpcError(INVALID_PARAMS, "Invalid pageToken.")
        context_id = params.get("contextId")
        if context_id is not None and not isinstance(context_id, str):
            raise RpcError(INVALID_PARAMS, "contextId must be a string.")
        refs = [
            ref
            for ref in await self._all_refs(assistant, context_id, caller)
            if wanted is None or ref.state == parse_state(wanted)
        ]
        refs.sort(key=lambda r: _timestamp(r.run), reverse=True)
        offset = int(token)
        page = refs[offset : offset + page_size]
        tasks = [
            await self.render(
                ref,
                caller,
                wire,
                history_length=history_length,
                artifacts=bool(params.get("includeArtifacts")),
            )
            for ref in page
        ]
        for task in tasks:
            task.setdefault("artifacts", [])
        following = offset + len(page)
        return {
            "tasks": tasks,
            "nextPageToken": str(following) if following < len(refs) else "",
            "pageSize": len(page),
            "totalSize": len(refs),
        }

    async def _all_refs(self, assistant: Assistant, context_id: str | None, caller: Caller) -> list[TaskRef]:
        if context_id is not None:
            try:
                view = await self._threads.get(
                    thread_id_for_context(context_id, caller.owner), owner=caller.owner
                )
            except NotFound:
                return []
            threads = [view.thread]
        else:
            search = models.ThreadSearch(limit=CONTEXT_SCAN_LIMIT, sort_by="updated_at")
            threads = [v.thread for v in (await self._threads.search(search, owner=caller.owner)).items]
        refs: list[TaskRef] = []
        for thread in threads:
            runs = await self._thread_runs(thread["thread_id"], caller)
            context = context_of(thread)
            seen: set[str] = set()
            for run in runs:
                task_id = task_id_of(run, context)
                if run["assistant_id"] != assistant["assistant_id"] or task_id in seen:
                    continue
                seen.add(task_id)
                refs.append(
                    TaskRef(task_id, context, thread, run, runs, self._state_of(run, thread, runs, task_id))
                )
        return refs


def _messages(values: Any) -> list[Any]:
    messages = values.get("messages") if isinstance(values, dict) else None
    return messages if isinstance(messages, list) else []


def _uuid() -> str:
    return str(uuid.uuid4())
