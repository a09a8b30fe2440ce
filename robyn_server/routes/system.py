"""Health and server information: `/`, `/ok`, `/health`, `/info`."""

from __future__ import annotations

import platform
import time
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from robyn import Request, Response

from robyn_server import __version__
from robyn_server.build_info import detect_build
from robyn_server.http import json_response
from robyn_server.routes.router import ApiRouter
from robyn_server.services.container import Services


def _package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _capabilities(routes: list[tuple[str, str]], services: Services) -> dict[str, Any]:
    """What this server serves, read from the route table (so it cannot claim a missing feature)."""
    served = {template for _method, template in routes}

    def has(*prefixes: str) -> bool:
        return any(t == p or t.startswith(p + "/") for t in served for p in prefixes)

    settings = services.settings
    return {
        "assistants": has("/assistants"),
        "threads": has("/threads"),
        "streaming": any(t.endswith("/stream") for t in served),
        "store": has("/store"),
        "crons": has("/runs/crons", "/threads/:thread_id/runs/crons"),
        "a2a": has("/a2a"),
        "mcp": has("/mcp"),
        "metrics": has("/metrics"),
        "openapi": "/openapi.json" in served,
        "auth": "supabase" if settings.auth_enabled else "disabled",
        "service_api_key": settings.api_key is not None,
        "storage": settings.storage,
    }


def register(api: ApiRouter, services: Services) -> None:
    """Register the public system routes."""
    ok_body = {"ok": True, "services": {}}
    # Once, at startup: the commit lookup runs git.
    build = detect_build()

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
        capabilities = _capabilities(api.table.templates(), services)
        return json_response(
            {
                "version": __version__,
                "langgraph_py_version": _package_version("langgraph"),
                "flags": {
                    "assistants": True,
                    "crons": capabilities["crons"],
                    "langsmith": False,
                    "langsmith_tracing_replicas": False,
                    "langsmith_tracing_session_on_runs": False,
                },
                "host": {
                    "kind": "self-hosted",
                    "project_id": None,
                    "host_revision_id": None,
                    "revision_id": None,
                    "tenant_id": None,
                },
                "build": build.to_wire(),
                "capabilities": capabilities,
                "graphs": services.graphs.ids(),
                "runtime": "robyn",
                "runtime_versions": {"python": platform.python_version(), "robyn": _package_version("robyn")},
            }
        )
