"""Registers handlers with Robyn and with our route table in one step."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from robyn import Request, Response, Robyn, StreamingResponse

from robyn_server.auth import User, current_user
from robyn_server.errors import ServerError, Unauthorized
from robyn_server.http import error_response, json_response, request_context
from robyn_server.metrics import ServerMetrics, TimedBody
from robyn_server.routing import RouteTable

logger = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class RouteDoc:
    """What `/openapi.json` says about a route."""

    method: str
    template: str
    summary: str
    tag: str
    public: bool
    request_model: type | None
    description: str


class ApiRouter:
    """`@api.route("POST", "/threads")` registers the handler with Robyn and the route table.

    Every handler is wrapped so a `ServerError` becomes the reference error body and any
    other exception a logged, generic JSON 500 (never Robyn's text/plain page). With
    `metrics`, the wrapper also counts every response by route template.
    """

    def __init__(self, app: Robyn, table: RouteTable, metrics: ServerMetrics | None = None) -> None:
        self._app = app
        self.table = table
        self.docs: list[RouteDoc] = []
        self.metrics = metrics

    def route(
        self,
        method: str,
        template: str,
        *,
        public: bool = False,
        tag: str = "default",
        body: type | None = None,
    ) -> Callable[[Handler], Handler]:
        """Decorator registering `handler(request) -> Response` for a method and template."""

        def decorate(handler: Handler) -> Handler:
            @functools.wraps(handler)
            async def wrapped(request: Request) -> Response:
                try:
                    response = await handler(request)
                except ServerError as error:
                    response = error_response(error)
                except Exception:
                    logger.exception("unhandled error in %s %s", method, template)
                    response = json_response({"detail": "Internal Server Error"}, 500)
                if self.metrics is not None:
                    self._record(request, template, response, self.metrics)
                return response

            self._app.add_route(method.upper(), template, wrapped, include_in_schema=False)
            self.table.add(method, template, public=public)
            doc = (handler.__doc__ or "").strip()
            self.docs.append(
                RouteDoc(
                    method.upper(),
                    template,
                    doc.splitlines()[0] if doc else template,
                    tag,
                    public,
                    body,
                    doc,
                )
            )
            return wrapped

        return decorate

    @staticmethod
    def _record(request: Request, template: str, response: Response, metrics: ServerMetrics) -> None:
        """Count the response here: Robyn's `after_request` never sees streams.

        A stream is counted when its headers go out; its whole lifetime is observed
        separately when its body ends.
        """
        ctx = request_context.get()
        started = ctx.started if ctx is not None else time.perf_counter()
        status = getattr(response, "status_code", 200)
        metrics.observe_request(request.method, template, status, time.perf_counter() - started)
        if isinstance(response, StreamingResponse):
            response.content = TimedBody(
                response.content, lambda: metrics.observe_stream(template, time.perf_counter() - started)
            )


def require_user() -> User:
    """The authenticated caller, set by the request pipeline. Raises Unauthorized."""
    user = current_user.get()
    if user is None:
        raise Unauthorized("Missing authentication credentials")
    return user
