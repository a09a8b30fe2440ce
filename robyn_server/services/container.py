"""The objects `create_app` builds once and hands to every route module."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from robyn_server.config import Settings
from robyn_server.engine.broker import RunBroker
from robyn_server.engine.graphs import GraphRegistry
from robyn_server.lifecycle import InFlight, StreamTracker
from robyn_server.metrics import ServerMetrics
from robyn_server.services.assistants import AssistantService
from robyn_server.services.runs import RunService
from robyn_server.services.state import StateService
from robyn_server.services.threads import ThreadService
from robyn_server.storage.base import Storage


@dataclass
class Services:
    """Dependencies shared by the routes (no module-level singletons)."""

    settings: Settings
    storage: Storage
    graphs: GraphRegistry
    assistants: AssistantService
    threads: ThreadService
    runs: RunService
    state: StateService
    broker: RunBroker
    in_flight: InFlight
    streams: StreamTracker
    started_at: float = field(default_factory=time.time)
    # Route modules register lifecycle work here (e.g. the cron scheduler); the app runs
    # startup hooks after storage is ready and shutdown hooks before storage closes.
    startup_hooks: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    shutdown_hooks: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    metrics: ServerMetrics | None = None
