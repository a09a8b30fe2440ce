"""A2A objects built from LangGraph output: messages, history, artifacts, tasks, agent card.

Pure functions over plain JSON (messages as `dumps` serializes them: `type` human/ai/tool).
Public agent prose becomes text parts; a tool result correlated by `tool_call_id` becomes a
data part `{"tool_results": [...]}` (never agent speech); system messages are dropped.
"""

from __future__ import annotations

import json
from typing import Any

from robyn_server.ids import uuid4
from robyn_server.services.a2a_mapping import Wire, now_iso

USER_TYPES = frozenset({"human", "humanmessage", "humanmessagechunk"})
AGENT_TYPES = frozenset({"ai", "aimessage", "aimessagechunk"})
_USER_ROLES = frozenset({"human", "user"})
_AGENT_ROLES = frozenset({"ai", "assistant", "agent"})
_MEDIA_BLOCKS = frozenset({"image", "audio", "video", "file"})
DEFAULT_MODES = ["application/json", "text/plain"]


def text_part(text: str) -> dict[str, Any]:
    """A text part (with `kind`, which v1 parsers ignore)."""
    return {"kind": "text", "text": text}


def data_part(data: dict[str, Any]) -> dict[str, Any]:
    """A data part."""
    return {"kind": "data", "data": data}


def message_role(message: dict[str, Any]) -> str | None:
    """`user`, `agent`, or None for tool/system/other messages."""
    kind = str(message.get("type") or "").lower().replace("_", "")
    role = str(message.get("role") or "").lower()
    if kind in USER_TYPES or (not kind and role in _USER_ROLES):
        return "user"
    if kind in AGENT_TYPES or (not kind and role in _AGENT_ROLES):
        return "agent"
    return None


