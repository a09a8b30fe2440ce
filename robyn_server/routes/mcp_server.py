"""MCP route: stateless streamable HTTP at `/mcp` (JSON responses, no sessions).

Needs the caller's Bearer token: tools are the caller's own and the system assistants.
"""

from __future__ import annotations

from robyn import Request, Response

from robyn_server import __version__
from robyn_server.http import empty_response, json_response
from robyn_server.ownership import owner_of
from robyn_server.routes.a2a import body_bytes, request_headers
from robyn_server.routes.router import ApiRouter, require_user
from robyn_server.services.container import Services
from robyn_server.services.mcp import McpService


def register(api: ApiRouter, services: Services) -> None:
    """Register the MCP routes."""
    service = McpService(services.assistants, services.runs, version=__version__)

    @api.route("POST", "/mcp", tag="mcp")
    async def mcp_post(request: Request) -> Response:
        """MCP JSON-RPC (`initialize`, `ping`, `tools/list`, `tools/call`); notifications get 202."""
        user = require_user()
        headers = request_headers()
        reply = await service.handle(
            body_bytes(request),
            headers.get("accept", ""),
            owner=owner_of(user),
            user_id=user.identity,
            headers=headers,
        )
        if reply.body is None:
            return empty_response(reply.status)
        return json_response(reply.body, reply.status)

    @api.route("GET", "/mcp", tag="mcp")
    async def mcp_get(request: Request) -> Response:
        """No server-initiated stream: 405, as the reference."""
        return empty_response(405)

    @api.route("DELETE", "/mcp", tag="mcp")
    async def mcp_delete(request: Request) -> Response:
        """Stateless: there is no session to end (404, as the reference)."""
        return empty_response(404)
