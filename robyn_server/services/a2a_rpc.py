"""The A2A JSON-RPC 2.0 envelope: parse, validate, dispatch, and frame errors as the reference.

Order of checks (the reference's): JSON (-32700), object (-32600), `jsonrpc: "2.0"` (-32600),
v0.3 method aliases, id type (-32600), method (-32601), SendMessage params (-32602), the
`Accept` header (HTTP 400), then the method itself. JSON-RPC errors are HTTP 200.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson

from robyn_server.services.a2a import A2AService
from robyn_server.services.a2a_mapping import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    RpcError,
    Wire,
)
from robyn_server.services.a2a_tasks import Caller

logger = logging.getLogger(__name__)

V03_ALIASES = {
    "message/send": "SendMessage",
    "message/stream": "SendStreamingMessage",
    "tasks/get": "GetTask",
    "tasks/cancel": "CancelTask",
}
METHODS = frozenset(
    {"SendMessage", "SendStreamingMessage", "GetTask", "CancelTask", "ListTasks", "GetExtendedAgentCard"}
)
STREAMING = "SendStreamingMessage"


@dataclass
class RpcReply:
    """What to answer: a JSON body (or none) with a status, or a stream of JSON-RPC responses.

    `events` yields response objects, or None when it is time for a keep-alive.
    """

    status: int = 200
    body: dict[str, Any] | None = None
    events: AsyncIterator[dict[str, Any] | None] | None = None


def accepts(accept: str, media_type: str) -> bool:
    """Whether an `Accept` header allows `media_type` (`*/*` and `type/*` included)."""
    for media_range in accept.split(","):
        candidate = media_range.split(";", 1)[0].strip().lower()
        if candidate in ("*/*", media_type) or (
            candidate.endswith("/*") and media_type.startswith(candidate[:-1])
        ):
            return True
    return False


def _error(id_: Any, code: int, message: str) -> RpcReply:
    return RpcReply(body={"jsonrpc": "2.0", "id": id_, "error": {"code": code, "message": message}})


def _valid_id(value: Any) -> bool:
    return value is None or (isinstance(value, str | int | float) and not isinstance(value, bool))


class A2ARpc:
    """Dispatches one POST to `/a2a/{assistant_id}`."""

    def __init__(self, service: A2AService, *, heartbeat: float, version: str) -> None:
        self._service = service
        self._heartbeat = heartbeat
        self._version = version

    async def handle(
        self, assistant_id: str, raw: bytes, accept: str, caller: Caller, base_url: str
    ) -> RpcReply:
        """Answer one JSON-RPC message."""
        try:
            message = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return _error(None, PARSE_ERROR, "Invalid JSON payload")
        if not isinstance(message, dict):
            return _error(None, INVALID_REQUEST, "Invalid message format: expected object")
        id_ = message.get("id")
        if message.get("jsonrpc") != "2.0":
            return _error(
                id_ if _valid_id(id_) else None,
                INVALID_REQUEST,
                "Invalid JSON-RPC message: missing or invalid jsonrpc version",
            )
        method = message.get("method")
        wire = Wire(v1=method not in V03_ALIASES)
        method = V03_ALIASES.get(method, method) if isinstance(method, str) else method
        if not _valid_id(id_):
            return _error(
                None, INVALID_REQUEST, "Invalid JSON-RPC request: 'id' must be a string, number, or null"
            )
        if method is not None and not isinstance(method, str):
            return _error(id_, METHOD_NOT_FOUND, "Method not found: method must be a string")
        if method is not None and method not in METHODS:
            return _error(id_, METHOD_NOT_FOUND, f"Method not found: {method}")
        params = message.get("params")
        params = {} if params is None else params
        if method is not None and not isinstance(params, dict):
            return _error(id_, INVALID_PARAMS, "Invalid params: must be an object")
        if method in ("SendMessage", STREAMING) and not isinstance(params.get("message"), dict):
            return _error(id_, INVALID_PARAMS, "Missing or invalid 'message' in params")
        if method == STREAMING and not accepts(accept, "text/event-stream"):
            return RpcReply(400, {"error": "Accept header must include text/event-stream for streaming"})
        if method != STREAMING and not accepts(accept, "application/json"):
            return RpcReply(400, {"error": "Accept header must include application/json"})
        if id_ is None or method is None:
            if id_ is not None and ("result" in message or "error" in message):
                return RpcReply(202)
            if id_ is not None:
                return _error(id_, INVALID_REQUEST, "Invalid JSON-RPC request: missing 'method' field")
            return _error(
                None, INVALID_REQUEST, "Invalid message format: must be a JSON-RPC request or notification"
            )
        try:
            if method == STREAMING:
                plan = await self._service.prepare(assistant_id, params, caller)
                events = await self._service.stream(plan, caller, wire, heartbeat=self._heartbeat)
                return RpcReply(events=self._responses(id_, events))
            result = await self._call(method, assistant_id, params, caller, wire, base_url)
        except RpcError as error:
            return _error(id_, error.code, error.message)
        except Exception:
            logger.exception("A2A %s failed", method)
            return _error(id_, INTERNAL_ERROR, "Internal server error")
        return RpcReply(body={"jsonrpc": "2.0", "id": id_, "result": result})

    async def _call(
        self,
        method: str,
        assistant_id: str,
        params: dict[str, Any],
        caller: Caller,
        wire: Wire,
        base_url: str,
    ) -> dict[str, Any]:
        service = self._service
        if method == "SendMessage":
            return await service.send(await service.prepare(assistant_id, params, caller), caller, wire)
        if method == "GetTask":
            return await service.get_task(assistant_id, params, caller, wire)
        if method == "CancelTask":
            return await service.cancel_task(assistant_id, params, caller, wire)
        if method == "ListTasks":
            return await service.list_tasks(assistant_id, params, caller, wire)
        return await service.card(assistant_id, base_url, caller, self._version)

    @staticmethod
    async def _responses(
        id_: Any, events: AsyncIterator[dict[str, Any] | None]
    ) -> AsyncIterator[dict[str, Any] | None]:
        """Wrap stream results as JSON-RPC responses; a failure becomes a last error response."""
        try:
            async for event in events:
                yield None if event is None else {"jsonrpc": "2.0", "id": id_, "result": event}
        except Exception:
            logger.exception("A2A stream failed")
            yield {
                "jsonrpc": "2.0",
                "id": id_,
                "error": {"code": INTERNAL_ERROR, "message": "Internal server error"},
            }
        finally:
            await events.aclose()  # type: ignore[attr-defined]
