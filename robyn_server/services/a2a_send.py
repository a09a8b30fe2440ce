"""Planning an A2A `SendMessage`: validate the message, find its context/task, build the run.

A message continues a task when it names one (`taskId`); it resumes that task when the task is
`input-required` and the message carries `message.command`, a data part `{"resume": value}`,
or text (the text becomes the resume value, as the reference does).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from robyn_server import models
from robyn_server.errors import ServerError
from robyn_server.ids import uuid4
from robyn_server.services.a2a_mapping import (
    INVALID_PARAMS,
    TASK_NOT_FOUND,
    TERMINAL_STATES,
    UNSUPPORTED_OPERATION,
    RpcError,
    check_history_length,
    has_message_parts,
    is_uuid,
    parse_role,
    parts_to_input,
    resume_from_parts,
    text_of_parts,
    thread_id_for_context,
)
from robyn_server.services.a2a_tasks import A2ATasks, Caller, TaskRef
from robyn_server.services.assistants import AssistantService
from robyn_server.services.threads import ThreadService
from robyn_server.storage.base import Assistant


@dataclass
class SendPlan:
    """A validated `SendMessage`: where it goes and the run to create."""

    assistant: Assistant
    context_id: str
    thread_id: str
    task_id: str | None  # set when the message continues an existing task
    message_id: str
    role: str
    parts: list[Any]
    body: models.RunCreate
    history_length: int | None
    return_immediately: bool


class SendPlanner:
    """Turns `SendMessage` params into a `SendPlan` (validating as the reference does)."""

    def __init__(self, assistants: AssistantService, threads: ThreadService, tasks: A2ATasks) -> None:
        self._assistants = assistants
        self._threads = threads
        self.tasks = tasks

    async def prepare(self, assistant_id: str, params: dict[str, Any], caller: Caller) -> SendPlan:
        """Validate a `SendMessage`/`SendStreamingMessage` and work out its run. Raises RpcError."""
        configuration = params.get("configuration") or {}
        if not isinstance(configuration, dict):
            raise RpcError(INVALID_PARAMS, "Invalid params: 'configuration' must be an object")
        history_length = check_history_length(configuration.get("historyLength"))
        message = params["message"]
        message_id = message.get("messageId")
        if not message_id or not isinstance(message_id, str):
            raise RpcError(INVALID_PARAMS, "Missing required 'messageId' in message")
        role = parse_role(message.get("role"))
        if role is None:
            raise RpcError(INVALID_PARAMS, "Missing required 'role' in message")
        parts = message.get("parts")
        if not isinstance(parts, list) or not parts:
            raise RpcError(INVALID_PARAMS, "Message must contain at least one part")
        assistant = await self.tasks.assistant(assistant_id, caller)
        if has_message_parts(parts):
            await self._require_messages_input(assistant, caller)
        requested_context, requested_task = message.get("contextId"), message.get("taskId")
        for name, value in (("contextId", requested_context), ("taskId", requested_task)):
            if value is not None and not isinstance(value, str):
                raise RpcError(INVALID_PARAMS, f"{name} must be a string")
        existing: TaskRef | None = None
        if requested_task is not None:
            existing = await self.tasks.resolve(assistant, requested_task, requested_context, caller)
            if existing is None:
                raise RpcError(TASK_NOT_FOUND, f"Task not found: {requested_task}")
            if existing.state in TERMINAL_STATES:
                raise RpcError(UNSUPPORTED_OPERATION, "A terminal task cannot accept another message")
        context_id = existing.context_id if existing else (requested_context or uuid4())
        graph_input = parts_to_input(parts, role, message_id)
        command = self._command(message, parts, graph_input, existing)
        thread_id = thread_id_for_context(context_id, caller.owner)
        if existing is None and not is_uuid(context_id):
            await self._threads.create(
                models.ThreadCreate(
                    thread_id=thread_id, metadata={"a2a_context_id": context_id}, if_exists="do_nothing"
                ),
                owner=caller.owner,
            )
        tag: dict[str, Any] = {"context_id": context_id, "message_id": message_id}
        if existing is not None:
            tag["task_id"] = existing.task_id
        run_context = params.get("context")
        raw_body = {
            "assistant_id": assistant["assistant_id"],
            "input": graph_input if command is None else None,
            "command": command,
            "metadata": {"a2a": tag},
            "if_not_exists": "create",
            "context": run_context if isinstance(run_context, dict) else None,
        }
        try:
            body = models.parse_model(models.RunCreate, raw_body)
        except ServerError as error:
            raise RpcError(INVALID_PARAMS, f"Invalid request: {error.detail}") from None
        return SendPlan(
            assistant=assistant,
            context_id=context_id,
            thread_id=thread_id,
            task_id=existing.task_id if existing else None,
            message_id=message_id,
            role=role,
            parts=parts,
            body=body,
            history_length=history_length,
            return_immediately=bool(configuration.get("returnImmediately"))
            or configuration.get("blocking") is False,
        )

    async def _require_messages_input(self, assistant: Assistant, caller: Caller) -> None:
        schemas = await self._assistants.schemas(assistant["assistant_id"], owner=caller.owner)
        schema = schemas.get("input_schema") or schemas.get("state_schema") or {}
        properties = schema.get("properties") or {}
        if "messages" not in properties:
            raise RpcError(
                INVALID_PARAMS,
                f"Assistant '{assistant['assistant_id']}' (graph '{assistant['graph_id']}') does not support "
                "A2A conversational messages. Graph input schema must include a 'messages' field to accept "
                f"text or file parts. Available input fields: {list(properties)}",
            )

    @staticmethod
    def _command(
        message: dict[str, Any], parts: list[Any], graph_input: dict[str, Any], existing: TaskRef | None
    ) -> dict[str, Any] | None:
        """A resume command: `message.command`, a `{"resume": v}` data part, or text for a waiting task."""
        command = message.get("command")
        if command is not None:
            if not isinstance(command, dict):
                raise RpcError(INVALID_PARAMS, "command must be an object")
            if command.get("resume") is not None and existing is None:
                raise RpcError(INVALID_PARAMS, "taskId is required when resuming a task")
            return command
        waiting = existing is not None and existing.state == "input-required"
        found, value = resume_from_parts(parts)
        if found:
            if existing is None:
                raise RpcError(INVALID_PARAMS, "contextId and taskId are required when resuming a task")
            if not waiting:
                raise RpcError(INVALID_PARAMS, "Task is not awaiting input")
            graph_input.pop("resume", None)
            return {"resume": value}
        text = text_of_parts(parts)
        if waiting and text is not None:
            return {"resume": text}
        return None
