"""CORS: which origins may call us from a browser and what they may send and read.

The OAP web UI calls the server directly from the browser with `Authorization`,
`x-supabase-access-token` and friends, so preflights must allow them.
"""

from __future__ import annotations

from collections.abc import Sequence

ALLOW_METHODS = "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"
ALLOW_HEADERS = (
    "authorization, content-type, x-supabase-access-token, x-api-key, x-auth-scheme, last-event-id, "
    "cache-control, accept, x-request-id"
)
EXPOSE_HEADERS = "x-pagination-total, x-pagination-next, content-location, location"


class CorsPolicy:
    """Origin allow-list (`*` allows any origin) and the headers to send."""

    def __init__(self, origins: Sequence[str]) -> None:
        self._any = "*" in origins
        self._origins = frozenset(origins)

    def allows(self, origin: str | None) -> bool:
        """Whether a browser on `origin` may read our responses."""
        return origin is not None and (self._any or origin in self._origins)

    def response_headers(self, origin: str | None) -> dict[str, str]:
        """Headers for an actual (non-preflight) response."""
        headers = {"Vary": "Origin"}
        if origin is None:
            if self._any:
                headers["Access-Control-Allow-Origin"] = "*"
            return headers
        if not self.allows(origin):
            return headers
        headers["Access-Control-Allow-Origin"] = "*" if self._any else origin
        headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
        return headers

    def preflight_headers(self, origin: str | None, requested_headers: str | None) -> dict[str, str] | None:
        """Headers answering an OPTIONS preflight, or None when the origin is not allowed."""
        if origin is not None and not self.allows(origin):
            return None
        headers = self.response_headers(origin)
        headers["Access-Control-Allow-Methods"] = ALLOW_METHODS
        # Echo what the browser asks for (as the reference does), on top of what OAP needs.
        headers["Access-Control-Allow-Headers"] = (
            f"{ALLOW_HEADERS}, {requested_headers}" if requested_headers else ALLOW_HEADERS
        )
        headers["Access-Control-Max-Age"] = "600"
        headers["Access-Control-Allow-Private-Network"] = "true"
        return headers
