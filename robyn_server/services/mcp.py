"""MCP over stateless streamable HTTP: one tool per assistant the caller can see.

JSON responses only (no SSE, no sessions), as the reference. `initialize` echoes a supported
protocol version, else answers the latest; `tools/list` pages by an opaque string cursor;
`tools/call` runs the assistant statelessly and answers with text a client can read: the last
AI message, or the output values as JSON. Unknown methods (e.g. the 2026 `server/discover`
probe) are -32601, which makes current clients fall back to the `initialize` handshake.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from robyn_server import models
from robyn_server.errors import NotFound, ServerError
from robyn_server.services.assistants import AssistantService
from robyn_server.services.runs import RunService
from robyn_server.storage.base import Assistant

logger = logging.getLogger(__name__)

PROTOCOL_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
LATEST_PROTOCOL_VERSION = PROTOCOL_VERSIONS[-1]
TOOLS_PAGE_SIZE = 100
MAX_ASSISTANTS = 1000
INVALID_PARAMS = -32602
METHOD_NOT_FOUND = -32601
INTERNAL_ERROR = -32603

_NAME_INVALID = re.compile(r"[^a-zA-Z0-9_\-.]")
_LANGCHAIN_MESSAGES = frozenset(
    f"{kind}Message{suffix}"
    for kind in ("AI", "Human", "Chat", "System", "Function", "Tool")
    for suffix in ("", "Chunk")
)
_LANGCHAIN_SUPPORT = frozenset(
    {
        "ToolCall",
        "ToolCallChunk",
        "InvalidToolCall",
        "UsageMetadata",
        "InputTokenDetails",
        "OutputTokenDetails",
    }
)
NOT_A_MESSAGE = (
    "Invalid message format. A message is to be either a JSON-RPC request, response, or notification."
)
_ANNOTATIONS = {
    "readOnlyHint": False,
    "destructiveHint": False,
    "idempotentHint": False,
    "openWorldHint": True,
}


class McpError(Exception):
    """A JSON-RPC error for the current request."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class McpReply:
    """HTTP status and JSON body (None for an empty 202/4xx)."""

    status: int
    body: dict[str, Any] | None = None


def normalize_name(name: str) -> str:
    """An assistant name as an MCP tool name (`^[a-zA-Z0-9_\\-.]{1,128}$`)."""
    return _NAME_INVALID.sub("", re.sub(r"\s+", "_", name.strip()))[:128]


def negotiate(requested: Any) -> str:
    """The requested protocol version if supported, else the latest."""
    return requested if requested in PROTOCOL_VERSIONS else LATEST_PROTOCOL_VERSION


def _is_messages_list(prop: dict[str, Any]) -> bool:
    items = prop.get("items") or {}
    refs = [c.get("$ref", "") for c in (items.get("oneOf") or items.get("anyOf") or [])]
    return prop.get("type") == "array" and any(
        r.removeprefix("#/$defs/") in _LANGCHAIN_MESSAGES for r in refs
    )


def tool_schema(input_schema: dict[str, Any] | None) -> tuple[dict[str, Any], set[str]]:
    """An LLM-friendly copy of a graph input schema, and the keys that take a message string.

    A list of LangChain messages becomes a string (the user message); the message `$defs` go.
    """
    schema = copy.deepcopy(input_schema or {})
    properties = schema.get("properties") or {}
    message_keys = {
        key for key, prop in properties.items() if isinstance(prop, dict) and _is_messages_list(prop)
    }
    for key in message_keys:
        properties[key] = {
            "type": "string",
            "title": properties[key].get("title", key),
            "description": "The user message to send to the agent.",
        }
    if message_keys and isinstance(schema.get("$defs"), dict):
        for name in _LANGCHAIN_MESSAGES | _LANGCHAIN_SUPPORT:
            schema["$defs"].pop(name, None)
        if not schema["$defs"]:
            del schema["$defs"]
    schema.setdefault("type", "object")
    return schema, message_keys


def page(items: list[Any], cursor: Any, size: int = TOOLS_PAGE_SIZE) -> tuple[list[Any], str | None]:
    """One page of `items` from an offset cursor and the next cursor. Raises McpError."""
    if cursor is None:
        offset = 0
    elif isinstance(cursor, str) and cursor.isdigit():
        offset = int(cursor)
    else:
        raise McpError(INVALID_PARAMS, f"Invalid cursor: {cursor!r}")
    following = offset + size
    return items[offset:following], (str(following) if following < len(items) else None)


def answer_text(values: Any) -> str:
    """The tool's text: the last AI message's text, else the output as JSON."""
    if isinstance(values, dict) and not values.get("__interrupt__"):
        for message in reversed(values.get("messages") or []):
            if isinstance(message, dict) and message.get("type") in ("ai", "AIMessage", "AIMessageChunk"):
                content = message.get("content")
                if isinstance(content, list):
                    content = "".join(
                        b if isinstance(b, str) else str(b.get("text", ""))
                        for b in content
                        if isinstance(b, str) or (isinstance(b, dict) and b.get("type") == "text")
                    )
                if isinstance(content, str) and content:
                    return content
                break
    return json.dumps(values, ensure_ascii=False)


