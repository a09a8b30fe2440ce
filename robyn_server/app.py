"""`create_app(settings)`: builds the whole server. Nothing happens at import.

Registration order matters in Robyn: the exception handler first (it is bound to each
route as the route is registered), then the global middleware, then the routes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from robyn import Request, Response, Robyn
from robyn.robyn import Headers

from robyn_server.auth import Authenticator
from robyn_server.config import Settings
from robyn_server.cors import CorsPolicy
from robyn_server.engine.graphs import GraphRegistry
from robyn_server.lifecycle import InFlight
from robyn_server.middleware import RequestPipeline
from robyn_server.routes import assistants, system, threads
from robyn_server.routes.router import ApiRouter
from robyn_server.routing import RouteTable
from robyn_server.services.assistants import AssistantService
from robyn_server.services.container import Services
from robyn_server.services.threads import ThreadService
from robyn_server.storage.memory import InMemoryStorage

logger = logging.getLogger("robyn_server")

DEFAULT_GRAPHS = Path(__file__).parent / "agent" / "langgraph.json"


@dataclass
class ServerApp:
    """The built server: the Robyn app plus the services behind it."""

    robyn: Robyn
    services: Services
    authenticator: Authenticator
    in_flight: InFlight
    router: ApiRouter

    def run(self) -> None:
        """Serve until interrupted (SIGTERM is converted by `__main__`)."""
        settings = self.services.settings
        self.robyn.start(host=settings.host, port=settings.port, _check_port=False)


def load_graphs(settings: Settings) -> GraphRegistry:
    """The registry from `--config`/`LANGGRAPH_CONFIG`, or the bundled OAP agent."""
    return GraphRegistry.from_config_file(settings.graphs_config or DEFAULT_GRAPHS)


def create_app(settings: Settings, *, graphs: GraphRegistry | None = None) -> ServerApp:
    """Build storage, services, middleware and routes for these settings."""
    from robyn.argument_parser import Config

    robyn_config = Config()
    robyn_config.workers = settings.workers
    robyn_config.processes = settings.processes
    robyn_config.disable_openapi = True
    robyn_config.log_level = "WARN" if settings.log_level in {"WARNING", "ERROR", "CRITICAL"} else "INFO"
    app = Robyn(__file__, config=robyn_config)
    logging.getLogger("robyn.logger").setLevel(logging.WARNING)

    @app.exception
    def on_unhandled(error: Exception) -> Response:
        logger.exception("unhandled error", exc_info=error)
        return Response(500, {"Content-Type": "application/json"}, b'{"detail":"Internal Server Error"}')

    storage = InMemoryStorage()
    registry = graphs or load_graphs(settings)
    services = Services(
        settings=settings,
        storage=storage,
        graphs=registry,
        assistants=AssistantService(storage, registry),
        threads=ThreadService(storage),
    )
    authenticator = Authenticator(
        supabase_url=settings.supabase_url,
        supabase_key=settings.supabase_key,
        jwt_secret=settings.supabase_jwt_secret,
        api_key=settings.api_key,
    )
    table = RouteTable()
    pipeline = RequestPipeline(
        routes=table,
        authenticator=authenticator,
        cors=CorsPolicy(settings.cors_origins),
        max_body_bytes=settings.max_body_bytes,
    )

    # Robyn recognises async middleware by `iscoroutinefunction`, which a callable object fails.
    async def before_request(request: Request) -> Request | Response:
        return await pipeline(request)

    app.before_request()(before_request)

    router = ApiRouter(app, table)
    for module in (system, assistants, threads):
        module.register(router, services)

    in_flight = InFlight()
    server = ServerApp(app, services, authenticator, in_flight, router)

    @app.startup_handler
    async def on_startup() -> None:
        await storage.setup()
        await services.assistants.register_system_assistants()
        if not settings.auth_enabled:
            logger.warning(
                "AUTHENTICATION IS OFF (no SUPABASE_URL / SUPABASE_JWT_SECRET): every request acts as one "
                "local dev user. Never expose this server."
            )
        logger.info(
            "robyn-server ready on http://%s:%s graphs=%s", settings.host, settings.port, registry.ids()
        )

    @app.shutdown_handler
    async def on_shutdown() -> None:
        drained = await in_flight.drained(settings.drain_seconds)
        if not drained:
            logger.warning(
                "shutdown: %d requests still in flight after %.1fs", in_flight.count, settings.drain_seconds
            )
        await authenticator.aclose()
        await storage.aclose()
        logger.info("robyn-server stopped")

    # Keeps pyo3 taking the GIL so abandoned stream generators get GeneratorExit promptly.
    _ = Headers
    return server
