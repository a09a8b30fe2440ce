"""Request parsing and response building: the one place HTTP bodies are made.

Every response (JSON, empty, error) is built here so CORS headers and the request's
bookkeeping are applied uniformly, without Robyn's `after_request` (which does not
run for streaming responses and costs a second Rust/Python crossing per request).
"""

from __future__ import annotations

import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

import orjson
from robyn import Request, Response

from robyn_server.errors import InvalidInput, ServerError
from robyn_server.sse import dumps


@dataclass
class RequestContext:
    """Per-request facts shared by the middleware, handlers and response builders."""

    method: str
    path: str
    origin: str | None
    cors_headers: dict[str, str]
    route: str | None = None
    started: float = field(default_factory=time.perf_counter)
    headers: dict[str, str] = field(default_factory=dict)


request_context: ContextVar[RequestContext | None] = ContextVar("request_context", default=None)

JSON_CONTENT_TYPE = "application/json"


def _base_headers(extra: dict[str, str] | None) -> dict[str, str]:
    ctx = request_context.get()
    headers = dict(ctx.cors_headers) if ctx else {}
    if extra:
        headers.update(extra)
    return headers


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response (compact, like the reference) with CORS headers."""
    all_headers = _base_headers(headers)
    all_headers["Content-Type"] = JSON_CONTENT_TYPE
    return Response(status, all_headers, dumps(data))


def raw_json_response(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A response whose JSON body is already serialized."""
    all_headers = _base_headers(headers)
    all_headers["Content-Type"] = JSON_CONTENT_TYPE
    return Response(status, all_headers, body)


def empty_response(status: int = 204, headers: dict[str, str] | None = None) -> Response:
    """An empty response (204 for deletes, 202 for cancels)."""
    return Response(status, _base_headers(headers), b"")


def text_response(text: str, status: int = 200, content_type: str = "text/plain; charset=utf-8") -> Response:
    """A plain-text (or other non-JSON) response."""
    headers = _base_headers({"Content-Type": content_type})
    return Response(status, headers, text)


def error_response(error: ServerError) -> Response:
    """The reference error body `{"detail": ...}` with the error's status and headers."""
    return json_response({"detail": error.detail}, error.status_code, error.headers)


def read_json(request: Request, *, default: Any = ...) -> Any:
    """Parse the body as JSON.

    Args:
        default: returned for an empty body; without it an empty body is invalid JSON
            (the reference answers 422 for `POST /threads` with no body).

    Raises:
        InvalidInput: the body is not valid JSON.
    """
    body = request.body
    raw = body.encode() if isinstance(body, str) else body
    if not raw or not raw.strip():
        if default is not ...:
            return default
        raise InvalidInput("Invalid JSON in request body")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidInput("Invalid JSON in request body") from None


def read_json_object(request: Request, *, default: Any = ...) -> dict[str, Any]:
    """Parse the body as a JSON object. Raises InvalidInput otherwise."""
    value = read_json(request, default=default)
    if not isinstance(value, dict):
        raise InvalidInput(f"{orjson.dumps(value).decode()[:200]} is not of type 'object'")
    return value


def require_uuid(value: str, kind: str) -> str:
    """Validate a path id; the reference answers 422 `Invalid <kind> ID: must be a UUID`."""
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        raise InvalidInput(f"Invalid {kind} ID: must be a UUID") from None


def query_value(request: Request, name: str) -> str | None:
    """The last value of a query parameter, or None (percent-decoded: Robyn does not decode)."""
    value = request.query_params.get(name, None)
    return None if value is None else unquote_plus(value)


def query_values(request: Request, name: str) -> list[str]:
    """Every value of a repeated query parameter (percent-decoded)."""
    try:
        return [unquote_plus(v) for v in request.query_params.get_all(name) or []]
    except (KeyError, AttributeError):
        return []


def query_bool(request: Request, name: str, default: bool = False) -> bool:
    """A boolean query parameter (`true/false/1/0`). Raises InvalidInput otherwise."""
    value = query_value(request, name)
    if value is None or value == "":
        return default
    lowered = value.lower()
    if lowered in {"true", "1", "yes"}:
        return True
    if lowered in {"false", "0", "no"}:
        return False
    raise InvalidInput(f"Invalid value for query parameter '{name}': {value!r} is not a boolean")


def query_int(request: Request, name: str, default: int, *, minimum: int = 0, maximum: int = 10_000) -> int:
    """An integer query parameter within bounds. Raises InvalidInput otherwise."""
    value = query_value(request, name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise InvalidInput(
            f"Invalid value for query parameter '{name}': {value!r} is not an integer"
        ) from None
    if number < minimum or number > maximum:
        raise InvalidInput(f"Query parameter '{name}' must be between {minimum} and {maximum}")
    return number


def pagination_headers(total: int, offset: int, limit: int | None, returned: int) -> dict[str, str]:
    """`X-Pagination-Total`/`-Next` as the reference sends them.

    When more pages exist the reference's "total" is `next_offset + 1`, not a count;
    clients only use it to know whether to fetch more, so we match it.
    """
    next_offset = offset + returned
    if limit is not None and next_offset < total:
        return {"X-Pagination-Total": str(next_offset + 1), "X-Pagination-Next": str(next_offset)}
    return {"X-Pagination-Total": str(total)}