class McpService:
    """Answers one POST to `/mcp` for one caller."""

    def __init__(self, assistants: AssistantService, runs: RunService, *, version: str) -> None:
        self._assistants = assistants
        self._runs = runs
        self._version = version

    async def handle(
        self, raw: bytes, accept: str, *, owner: str | None, user_id: str, headers: Mapping[str, str]
    ) -> McpReply:
        """Validate the envelope as the reference does, then answer a request (202 otherwise)."""
        try:
            message = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return McpReply(400, {"error": "Invalid JSON"})
        if "application/json" not in accept and "text/event-stream" not in accept:
            return McpReply(
                400, {"error": "Accept header must include application/json or text/event-stream"}
            )
        if not isinstance(message, dict):
            return McpReply(400, {"error": "Invalid message format."})
        if message.get("jsonrpc") != "2.0":
            return McpReply(400, {"error": "Invalid JSON-RPC message. Missing or invalid jsonrpc version."})
        id_, method = message.get("id"), message.get("method")
        if id_ is None and not method:
            return McpReply(400, {"error": NOT_A_MESSAGE})
        if id_ is None or not method:
            return McpReply(202)  # a notification, or a response to us
        try:
            params = message.get("params")
            params = {} if params is None else params
            if not isinstance(params, dict):
                raise McpError(INVALID_PARAMS, "Invalid params: must be an object")
            result = await self._dispatch(str(method), params, owner, user_id, headers)
        except McpError as error:
            return McpReply(
                200, {"jsonrpc": "2.0", "id": id_, "error": {"code": error.code, "message": error.message}}
            )
        except Exception:
            logger.exception("MCP %s failed", method)
            error = {"code": INTERNAL_ERROR, "message": "Internal error"}
            return McpReply(200, {"jsonrpc": "2.0", "id": id_, "error": error})
        return McpReply(200, {"jsonrpc": "2.0", "id": id_, "result": result})

    async def _dispatch(
        self, method: str, params: dict[str, Any], owner: str | None, user_id: str, headers: Mapping[str, str]
    ) -> dict[str, Any]:
        if method == "initialize":
            return {
                "protocolVersion": negotiate(params.get("protocolVersion", LATEST_PROTOCOL_VERSION)),
                "capabilities": {"tools": {"listChanged": False}},
                "serverInfo": {"name": "LangGraph", "version": self._version},
            }
        if method == "ping":
            return {}
        if method == "tools/list":
            return await self.list_tools(params.get("cursor"), owner)
        if method == "tools/call":
            return await self.call_tool(params, owner=owner, user_id=user_id, headers=headers)
        raise McpError(METHOD_NOT_FOUND, f"Method not found: {method}")

    async def _named(self, owner: str | None) -> list[tuple[str, Assistant]]:
        """Visible assistants by tool name, newest first; the first of a duplicate name wins."""
        found = await self._assistants.search(models.AssistantSearch(limit=MAX_ASSISTANTS), owner=owner)
        named: dict[str, Assistant] = {}
        for assistant in found.items:
            name = normalize_name(assistant["name"] or "")
            if name and name not in named:
                named[name] = assistant
        return list(named.items())

    async def list_tools(self, cursor: Any, owner: str | None) -> dict[str, Any]:
        """`tools/list`: one page of tools."""
        items, next_cursor = page(await self._named(owner), cursor)
        tools = []
        for name, assistant in items:
            try:
                schemas = await self._assistants.schemas(assistant["assistant_id"], owner=owner)
            except Exception:  # one broken graph must not hide the other tools
                logger.warning("MCP: no schema for assistant %s", assistant["assistant_id"], exc_info=True)
                continue
            tools.append(
                {
                    "name": name,
                    "title": assistant["name"],
                    "description": assistant["description"]
                    or f"Tool based on the {assistant['name']} assistant",
                    "inputSchema": tool_schema(schemas.get("input_schema"))[0],
                    "annotations": _ANNOTATIONS,
                }
            )
        result: dict[str, Any] = {"tools": tools}
        if next_cursor is not None:
            result["nextCursor"] = next_cursor
        return result

    async def call_tool(
        self, params: dict[str, Any], *, owner: str | None, user_id: str, headers: Mapping[str, str]
    ) -> dict[str, Any]:
        """`tools/call`: a stateless run of the assistant; graph errors are `isError` results."""
        name = params.get("name")
        assistant = dict(await self._named(owner)).get(name) if isinstance(name, str) else None
        if assistant is None:
            raise McpError(INVALID_PARAMS, f"Unknown tool: {name}")
        arguments = params.get("arguments")
        arguments = {} if arguments is None else arguments
        context = params.get("context")
        if not isinstance(arguments, dict) or not isinstance(context, dict | None):
            raise McpError(INVALID_PARAMS, "Invalid params: 'arguments' and 'context' must be objects")
        schemas = await self._assistants.schemas(assistant["assistant_id"], owner=owner)
        graph_input = dict(arguments)
        for key in tool_schema(schemas.get("input_schema"))[1]:
            if isinstance(graph_input.get(key), str):
                graph_input[key] = [{"role": "human", "content": graph_input[key]}]
        try:
            body = models.RunCreate(
                assistant_id=assistant["assistant_id"], input=graph_input, context=context
            )
            run, _ = await self._runs.create(None, body, owner=owner, user_id=user_id, headers=headers)
        except NotFound:
            raise McpError(INVALID_PARAMS, f"Unknown tool: {name}") from None
        except ServerError as error:
            raise McpError(INVALID_PARAMS, str(error.detail)) from None
        values = orjson.loads((await self._runs.outcome(run)).output)
        if isinstance(values, dict) and "__error__" in values:
            error = values["__error__"] or {}
            text = f"{error.get('error')}: {error.get('message')}"
            return {"isError": True, "content": [{"type": "text", "text": text}]}
        return {"content": [{"type": "text", "text": answer_text(values)}]}
