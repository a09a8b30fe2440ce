"""The server's error hierarchy.

Engine, storage and auth raise only these; `app.py` maps them once to the reference
error body `{"detail": ...}`. Anything else that escapes a handler is logged and
answered with a generic 500.
"""

from __future__ import annotations

from typing import Any


class ServerError(Exception):
    """An error with an HTTP status and a client-facing detail.

    Args:
        detail: the text (or JSON value) sent as `{"detail": detail}`.
        headers: extra response headers (e.g. `WWW-Authenticate`).
    """

    status_code: int = 500

    def __init__(self, detail: Any = None, *, headers: dict[str, str] | None = None) -> None:
        self.detail = detail if detail is not None else self.default_detail()
        self.headers = headers or {}
        super().__init__(str(self.detail))

    @classmethod
    def default_detail(cls) -> str:
        return "Internal Server Error"


class BadRequest(ServerError):
    """400: a well-formed request the server cannot act on (the reference's ValueError)."""

    status_code = 400

    @classmethod
    def default_detail(cls) -> str:
        return "Bad Request"


class Unauthorized(ServerError):
    """401: missing or invalid credentials. Always carries `WWW-Authenticate: Bearer`."""

    status_code = 401

    def __init__(self, detail: Any = None, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer", **(headers or {})})

    @classmethod
    def default_detail(cls) -> str:
        return "Invalid authentication credentials"


class Forbidden(ServerError):
    """403: authenticated, but not allowed to touch this resource."""

    status_code = 403

    @classmethod
    def default_detail(cls) -> str:
        return "Forbidden"


class NotFound(ServerError):
    """404: unknown id, or an id owned by someone else (never leak existence)."""

    status_code = 404

    @classmethod
    def default_detail(cls) -> str:
        return "Not Found"


class MethodNotAllowed(ServerError):
    """405: the path exists but not for this method."""

    status_code = 405

    @classmethod
    def default_detail(cls) -> str:
        return "Method Not Allowed"


class Conflict(ServerError):
    """409: the id exists already, or a multitask `reject`."""

    status_code = 409

    @classmethod
    def default_detail(cls) -> str:
        return "Conflict"


class InvalidInput(ServerError):
    """422: malformed JSON, schema violations, bad UUIDs."""

    status_code = 422

    @classmethod
    def default_detail(cls) -> str:
        return "Unprocessable Entity"
