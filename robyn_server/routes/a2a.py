"""A2A routes: JSON-RPC at `/a2a/{assistant_id}` and the per-assistant agent cards.

Every route needs the caller's Bearer token, agent cards included: a card reveals an
assistant's name, description and input fields, and a user may only see their own and the
system assistants. (The reference serves everything without auth.)
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import aclosing

from robyn import Request, Response, StreamingResponse
from robyn.robyn import Headers

from robyn_server import __version__
from robyn_server.http import empty_response, json_response, query_value, request_context
from robyn_server.ownership import owner_of
from robyn_server.routes.router import ApiRouter, require_user
from robyn_server.services.a2a import A2AService
from robyn_server.services.a2a_mapping import INVALID_PARAMS, RpcError
from robyn_server.services.a2a_rpc import A2ARpc, RpcReply
from robyn_server.services.a2a_tasks import Caller
from robyn_server.services.container import Services
from robyn_server.sse import HEARTBEAT, SSE_HEADERS, dumps, encode_event

logger = logging.getLogger(__name__)

_STREAM_MEDIA_TYPE = "text/event-stream; charset=utf-8"  # see routes/streaming.py


def request_headers() -> dict[str, str]:
    """The request's headers (lower-case names), as the pipeline recorded them."""
    ctx = request_context.get()
    return ctx.headers if ctx else {}


def caller() -> Caller:
    """The authenticated caller as the A2A service sees them."""
    user = require_user()
    return Caller(owner=owner_of(user), user_id=user.identity, headers=request_headers())


def base_url(request: Request) -> str:
    """`scheme://host[:port]` the client used, for absolute URLs in agent cards."""
    headers = request_headers()
    scheme = headers.get("x-forwarded-proto") or request.url.scheme or "http"
    host = headers.get("x-forwarded-host") or headers.get("host") or request.url.host
    return f"{scheme}://{host}"


def body_bytes(request: Request) -> bytes:
    """The raw request body."""
    body = request.body
    return body.encode() if isinstance(body, str) else bytes(body or b"")


def _sse_payload(item: dict) -> bytes:
    # Some SSE readers split lines on these Unicode separators; keep each event on one line.
    return (
        dumps(item)
        .replace(b"\xc2\x85", b"\\u0085")
        .replace(b"\xe2\x80\xa8", b"\\u2028")
        .replace(b"\xe2\x80\xa9", b"\\u2029")
    )


def _stream(services: Services, events: AsyncIterator[dict | None]) -> StreamingResponse:
    tracker = services.streams

    async def body() -> AsyncIterator[bytes]:
        tracker.enter()
        try:
            async with aclosing(events) as source:  # type: ignore[type-var]
                async for item in source:
                    yield HEARTBEAT if item is None else encode_event("message", _sse_payload(item))
        except Exception:  # Robyn would end the body silently; the wrapper already sent the error
            logger.exception("A2A stream failed")
        finally:
            tracker.leave()

    ctx = request_context.get()
    headers = Headers({**(ctx.cors_headers if ctx else {}), **SSE_HEADERS})
    return StreamingResponse(body(), media_type=_STREAM_MEDIA_TYPE, headers=headers)


def _reply(services: Services, reply: RpcReply) -> Response | StreamingResponse:
    if reply.events is not None:
        return _stream(services, reply.events)
    if reply.body is None:
        return empty_response(reply.status)
    return json_response(reply.body, reply.status)


def register(api: ApiRouter, services: Services) -> None:
    """Register the A2A routes."""
    service = A2AService(services.assistants, services.threads, services.runs, services.state)
    rpc = A2ARpc(service, heartbeat=services.settings.heartbeat_seconds, version=__version__)

    async def card(request: Request, assistant_id: str | None) -> Response:
        if not assistant_id:
            error = {"code": INVALID_PARAMS, "message": "Missing required query parameter: assistant_id"}
            return json_response({"error": error}, 400)
        try:
            return json_response(await service.card(assistant_id, base_url(request), caller(), __version__))
        except RpcError as error:
            return json_response({"error": error.to_dict()}, 400)

    @api.route("POST", "/a2a/:assistant_id", tag="a2a")
    async def a2a_rpc(request: Request):
        """A2A JSON-RPC 2.0 (`SendMessage`, `SendStreamingMessage`, `GetTask`, `CancelTask`, `ListTasks`)."""
        reply = await rpc.handle(
            request.path_params["assistant_id"],
            body_bytes(request),
            request_headers().get("accept", ""),
            caller(),
            base_url(request),
        )
        return _reply(services, reply)

    @api.route("GET", "/a2a/:assistant_id", tag="a2a")
    async def a2a_card(request: Request) -> Response:
        """The assistant's A2A agent card."""
        return await card(request, request.path_params["assistant_id"])

    @api.route("GET", "/a2a/:assistant_id/.well-known/agent-card.json", tag="a2a")
    async def a2a_well_known_card(request: Request) -> Response:
        """The assistant's A2A agent card (well-known path under the agent URL)."""
        return await card(request, request.path_params["assistant_id"])

    @api.route("GET", "/.well-known/agent-card.json", tag="a2a")
    async def well_known_card(request: Request) -> Response:
        """The agent card of `?assistant_id=`."""
        return await card(request, query_value(request, "assistant_id"))
