"""The one global before-request pipeline.

Robyn runs a global `before_request` for every request, matched or not, and lets it
answer directly. In order: request context (CORS), preflight, route match (JSON
404/405), body-size limit, authentication. Route-scoped middleware is not used: Robyn
registers it for GET only.
"""

from __future__ import annotations

import logging
import time

from robyn import Request, Response

from robyn_server.auth import Authenticator, current_user
from robyn_server.cors import CorsPolicy
from robyn_server.errors import ServerError
from robyn_server.http import RequestContext, empty_response, error_response, json_response, request_context
from robyn_server.metrics import UNMATCHED, ServerMetrics
from robyn_server.routing import RouteTable

logger = logging.getLogger(__name__)


def flatten_headers(raw: dict) -> dict[str, str]:
    """Lower-case names, one string value each (Robyn may give lists; the last one wins)."""
    flat: dict[str, str] = {}
    for name, value in raw.items():
        if isinstance(value, list):
            value = value[-1] if value else ""
        flat[name.lower()] = str(value)
    return flat


class RequestPipeline:
    """Callable installed as Robyn's global before-request hook."""

    def __init__(
        self,
        *,
        routes: RouteTable,
        authenticator: Authenticator,
        cors: CorsPolicy,
        max_body_bytes: int,
        metrics: ServerMetrics | None = None,
    ) -> None:
        self._routes = routes
        self._auth = authenticator
        self._cors = cors
        self._max_body = max_body_bytes
        self._metrics = metrics

    async def __call__(self, request: Request) -> Request | Response:
        """Return the request to continue, or a response to answer at once."""
        result = await self._answer(request)
        if self._metrics is not None and isinstance(result, Response):
            # Handlers count their own responses (ApiRouter); these never reach one.
            ctx = request_context.get()
            route = (ctx.route if ctx else None) or UNMATCHED
            duration = time.perf_counter() - ctx.started if ctx else 0.0
            self._metrics.observe_request(request.method, route, result.status_code, duration)
        return result

    async def _answer(self, request: Request) -> Request | Response:
        headers = flatten_headers(request.headers.to_dict())
        origin = headers.get("origin")
        ctx = RequestContext(
            method=request.method,
            path=request.url.path,
            origin=origin,
            cors_headers=self._cors.response_headers(origin),
            headers=headers,
        )
        request_context.set(ctx)
        current_user.set(None)
        if request.method == "OPTIONS":
            return self._preflight(origin, headers.get("access-control-request-headers"))
        try:
            match = self._routes.match(request.method, request.url.path)
            ctx.route = match.template
            length = headers.get("content-length")
            if length and length.isdigit() and int(length) > self._max_body:
                return json_response({"detail": f"Request body exceeds {self._max_body} bytes"}, 413)
            if not match.public:
                current_user.set(await self._auth.authenticate(headers))
        except ServerError as error:
            return error_response(error)
        except Exception:  # an auth backend bug must not become a hang or a 500 page
            logger.exception("request pipeline failed")
            return json_response({"detail": "Internal Server Error"}, 500)
        return request

    def _preflight(self, origin: str | None, requested: str | None) -> Response:
        headers = self._cors.preflight_headers(origin, requested)
        if headers is None:
            return json_response({"detail": "Disallowed CORS origin"}, 400)
        response = empty_response(200, headers)
        response.headers.set("Content-Type", "text/plain; charset=utf-8")
        return response
