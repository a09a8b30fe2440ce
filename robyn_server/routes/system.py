"""Health and server information: `/`, `/ok`, `/health`, `/info`."""

from __future__ import annotations

import platform
import time
from importlib.metadata import PackageNotFoundError, version

from robyn import Request, Response

from robyn_server import __version__
from robyn_server.http import json_response
from robyn_server.routes.router import ApiRouter
from robyn_server.services.container import Services


def _package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def register(api: ApiRouter, services: Services) -> None:
    """Register the public system routes."""
    ok_body = {"ok": True, "services": {}}

    @api.route("GET", "/", public=True, tag="system")
    async def root(request: Request) -> Response:
        """Health check (reference shape)."""
        return json_response(ok_body)

    @api.route("GET", "/ok", public=True, tag="system")
    async def ok(request: Request) -> Response:
        """Health check (reference shape)."""
        return json_response(ok_body)

    @api.route("GET", "/health", public=True, tag="system")
    async def health(request: Request) -> Response:
        """Health check with uptime."""
        return json_response(
            {
                "status": "ok",
                "runtime": "robyn",
                "version": __version__,
                "uptime_seconds": round(time.time() - services.started_at, 3),
            }
        )

    @api.route("GET", "/info", public=True, tag="system")
    async def info(request: Request) -> Response:
        """Server information: the reference's fields plus build, capabilities and graphs."""
        settings = services.settings
        return json_response(
            {
                "version": __version__,
                "langgraph_py_version": _package_version("langgraph"),
                "flags": {"assistants": True, "crons": False, "langsmith": False},
                "host": {
                    "kind": "self-hosted",
                    "project_id": None,
                    "host_revision_id": None,
                    "revision_id": None,
                    "tenant_id": None,
                },
                "runtime": "robyn",
                "build": {"python": platform.python_version(), "robyn": _package_version("robyn")},
                "capabilities": {
                    "auth": "supabase" if settings.auth_enabled else "disabled (dev mode)",
                    "storage": settings.storage,
                    "assistants": True,
                    "threads": True,
                },
                "graphs": services.graphs.ids(),
            }
        )
