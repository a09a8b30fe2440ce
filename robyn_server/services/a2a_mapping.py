"""A2A <-> LangGraph mapping: error codes, wire formats, ids, task states, request parts -> input.

Pure functions, no I/O. Two wire formats share one builder, chosen by the method name:

- v1.0 (`SendMessage`, `GetTask`, ...): `TASK_STATE_*` and `ROLE_*` names; `SendMessage` and
  stream events are protobuf-JSON oneofs (`{"task": ...}`, `{"statusUpdate": ...}`,
  `{"artifactUpdate": ...}`), which is what the official a2a-sdk 1.x client parses.
- v0.3 spec (`message/send`, `message/stream`, `tasks/get`, `tasks/cancel`): lower-case states
  and roles, unwrapped objects told apart by `kind`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from robyn_server.clock import utcnow

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
TASK_NOT_FOUND = -32001
TASK_NOT_CANCELABLE = -32002
UNSUPPORTED_OPERATION = -32004
CONTENT_TYPE_NOT_SUPPORTED = -32005

MAX_HISTORY_LENGTH = 10
"""The reference refuses `historyLength` above this."""

STATES = frozenset(
    {"submitted", "working", "input-required", "completed", "canceled", "failed", "rejected", "auth-required"}
)
TERMINAL_STATES = frozenset({"completed", "canceled", "failed", "rejected"})
_RUN_STATES = {
    "pending": "submitted",
    "running": "working",
    "success": "completed",
    "interrupted": "canceled",  # an externally cancelled run; interrupt() ends runs with success
    "error": "failed",
    "timeout": "failed",
}
_V1_ROLES = {"user": "ROLE_USER", "agent": "ROLE_AGENT"}
_INPUT_ROLES = {"user": "user", "ROLE_USER": "user", "agent": "agent", "ROLE_AGENT": "agent"}
_STREAM_KEYS = {
    "task": "task",
    "message": "message",
    "status-update": "statusUpdate",
    "artifact-update": "artifactUpdate",
}

# Non-UUID context ids become uuid5(namespace, owner + id): stable, and never shared by two users.
CONTEXT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "robyn-server:a2a-context")


class RpcError(Exception):
    """A JSON-RPC error object to answer with (always HTTP 200)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def to_dict(self) -> dict[str, Any]:
        """The `error` member of the response."""
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class Wire:
    """The response format: v1.0 (`v1=True`) or the v0.3 spec format."""

    v1: bool

    def state(self, name: str) -> str:
        """A canonical state (`input-required`) in this format."""
        return "TASK_STATE_" + name.upper().replace("-", "_") if self.v1 else name

    def role(self, name: str) -> str:
        """`user`/`agent` in this format."""
        return _V1_ROLES[name] if self.v1 else name

    def send_result(self, task: dict[str, Any]) -> dict[str, Any]:
        """The `SendMessage` result: a `{"task": ...}` oneof in v1, the bare Task in v0.3."""
        return {"task": task} if self.v1 else task

    def event(self, event: dict[str, Any]) -> dict[str, Any]:
        """A stream event: wrapped in its v1 `StreamResponse` oneof, bare (with `kind`) in v0.3."""
        return {_STREAM_KEYS[event["kind"]]: event} if self.v1 else event


def now_iso() -> str:
    """The current time as the reference writes task timestamps."""
    return utcnow().isoformat()


def parse_role(raw: Any) -> str | None:
    """`user`/`agent` from either format's role name, else None."""
    return _INPUT_ROLES.get(raw) if isinstance(raw, str) else None


def parse_state(raw: Any) -> str | None:
    """A canonical state from `TASK_STATE_COMPLETED` or `completed`, else None."""
    if not isinstance(raw, str):
        return None
    name = raw.removeprefix("TASK_STATE_").lower().replace("_", "-") if raw.startswith("TASK_STATE_") else raw
    return name if name in STATES else None


def check_history_length(value: Any) -> int | None:
    """Validate `historyLength`. Raises RpcError (invalid params)."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise RpcError(INVALID_PARAMS, "historyLength must be a non-negative integer")
    if value > MAX_HISTORY_LENGTH:
        raise RpcError(INVALID_PARAMS, f"historyLength cannot exceed {MAX_HISTORY_LENGTH}")
    return value


def make_task_id(context_id: str, run_id: str) -> str:
    """Task id = `<contextId>:<run_id>`, so a task can be found from its id alone."""
    return f"{context_id}:{run_id}"


def split_task_id(task_id: str) -> tuple[str, str]:
    """`(context_id, run_id)`; split on the last `:` since a context id may contain colons."""
    context_id, sep, run_id = task_id.rpartition(":")
    return (context_id, run_id) if sep else ("", task_id)


def is_uuid(value: str) -> bool:
    """Whether the text parses as a UUID."""
    try:
        uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return False
    return True


def thread_id_for_context(context_id: str, owner: str | None) -> str:
    """A UUID context id is the thread id; any other string maps to a per-owner uuid5."""
    if is_uuid(context_id):
        return str(uuid.UUID(context_id))
    return str(uuid.uuid5(CONTEXT_NAMESPACE, f"{owner or ''}\x00{context_id}"))


def task_state(run_status: str, thread_status: str | None) -> str:
    """Task state from the run, and from the thread when this is the thread's latest run."""
    state = _RUN_STATES.get(run_status, "submitted")
    if state == "completed" and thread_status == "interrupted":
        return "input-required"
    return state


