"""An MCP server stand-in for tests: the official `mcp` SDK served by uvicorn on 127.0.0.1.

It serves what the Open Agent Platform tools agent talks to:

- `/mcp`: MCP over streamable HTTP (stateless, JSON responses) with the tools
  `add(a, b)`, `lookup_city(city)`, `explode()` (always fails: an `isError` result) and
  `needs_auth()` (a JSON-RPC error -32003 "interaction required" carrying an auth URL).
  `tools/list` is paginated (`page_size` tools per page, `nextCursor` = the next offset).
- `/oauth/token`: an RFC 8693 token exchange (form-encoded `grant_type` and `subject_token`
  required) answering `{"access_token": "mcp-<random>", "token_type": "Bearer", "expires_in"}`.

With `require_auth=True`, `/mcp` answers 401 unless `Authorization: Bearer <a token it issued>`.

    with FakeMCPServer(require_auth=True) as mcp:
        mcp.url          # "http://127.0.0.1:PORT" (the MCP endpoint is f"{mcp.url}/mcp")
        mcp.token_calls  # how many token exchanges were made
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from typing import Any, Self

import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp_types import ListToolsResult, PaginatedRequestParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
AUTH_URL = "https://auth.example.com/authorize?tool=needs_auth"
INTERACTION_REQUIRED = -32003


class _PagedMCPServer(MCPServer):
    """`MCPServer` whose `tools/list` is split into pages, so clients must follow `nextCursor`."""

    page_size: int = 2

    async def _handle_list_tools(self, ctx: Any, params: PaginatedRequestParams | None) -> ListToolsResult:
        tools = await self.list_tools()
        start = int(params.cursor) if params is not None and params.cursor else 0
        end = start + self.page_size
        next_cursor = str(end) if end < len(tools) else None
        return ListToolsResult(tools=tools[start:end], next_cursor=next_cursor)


def build_mcp(page_size: int = 2) -> MCPServer:
    """The MCP server with the test tools."""
    server = _PagedMCPServer(name="fake-mcp")
    server.page_size = page_size

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return int(a) + int(b)

    @server.tool()
    def lookup_city(city: str) -> str:
        """Look up facts about a city."""
        return f"{city} is a lovely city."

    @server.tool()
    def explode() -> str:
        """A tool that always fails."""
        raise ToolError("kaboom: the tool exploded")

    @server.tool()
    def needs_auth() -> str:
        """A tool that needs the user to authorize first."""
        raise MCPError(
            INTERACTION_REQUIRED,
            "Interaction required",
            data={"message": {"text": "Authorize the app to use this tool."}, "url": AUTH_URL},
        )

    return server


class FakeMCPServer:
    """A real MCP server (plus an RFC 8693 token endpoint) in a background thread.

    Attributes:
        token_calls: number of POSTs to `/oauth/token` that issued a token.
        subject_tokens: the `subject_token` of every exchange, in order.
        token_requests: the decoded form of every `/oauth/token` request.
        mcp_authorizations: the `Authorization` header (or None) of every `/mcp` request.
        issued_tokens: the access tokens handed out.
    """

    def __init__(
        self,
        *,
        require_auth: bool = False,
        expires_in: int = 3600,
        page_size: int = 2,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.require_auth = require_auth
        self.expires_in = expires_in
        self.host = host
        self.requested_port = port
        self.token_calls = 0
        self.subject_tokens: list[str] = []
        self.token_requests: list[dict[str, str]] = []
        self.mcp_authorizations: list[str | None] = []
        self.issued_tokens: set[str] = set()
        self._lock = threading.Lock()
        self._mcp = build_mcp(page_size)
        self._mcp.custom_route("/oauth/token", methods=["POST"])(self._token)
        self._app = _AuthGate(self._mcp.streamable_http_app(stateless_http=True, json_response=True), self)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    @property
    def url(self) -> str:
        """Base URL without `/mcp`, e.g. `http://127.0.0.1:PORT` (what `mcp_config.url` holds)."""
        if self._port is None:
            raise RuntimeError("FakeMCPServer is not started.")
        return f"http://{self.host}:{self._port}"

    @property
    def mcp_requests(self) -> int:
        """How many HTTP requests reached `/mcp` (allowed or not)."""
        return len(self.mcp_authorizations)

    @property
    def requests(self) -> int:
        """How many HTTP requests the server received in total."""
        return self.mcp_requests + len(self.token_requests)

    def start(self) -> Self:
        """Serve from a daemon thread; returns once the server accepts connections."""
        if self._thread is not None:
            return self
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.requested_port))
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(self._app, log_level="warning", lifespan="on", timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="fake-mcp", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("FakeMCPServer failed to start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def is_issued(self, authorization: str | None) -> bool:
        """Whether an `Authorization` header carries a token this server issued."""
        scheme, _, token = (authorization or "").partition(" ")
        with self._lock:
            return scheme.lower() == "bearer" and token in self.issued_tokens

    def record_mcp_request(self, authorization: str | None) -> None:
        """Remember the `Authorization` header of one `/mcp` request."""
        with self._lock:
            self.mcp_authorizations.append(authorization)

    async def _token(self, request: Request) -> Response:
        form = {key: str(value) for key, value in (await request.form()).items()}
        with self._lock:
            self.token_requests.append(form)
        if form.get("grant_type") != TOKEN_EXCHANGE_GRANT:
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        if not form.get("subject_token"):
            return JSONResponse(
                {"error": "invalid_request", "error_description": "subject_token is required"},
                status_code=400,
            )
        token = f"mcp-{secrets.token_urlsafe(16)}"
        with self._lock:
            self.token_calls += 1
            self.subject_tokens.append(form["subject_token"])
            self.issued_tokens.add(token)
        return JSONResponse(
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": self.expires_in,
                "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
            }
        )


class _AuthGate:
    """ASGI wrapper recording `/mcp` requests and, with `require_auth`, enforcing issued tokens."""

    def __init__(self, app: ASGIApp, owner: FakeMCPServer) -> None:
        self.app = app
        self.owner = owner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].rstrip("/") == "/mcp":
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
            authorization = headers.get("authorization")
            self.owner.record_mcp_request(authorization)
            if self.owner.require_auth and not self.owner.is_issued(authorization):
                body = json.dumps({"error": "invalid_token", "error_description": "Bearer token required"})
                response = Response(
                    body,
                    status_code=401,
                    media_type="application/json",
                    headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