def content_text(content: Any) -> str:
    """The text of message content (a string or a list of blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            b if isinstance(b, str) else str(b.get("text", ""))
            for b in content
            if isinstance(b, str) or (isinstance(b, dict) and b.get("type") == "text")
        )
    return "" if content is None else str(content)


def _file_part(block: dict[str, Any], wire: Wire) -> dict[str, Any] | None:
    source = next((k for k in ("base64", "data", "url") if isinstance(block.get(k), str)), None)
    if source is None:
        return None
    mime = block.get("mime_type")
    name = block.get("filename") or (block.get("extras") or {}).get("filename")
    if wire.v1:
        part: dict[str, Any] = {"url": block["url"]} if source == "url" else {"raw": block[source]}
        part.update({k: v for k, v in (("mediaType", mime), ("filename", name)) if v})
        return part
    file: dict[str, Any] = {"uri": block["url"]} if source == "url" else {"bytes": block[source]}
    file.update({k: v for k, v in (("mimeType", mime), ("name", name)) if v})
    return {"kind": "file", "file": file}


def content_parts(content: Any, wire: Wire) -> list[dict[str, Any]]:
    """Parts for message content: consecutive text joined, media blocks as file parts."""
    if not isinstance(content, list):
        return [] if content is None else [text_part(content_text(content))]
    parts: list[dict[str, Any]] = []
    pending: list[str] = []
    for block in content:
        if isinstance(block, str) or (isinstance(block, dict) and block.get("type") == "text"):
            pending.append(content_text([block]))
        elif isinstance(block, dict) and block.get("type") in _MEDIA_BLOCKS:
            file = _file_part(block, wire)
            if file is None:
                continue
            if pending:
                parts.append(text_part("".join(pending)))
                pending = []
            parts.append(file)
    if pending:
        parts.append(text_part("".join(pending)))
    return parts


def has_content(parts: list[dict[str, Any]]) -> bool:
    """Whether parts carry anything besides empty text."""
    return any(p.get("kind") != "text" or p.get("text") for p in parts)


def tool_result(message: dict[str, Any]) -> dict[str, Any] | None:
    """`{toolCallId, content, name, status}` for a tool message, else None."""
    call_id = message.get("tool_call_id")
    if not isinstance(call_id, str) or not call_id:
        return None
    result: dict[str, Any] = {"toolCallId": call_id}
    if message.get("content") not in (None, ""):
        result["content"] = message["content"]
    for key in ("name", "status"):
        if isinstance(message.get(key), str) and message[key]:
            result[key] = message[key]
    return result


def a2a_message(
    wire: Wire, role: str, parts: list[dict[str, Any]], message_id: str, task_id: str, context_id: str
) -> dict[str, Any]:
    """An A2A Message."""
    return {
        "kind": "message",
        "role": wire.role(role),
        "parts": parts,
        "messageId": message_id,
        "taskId": task_id,
        "contextId": context_id,
    }


def history(
    messages: list[Any],
    wire: Wire,
    *,
    task_id: str,
    context_id: str,
    starts: dict[str, str],
    length: int | None,
) -> list[dict[str, Any]]:
    """The conversation as A2A messages, each tagged with the task it belongs to.

    Args:
        starts: human message id -> the task that message started (from run metadata); later
            messages belong to that task until the next known human message.
        length: keep only the last `length` messages (None: all).
    """
    current = task_id
    converted: list[dict[str, Any]] = []
    for message in messages:
        if not isinstance(message, dict):
            continue
        role = message_role(message)
        if role == "user" and message.get("id") in starts:
            current = starts[message["id"]]
        if role is None:
            result = tool_result(message)
            if result is None:
                continue
            role, parts = "agent", [data_part({"tool_results": [result]})]
        else:
            parts = content_parts(message.get("content"), wire)
            if role == "agent" and not has_content(parts):
                continue
            parts = parts or [text_part("")]
        message_id = message.get("id") or uuid4()
        converted.append(a2a_message(wire, role, parts, message_id, current, context_id))
    if length is None:
        return converted
    return converted[-length:] if length else []


def answer_parts(values: dict[str, Any], wire: Wire) -> list[dict[str, Any]]:
    """The answer: the last agent message with content after the last human one, else JSON."""
    messages = values.get("messages")
    if not isinstance(messages, list) or not messages:
        return [text_part(json.dumps(values, ensure_ascii=False, default=str))]
    turn = messages
    for index in range(len(messages) - 1, -1, -1):
        if isinstance(messages[index], dict) and message_role(messages[index]) == "user":
            turn = messages[index + 1 :]
            break
    for message in reversed(turn):
        if isinstance(message, dict) and message_role(message) == "agent":
            parts = content_parts(message.get("content"), wire)
            if has_content(parts):
                return parts
    return [text_part("")]


def stream_parts(items: list[Any]) -> list[dict[str, Any]]:
    """Parts for one `messages/*` stream event: agent text (accumulated so far) and tool results."""
    texts: list[str] = []
    results: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        role = message_role(item)
        if role == "agent":
            texts.append(content_text(item.get("content")))
        elif role is None and (result := tool_result(item)) is not None:
            results.append(result)
    parts = [text_part("".join(texts))] if any(texts) else []
    if results:
        parts.append(data_part({"tool_results": results}))
    return parts


def response_artifact(parts: list[dict[str, Any]], assistant_id: str) -> dict[str, Any]:
    """The artifact carrying the final answer."""
    return {
        "artifactId": uuid4(),
        "name": "Assistant Response",
        "description": f"Response from assistant {assistant_id}",
        "parts": parts,
    }


def interrupt_artifact(interrupts: list[Any]) -> dict[str, Any]:
    """The artifact listing what the agent waits for (`{id, value}` per interrupt)."""
    parts = [
        data_part({"id": i.get("id"), "value": i.get("value")}) for i in interrupts if isinstance(i, dict)
    ]
    return {
        "artifactId": uuid4(),
        "name": "Interrupt",
        "description": "Agent requires input to continue",
        "parts": parts,
    }


def status(
    wire: Wire, state: str, message: dict[str, Any] | None = None, timestamp: str | None = None
) -> dict:
    """A TaskStatus."""
    body: dict[str, Any] = {"state": wire.state(state), "timestamp": timestamp or now_iso()}
    if message is not None:
        body["message"] = message
    return body


def status_event(
    wire: Wire, task_id: str, context_id: str, state: str, *, final: bool, message: dict | None = None
) -> dict[str, Any]:
    """A `status-update` stream event."""
    return wire.event(
        {
            "taskId": task_id,
            "contextId": context_id,
            "kind": "status-update",
            "status": status(wire, state, message),
            "final": final,
        }
    )


def artifact_event(wire: Wire, task_id: str, context_id: str, artifact: dict[str, Any]) -> dict[str, Any]:
    """An `artifact-update` stream event carrying a whole artifact."""
    return wire.event(
        {
            "taskId": task_id,
            "contextId": context_id,
            "kind": "artifact-update",
            "artifact": artifact,
            "append": False,
            "lastChunk": True,
        }
    )


def agent_card(
    assistant: dict[str, Any], input_schema: dict[str, Any] | None, base_url: str, version: str
) -> dict:
    """The agent card of one assistant (the reference's fields, plus the v0.3 discovery keys)."""
    assistant_id = assistant["assistant_id"]
    name = assistant["name"]
    description = assistant.get("description") or f"{name} assistant"
    properties = (input_schema or {}).get("properties") or {}
    url = f"{base_url}/a2a/{assistant_id}"
    return {
        "name": name,
        "description": description,
        "url": url,
        "preferredTransport": "JSONRPC",
        "protocolVersion": "0.3.0",
        "supportedInterfaces": [
            {"url": url, "protocolBinding": "JSONRPC", "protocolVersion": "1.0"},
            {"url": url, "protocolBinding": "JSONRPC", "protocolVersion": "0.3"},
        ],
        "capabilities": {"streaming": True, "pushNotifications": False, "stateTransitionHistory": False},
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        "security": [{"bearer": []}],
        "defaultInputModes": DEFAULT_MODES,
        "defaultOutputModes": DEFAULT_MODES,
        "skills": [
            {
                "id": f"{assistant_id}-main",
                "name": f"{name} Capabilities",
                "description": description,
                "tags": ["assistant", "langgraph"],
                "examples": [],
                "inputModes": DEFAULT_MODES,
                "outputModes": DEFAULT_MODES,
                "metadata": {
                    "inputSchema": {
                        "required": (input_schema or {}).get("required") or [],
                        "properties": sorted(properties),
                        "supportsA2A": "messages" in properties,
                    }
                },
            }
        ],
        "version": version,
    }
