"""`create_app(settings)`: builds the whole server. Nothing happens at import.

Registration order matters in Robyn: the exception handler first (it is bound to each
route as the route is registered), then the global middleware, then the routes.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from robyn import Request, Response, Robyn
from robyn.robyn import Headers

from robyn_server.auth import Authenticator
from robyn_server.config import Settings
from robyn_server.cors import CorsPolicy
from robyn_server.engine.broker import RunBroker
from robyn_server.engine.graphs import GraphRegistry
from robyn_server.engine.runs import RunManager
from robyn_server.lifecycle import BackgroundTasks, InFlight, StreamTracker
from robyn_server.metrics import ServerMetrics
from robyn_server.middleware import RequestPipeline
from robyn_server.routes import (
    a2a,
    assistants,
    crons,
    docs,
    mcp_server,
    metrics,
    runs,
    state,
    store,
    system,
    threads,
)
from robyn_server.routes.router import ApiRouter
from robyn_server.routing import RouteTable
from robyn_server.services.assistants import AssistantService
from robyn_server.services.container import Services
from robyn_server.services.runs import RunService
from robyn_server.services.state import StateService
from robyn_server.services.threads import ThreadService
from robyn_server.storage.memory import InMemoryStorage
from robyn_server.webhooks import WebhookSender

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
    broker = RunBroker(retention_seconds=settings.stream_retention_seconds)
    webhooks = WebhookSender()
    manager = RunManager(
        storage=storage,
        graphs=registry,
        broker=broker,
        max_concurrent_runs=settings.max_concurrent_runs,
        retention_seconds=settings.stream_retention_seconds,
        webhook=webhooks.send,
    )
    in_flight = InFlight()
    assistant_service = AssistantService(storage, registry)
    services = Services(
        settings=settings,
        storage=storage,
        graphs=registry,
        assistants=assistant_service,
        threads=ThreadService(storage, registry),
        runs=RunService(storage, assistant_service, manager),
        state=StateService(storage, registry, broker),
        broker=broker,
        in_flight=in_flight,
        streams=StreamTracker(in_flight),
        metrics=ServerMetrics(workers=settings.workers, processes=settings.processes),
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
        metrics=services.metrics,
    )

    # Robyn recognises async middleware by `iscoroutinefunction`, which a callable object fails.
    async def before_request(request: Request) -> Request | Response:
        return await pipeline(request)

    app.before_request()(before_request)

    router = ApiRouter(app, table, services.metrics)
    for module in (system, assistants, threads, state, runs, store, crons, metrics, a2a, mcp_server, docs):
        module.register(router, services)

    server = ServerApp(app, services, authenticator, in_flight, router)
    background = BackgroundTasks()

    @app.startup_handler
    async def on_startup() -> None:
        await storage.setup()
        await services.assistants.register_system_assistants()
        for hook in services.startup_hooks:
            await hook()
        background.start(_robyn_tick(), name="robyn-tick")
        background.start(_thread_ttl_sweeper(services), name="thread-ttl")
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
        for hook in services.shutdown_hooks:
            await hook()
        await manager.shutdown(settings.drain_seconds)
        broker.close()
        drained = await in_flight.drained(settings.drain_seconds)
        if not drained:
            logger.warning(
                "shutdown: %d requests still in flight after %.1fs", in_flight.count, settings.drain_seconds
            )
        await background.stop()
        await webhooks.aclose()
        await authenticator.aclose()
        await storage.aclose()
        logger.info("robyn-server stopped")

    return server


async def _robyn_tick() -> None:
    """Call into the Rust extension twice a second.

    pyo3 finalizes an abandoned stream generator (GeneratorExit, then our cleanup such as
    `on_disconnect: cancel`) only when it next takes the GIL from Rust; on an idle server
    that may be seconds away. This tick makes it happen within ~0.5 s.
    """
    while True:
        await asyncio.sleep(0.5)
        Headers({})


async def _thread_ttl_sweeper(services: Services) -> None:
    """Delete threads whose TTL has passed, once a minute."""
    while True:
        await asyncio.sleep(60)
        try:
            await services.threads.expire()
        except Exception:
            logger.exception("thread TTL sweep failed")
