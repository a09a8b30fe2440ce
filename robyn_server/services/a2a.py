"""A2A use cases over assistants, threads and runs: send (blocking or streamed), get, cancel, list.

Mapping (as the reference): contextId = thread (a non-UUID contextId maps to a per-owner uuid5
thread that remembers it in `metadata.a2a_context_id`); task id = `<contextId>:<run_id>` of the
run that started it; a message that answers an `input-required` task starts a new run tagged
with the same task id (`run.metadata.a2a.task_id`), so the task follows its latest run.
Every lookup is owner-scoped, so a foreign id reads as "not found".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson

from robyn_server.engine.broker import Subscription
from robyn_server.errors import NotFound, ServerError
from robyn_server.ids import uuid4
from robyn_server.services import a2a_render as render
from robyn_server.services.a2a_mapping import (
    INVALID_PARAMS,
    TASK_NOT_CANCELABLE,
    TASK_NOT_FOUND,
    TERMINAL_STATES,
    RpcError,
    Wire,
    check_history_length,
    echo_parts,
    make_task_id,
)
from robyn_server.services.a2a_send import SendPlan, SendPlanner
from robyn_server.services.a2a_tasks import A2ATasks, Caller, plain
from robyn_server.services.assistants import AssistantService
from robyn_server.services.runs import RunService
from robyn_server.services.state import StateService
from robyn_server.services.threads import ThreadService
from robyn_server.storage.base import Run

logger = logging.getLogger(__name__)

CANCEL_WAIT_SECONDS = 10.0


class A2AService:
    """The A2A methods; `A2ATasks` resolves and renders tasks."""

    def __init__(
        self, assistants: AssistantService, threads: ThreadService, runs: RunService, state: StateService
    ) -> None:
        self._assistants = assistants
        self._runs = runs
        self._state = state
        self.tasks = A2ATasks(assistants, threads, runs, state)
        self._planner = SendPlanner(assistants, threads, self.tasks)

    async def prepare(self, assistant_id: str, params: dict[str, Any], caller: Caller) -> SendPlan:
        """Validate a `SendMessage`/`SendStreamingMessage` and work out its run. Raises RpcError."""
        return await self._planner.prepare(assistant_id, params, caller)

    # ------------------------------------------------------------------ sending

    async def _start(
        self, plan: SendPlan, caller: Caller, *, subscribe: bool
    ) -> tuple[Run, Subscription | None]:
        try:
            return await self._runs.create(
                plan.thread_id,
                plan.body,
                owner=caller.owner,
                user_id=caller.user_id,
                headers=caller.headers,
                subscribe=subscribe,
            )
        except NotFound:
            raise RpcError(INVALID_PARAMS, f"Context '{plan.context_id}' not found") from None
        except ServerError as error:
            raise RpcError(INVALID_PARAMS, f"Invalid request: {error.detail}") from None

    def _submitted(self, plan: SendPlan, task_id: str, wire: Wire) -> dict[str, Any]:
        """The task as first created: submitted, with the request message as history."""
        echo = render.a2a_message(
            wire, plan.role, echo_parts(plan.parts), plan.message_id, task_id, plan.context_id
        )
        return {
            "kind": "task",
            "id": task_id,
            "contextId": plan.context_id,
            "history": [echo],
            "status": render.status(wire, "submitted"),
        }

    async def send(self, plan: SendPlan, caller: Caller, wire: Wire) -> dict[str, Any]:
        """Run the message and return the finished task (or the submitted one if asked not to wait)."""
        run, _ = await self._start(plan, caller, subscribe=False)
        task_id = plan.task_id or make_task_id(plan.context_id, run["run_id"])
        if plan.return_immediately:
            return wire.send_result(self._submitted(plan, task_id, wire))
        outcome = await self._runs.outcome(run)
        values = orjson.loads(outcome.output)
        return wire.send_result(
            await self._finished(plan, run, task_id, outcome.status, values, caller, wire)
        )

    async def _finished(
        self, plan: SendPlan, run: Run, task_id: str, run_status: str, values: Any, caller: Caller, wire: Wire
    ) -> dict[str, Any]:
        values = values if isinstance(values, dict) else {}
        messages = values.get("messages")
        if not isinstance(messages, list):
            messages = await self.tasks.messages_now(plan.thread_id, caller)
        starts = await self.tasks.starts(plan.thread_id, plan.context_id, caller)
        task: dict[str, Any] = {"kind": "task", "id": task_id, "contextId": plan.context_id}
        if plan.history_length != 0:
            task["history"] = render.history(
                messages,
                wire,
                task_id=task_id,
                context_id=plan.context_id,
                starts=starts,
                length=plan.history_length,
            )
        state, artifact, message = self._ending(plan, task_id, run_status, values, wire)
        task["status"] = render.status(wire, state, message)
        if artifact is not None:
            task["artifacts"] = [artifact]
        return task

    def _ending(
        self, plan: SendPlan, task_id: str, run_status: str, values: dict[str, Any], wire: Wire
    ) -> tuple[str, dict[str, Any] | None, dict[str, Any] | None]:
        """`(state, artifact, status message)` for a run that ended."""
        if "__error__" in values:
            error = values["__error__"] or {}
            text = f"Error executing assistant: {error.get('error')}: {error.get('message')}"
            message = render.a2a_message(
                wire, "agent", [render.text_part(text)], uuid4(), task_id, plan.context_id
            )
            return "failed", None, message
        if run_status == "interrupted":
            return "canceled", None, None
        if values.get("__interrupt__"):
            return "input-required", render.interrupt_artifact(values["__interrupt__"]), None
        parts = render.answer_parts(values, wire)
        return "completed", render.response_artifact(parts, plan.assistant["assistant_id"]), None

    async def stream(
        self, plan: SendPlan, caller: Caller, wire: Wire, *, heartbeat: float
    ) -> AsyncIterator[dict[str, Any] | None]:
        """Start the run now (errors raise before any byte is sent) and return its event stream.

        The stream yields A2A results, or None when `heartbeat` seconds passed without one.
        """
        plan.body.stream_mode = ["messages"]
        run, sub = await self._start(plan, caller, subscribe=True)
        assert sub is not None
        return self._events(plan, run, sub, wire, heartbeat)

    async def _events(
        self, plan: SendPlan, run: Run, sub: Subscription, wire: Wire, heartbeat: float
    ) -> AsyncIterator[dict[str, Any] | None]:
        task_id = plan.task_id or make_task_id(plan.context_id, run["run_id"])
        context_id = plan.context_id
        try:
            yield wire.event(self._submitted(plan, task_id, wire))
            yield render.status_event(wire, task_id, context_id, "working", final=False)
            while (batch := await sub.next_batch(heartbeat)) is not None:
                if not batch:
                    yield None
                for event in batch:
                    if event.event not in ("messages/partial", "messages/complete"):
                        continue
                    parts = render.stream_parts(orjson.loads(event.data))
                    if parts:
                        message = render.a2a_message(wire, "agent", parts, uuid4(), task_id, context_id)
                        yield render.status_event(
                            wire, task_id, context_id, "working", final=False, message=message
                        )
            outcome = await self._runs.outcome(run)
            values = orjson.loads(outcome.output)
            values = values if isinstance(values, dict) else {}
            state, artifact, message = self._ending(plan, task_id, outcome.status, values, wire)
            if artifact is not None:
                yield render.artifact_event(wire, task_id, context_id, artifact)
            yield render.status_event(wire, task_id, context_id, state, final=True, message=message)
        finally:
            sub.close()

    # ------------------------------------------------------------------ tasks

    async def get_task(self, assistant_id: str, params: dict[str, Any], caller: Caller, wire: Wire) -> dict:
        """`GetTask`: the task's state, history and (once known) its artifacts."""
        task_id, context_id = _task_params(params)
        history_length = check_history_length(params.get("historyLength"))
        assistant = await self.tasks.assistant(assistant_id, caller)
        ref = await self.tasks.resolve(assistant, task_id, context_id, caller)
        if ref is None:
            where = f" in context '{context_id}'" if context_id else ""
            raise RpcError(TASK_NOT_FOUND, f"Task not found: {task_id}{where}")
        return await self.tasks.render(ref, caller, wire, history_length=history_length, artifacts=True)

    async def cancel_task(
        self, assistant_id: str, params: dict[str, Any], caller: Caller, wire: Wire
    ) -> dict:
        """`CancelTask`: stop a submitted/working run, or close an `input-required` task."""
        task_id, context_id = _task_params(params)
        assistant = await self.tasks.assistant(assistant_id, caller)
        ref = await self.tasks.resolve(assistant, task_id, context_id, caller)
        if ref is None:
            raise RpcError(TASK_NOT_FOUND, f"Task not found: {task_id}")
        not_cancelable = RpcError(TASK_NOT_CANCELABLE, "Task is not cancelable in its current state")
        if ref.state in TERMINAL_STATES:
            raise not_cancelable
        thread_id, owner = ref.thread["thread_id"], caller.owner
        if ref.state == "input-required":
            try:
                await self._state.update(
                    thread_id, values=None, as_node="__end__", checkpoint=None, owner=owner
                )
            except ServerError:
                raise not_cancelable from None
            await self.tasks.mark_canceled(ref, caller)
        else:
            try:
                run = await self._runs.cancel(thread_id, ref.run["run_id"], "interrupt", owner=owner)
            except NotFound:
                raise not_cancelable from None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._runs.outcome(run), CANCEL_WAIT_SECONDS)
        message = render.a2a_message(
            wire, "agent", [render.text_part("Task was canceled")], uuid4(), ref.task_id, ref.context_id
        )
        return {
            "kind": "task",
            "id": ref.task_id,
            "contextId": ref.context_id,
            "status": render.status(wire, "canceled", message),
        }

    async def list_tasks(self, assistant_id: str, params: dict[str, Any], caller: Caller, wire: Wire) -> dict:
        """`ListTasks` (v1 only), newest first, paged by a numeric `pageToken`."""
        return await self.tasks.list(await self.tasks.assistant(assistant_id, caller), params, caller, wire)

    async def card(self, assistant_id: str, base_url: str, caller: Caller, version: str) -> dict[str, Any]:
        """The assistant's agent card. Raises RpcError (invalid params) for an unknown assistant."""
        assistant = await self.tasks.assistant(assistant_id, caller)
        schemas = await self._assistants.schemas(assistant["assistant_id"], owner=caller.owner)
        schema = schemas.get("input_schema") or schemas.get("state_schema")
        return render.agent_card(plain(assistant), schema, base_url, version)


def _task_params(params: dict[str, Any]) -> tuple[str, str | None]:
    task_id, context_id = params.get("id"), params.get("contextId")
    if not task_id:
        raise RpcError(INVALID_PARAMS, "Missing required parameter: id (task_id)")
    if not isinstance(task_id, str) or (context_id is not None and not isinstance(context_id, str)):
        raise RpcError(INVALID_PARAMS, "Task id and contextId must be strings")
    return task_id, context_id


__all__ = ["A2AService", "Caller", "SendPlan"]
