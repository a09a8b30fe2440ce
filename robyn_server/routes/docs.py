"""`/openapi.json` and `/docs` (public).

Robyn's own pair is disabled: its document misses most of our routes (they are added
with `include_in_schema=False` through `ApiRouter`) and its page loads Swagger UI from a
CDN. Ours is built from `ApiRouter.docs` on first request, when every route module has
registered, and the page is self-contained (works without internet access).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from robyn import Request, Response

from robyn_server import __version__
from robyn_server.http import raw_json_response, text_response
from robyn_server.openapi import build_openapi
from robyn_server.routes.router import ApiRouter
from robyn_server.services.container import Services
from robyn_server.sse import dumps

DOCS_PAGE = Path(__file__).resolve().parent.parent / "static" / "docs.html"


def register(api: ApiRouter, services: Services) -> None:
    """Register the documentation routes."""

    @cache
    def document() -> bytes:
        return dumps(build_openapi(api.docs, title="robyn-server", version=__version__))

    @cache
    def page() -> str:
        return DOCS_PAGE.read_text(encoding="utf-8")

    @api.route("GET", "/openapi.json", public=True, tag="system")
    async def openapi(request: Request) -> Response:
        """The OpenAPI 3.1 document of every route this server serves."""
        return raw_json_response(document())

    @api.route("GET", "/docs", public=True, tag="system")
    async def docs(request: Request) -> Response:
        """API reference page (self-contained; renders `/openapi.json`)."""
        return text_response(page(), content_type="text/html; charset=utf-8")