# ------------------------------------------------------------------ request parts -> graph input


def _part_key(part: Any) -> str:
    if not isinstance(part, dict):
        raise RpcError(CONTENT_TYPE_NOT_SUPPORTED, "Each message part must be an object.")
    keys = [k for k in ("text", "file", "data", "raw", "url") if k in part]
    if len(keys) != 1:
        raise RpcError(
            CONTENT_TYPE_NOT_SUPPORTED,
            "Each message part must contain exactly one of 'text', 'file', or 'data'. "
            "A2A agents support 'text', 'data', and 'file' parts only.",
        )
    return keys[0]


def has_message_parts(parts: list[Any]) -> bool:
    """Whether any part becomes a chat message (text or file), needing a `messages` input."""
    return any(
        isinstance(p, dict) and ("text" in p or "file" in p or "raw" in p or "url" in p) for p in parts
    )


def _file_block(part: dict[str, Any]) -> dict[str, Any]:
    """A LangChain media content block from a v0.3 `file` part or a v1 `raw`/`url` part."""
    if "file" in part:
        file = part["file"]
        if not isinstance(file, dict) or ("bytes" in file) == ("uri" in file):
            raise RpcError(
                CONTENT_TYPE_NOT_SUPPORTED, "FilePart 'file' must contain one of 'bytes' or 'uri'."
            )
        data, url, mime, name = file.get("bytes"), file.get("uri"), file.get("mimeType"), file.get("name")
    else:
        data, url, mime, name = part.get("raw"), part.get("url"), part.get("mediaType"), part.get("filename")
    top = mime.split("/", 1)[0].lower() if isinstance(mime, str) else ""
    block: dict[str, Any] = {"type": top if top in ("image", "audio", "video") else "file"}
    if data is not None:
        block["base64"] = data
    else:
        block["url"] = url  # passed through, never fetched by the server
    if mime:
        block["mime_type"] = mime
    if name:
        block["extras"] = {"filename": name}
    return block


def parts_to_input(parts: list[Any], role: str, message_id: str) -> dict[str, Any]:
    """Graph input: text/file parts -> one message (`id` = messageId), data parts merged in.

    Raises:
        RpcError: a malformed part (content type not supported) or no usable part.
    """
    texts: list[str] = []
    blocks: list[dict[str, Any]] = []
    data: dict[str, Any] = {}
    for part in parts:
        key = _part_key(part)
        if key == "text":
            if not isinstance(part["text"], str):
                raise RpcError(CONTENT_TYPE_NOT_SUPPORTED, "A text part's 'text' must be a string.")
            texts.append(part["text"])
            blocks.append({"type": "text", "text": part["text"]})
        elif key == "data":
            if not isinstance(part["data"], dict):
                raise RpcError(
                    CONTENT_TYPE_NOT_SUPPORTED, "DataPart must contain a JSON object in the 'data' field"
                )
            data.update(part["data"])
        else:
            blocks.append(_file_block(part))
    graph_input: dict[str, Any] = {}
    if blocks:
        # One part-for-part message; plain text stays a string, as chat graphs expect.
        content: Any = texts[0] if len(blocks) == 1 and texts else blocks
        lc_role = "human" if role == "user" else "assistant"
        graph_input["messages"] = [{"role": lc_role, "content": content, "id": message_id}]
    if not blocks and not data:
        raise RpcError(
            CONTENT_TYPE_NOT_SUPPORTED, "Message must contain at least one valid text, data, or file part"
        )
    graph_input.update(data)
    return graph_input


def resume_from_parts(parts: list[Any]) -> tuple[bool, Any]:
    """`(found, value)` of a data part `{"resume": value}`. Raises RpcError for several."""
    values = [
        p["data"]["resume"]
        for p in parts
        if isinstance(p, dict) and isinstance(p.get("data"), dict) and "resume" in p["data"]
    ]
    if len(values) > 1:
        raise RpcError(INVALID_PARAMS, "Only one resume value is allowed in data parts")
    return (True, values[0]) if values else (False, None)


def text_of_parts(parts: list[Any]) -> str | None:
    """The text parts joined by newlines, or None without any."""
    texts = [p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str)]
    return "\n".join(texts) if texts else None


def echo_parts(parts: list[Any]) -> list[dict[str, Any]]:
    """The client's parts with their `kind`, for echoing the request message."""
    echoed = []
    for part in parts:
        kind = "text" if "text" in part else "data" if "data" in part else "file"
        echoed.append({"kind": kind, **part})
    return echoed
