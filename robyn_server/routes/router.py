"""Registers handlers with Robyn and with our route table in one step."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from robyn import Request, Response, Robyn

from robyn_server.auth import User, current_user
from robyn_server.errors import ServerError, Unauthorized
from robyn_server.http import error_response, json_response
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
    other exception a logged, generic JSON 500 (never Robyn's text/plain page).
    """

    def __init__(self, app: Robyn, table: RouteTable) -> None:
        self._app = app
        self.table = table
        self.docs: list[RouteDoc] = []

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
                    return await handler(request)
                except ServerError as error:
                    return error_response(error)
                except Exception:
                    logger.exception("unhandled error in %s %s", method, template)
                    return json_response({"detail": "Internal Server Error"}, 500)

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


def require_user() -> User:
    """The authenticated caller, set by the request pipeline. Raises Unauthorized."""
    user = current_user.get()
    if user is None:
        raise Unauthorized("Missing authentication credentials")
    return user
