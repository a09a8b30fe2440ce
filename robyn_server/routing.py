"""A table of our route templates: JSON 404/405 and the template a path matched.

Robyn dispatches requests itself, but answers unknown routes with a text/plain 404
and a wrong method with 404 too. The global middleware consults this table first, so
clients get the reference's `{"detail":"Not Found"}` / `{"detail":"Method Not Allowed"}`,
and metrics can label requests by template instead of raw path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from robyn_server.errors import MethodNotAllowed, NotFound

_PARAM = re.compile(r":([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class RouteMatch:
    """The template a request matched and whether it needs no authentication."""

    template: str
    public: bool


class RouteTable:
    """Route templates (`/threads/:thread_id`) by method."""

    def __init__(self) -> None:
        self._static: dict[str, dict[str, bool]] = {}
        self._dynamic: list[tuple[re.Pattern[str], str, dict[str, bool]]] = []

    def add(self, method: str, template: str, *, public: bool = False) -> None:
        """Register a template for a method."""
        method = method.upper()
        if ":" not in template:
            self._static.setdefault(template, {})[method] = public
            return
        for _pattern, existing, methods in self._dynamic:
            if existing == template:
                methods[method] = public
                return
        regex = "^" + _PARAM.sub(r"(?P<\1>[^/]+)", re.escape(template).replace(r"\:", ":")) + "$"
        self._dynamic.append((re.compile(regex), template, {method: public}))

    def templates(self) -> list[tuple[str, str]]:
        """Every (method, template) pair, for documentation."""
        pairs = [(m, t) for t, methods in self._static.items() for m in methods]
        pairs += [(m, t) for _, t, methods in self._dynamic for m in methods]
        return pairs

    def match(self, method: str, path: str) -> RouteMatch:
        """Find the template for a request.

        Raises:
            NotFound: no template matches the path.
            MethodNotAllowed: a template matches, but not for this method.
        """
        if len(path) > 1 and path.endswith("/"):
            path = path.rstrip("/")
        lookup = "GET" if method.upper() == "HEAD" else method.upper()
        path_known = False
        static = self._static.get(path)
        if static is not None:
            if lookup in static:
                return RouteMatch(path, static[lookup])
            path_known = True
        # Like Robyn's router: a static route for this method wins, then the first
        # dynamic template that matches for this method.
        for pattern, template, methods in self._dynamic:
            if pattern.match(path):
                if lookup in methods:
                    return RouteMatch(template, methods[lookup])
                path_known = True
        if path_known:
            raise MethodNotAllowed()
        raise NotFound()
