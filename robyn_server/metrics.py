"""Prometheus metrics for one server: one registry per app, no framework imports.

Who feeds what:
- `ApiRouter` records every routed response (streams when their headers go out, with
  their whole lifetime in `robyn_stream_duration_seconds`); `RequestPipeline` records the
  responses it answers itself (401/404/405/413/preflight).
- `StreamTracker.listeners` push the open-stream count; `RunManager.on_run_finished`
  feeds the run counters; queue depth is read from the manager at scrape time.
- Storage gauges are refreshed by the scrape handler (`Storage.stats()` is async, and
  a Prometheus collector cannot await).

With `--processes > 1` each process has its own registry and a scrape sees one of them.
"""

from __future__ import annotations

import contextlib
import platform
import time
from collections.abc import Callable, Iterable, Iterator
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any, Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from robyn_server import __version__

if TYPE_CHECKING:
    from robyn_server.engine.runs import RunOutcome
    from robyn_server.storage.base import Run, Storage

# Requests the route table could not match (404/405, CORS preflight) share one label value,
# so scanners probing random paths cannot blow up the series count.
UNMATCHED = "unmatched"

REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
STREAM_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
RUN_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)

STORAGE_KINDS = ("assistants", "threads", "runs", "store_items", "crons")


class RunQueue(Protocol):
    """What the metrics read from the run manager at scrape time."""

    @property
    def active_count(self) -> int: ...

    @property
    def running_count(self) -> int: ...

    started_total: int


def package_version(name: str) -> str | None:
    """An installed distribution's version, without importing it."""
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def run_graph_id(run: Run) -> str:
    """The graph a run executed (kept in its config; stateless runs lack `metadata.graph_id`)."""
    configurable = (run.get("kwargs") or {}).get("config", {}).get("configurable", {})
    return str(configurable.get("graph_id") or run.get("metadata", {}).get("graph_id") or "unknown")


async def count_store_items(store: Any) -> int:
    """Items in a LangGraph store.

    `InMemoryStore` keeps `_data: {namespace: {key: Item}}`, which is counted directly;
    any other store is paged through with an empty-prefix search.
    """
    data = getattr(store, "_data", None)
    if isinstance(data, dict):
        return sum(len(items) for items in data.values())
    total, page = 0, 1000
    while True:
        found = await store.asearch((), limit=page, offset=total)
        total += len(found)
        if len(found) < page:
            return total


class _RunQueueCollector(Collector):
    """Queue depth and started runs, read from the run manager when scraped."""

    def __init__(self) -> None:
        self.queue: RunQueue | None = None

    def collect(self) -> Iterable[Metric]:
        active = self.queue.active_count if self.queue else 0
        running = self.queue.running_count if self.queue else 0
        yield GaugeMetricFamily("robyn_runs_pending", "Runs waiting to start", value=active - running)
        yield GaugeMetricFamily("robyn_runs_running", "Runs executing now", value=running)
        yield CounterMetricFamily(
            "robyn_runs_started",
            "Runs that began executing",
            value=self.queue.started_total if self.queue else 0,
        )


class TimedBody:
    """Iterator proxy over a streamed body that reports, once, when the body ended.

    The end is exhaustion, an error, or the proxy being dropped (Robyn drops a body whose
    client went away; that happens at its next GIL crossing, so abandoned streams read
    up to ~0.5 s long).
    """

    def __init__(self, inner: Iterator[Any], on_end: Callable[[], None]) -> None:
        self._inner = inner
        self._on_end: Callable[[], None] | None = on_end

    def __iter__(self) -> TimedBody:
        return self

    def __next__(self) -> Any:
        try:
            return next(self._inner)
        except BaseException:
            self._end()
            raise

    def _end(self) -> None:
        on_end, self._on_end = self._on_end, None
        if on_end is not None:
            on_end()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # e.g. at interpreter exit
            self._end()


class ServerMetrics:
    """The server's metrics and their registry (never the process-global default one)."""

    def __init__(self, *, workers: int = 1, processes: int = 1) -> None:
        self.registry = CollectorRegistry()
        self.started_at = time.time()
        self.workers = workers
        self.processes = processes
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        r = self.registry
        Info("robyn", "Server build and runtime", registry=r).info(
            {
                "version": __version__,
                "robyn_version": package_version("robyn") or "unknown",
                "python_version": platform.python_version(),
                "runtime": "robyn",
            }
        )
        Gauge("robyn_uptime_seconds", "Seconds since the server started", registry=r).set_function(
            lambda: time.time() - self.started_at
        )
        self.requests = Counter(
            "robyn_requests", "HTTP requests by route template", ["method", "route", "status"], registry=r
        )
        self.request_duration = Histogram(
            "robyn_request_duration_seconds",
            "Time until the response (for streams: until the headers)",
            ["method", "route"],
            buckets=REQUEST_BUCKETS,
            registry=r,
        )
        self.active_streams = Gauge("robyn_active_streams", "Open SSE / long-poll streams", registry=r)
        self._open_streams = 0
        self.stream_duration = Histogram(
            "robyn_stream_duration_seconds",
            "Lifetime of streamed responses",
            ["route"],
            buckets=STREAM_BUCKETS,
            registry=r,
        )
        self.runs_total = Counter("robyn_runs", "Finished runs by final status", ["status"], registry=r)
        self.run_duration = Histogram(
            "robyn_run_duration_seconds", "Run execution time", ["status"], buckets=RUN_BUCKETS, registry=r
        )
        self.agent_invocations = Counter(
            "robyn_agent_invocations", "Finished runs by graph", ["graph_id"], registry=r
        )
        self.agent_errors = Counter(
            "robyn_agent_errors", "Runs that ended in error, by graph", ["graph_id"], registry=r
        )
        self._queue = _RunQueueCollector()
        r.register(self._queue)
        # `robyn_runs` is taken by the counter family above, hence `robyn_runs_stored`.
        names = {kind: f"robyn_{kind}" for kind in STORAGE_KINDS} | {"runs": "robyn_runs_stored"}
        self.storage = {
            kind: Gauge(names[kind], f"Stored {kind.replace('_', ' ')}", registry=r) for kind in STORAGE_KINDS
        }

    # ------------------------------------------------------------------ feeding

    def observe_request(self, method: str, route: str, status: int, duration: float) -> None:
        """Count one response; `route` is a template or `UNMATCHED`, never a raw path."""
        self.requests.labels(method, route, str(status)).inc()
        self.request_duration.labels(method, route).observe(max(duration, 0.0))

    def observe_stream(self, route: str, duration: float) -> None:
        """A streamed body ended after `duration` seconds (from the request's start)."""
        self.stream_duration.labels(route).observe(max(duration, 0.0))

    def set_active_streams(self, count: int) -> None:
        """`StreamTracker` listener: the number of open streams."""
        self._open_streams = count
        self.active_streams.set(count)

    def observe_run(self, run: Run, outcome: RunOutcome, duration: float) -> None:
        """`RunManager.on_run_finished` hook."""
        graph_id = run_graph_id(run)
        self.runs_total.labels(outcome.status).inc()
        self.run_duration.labels(outcome.status).observe(max(duration, 0.0))
        self.agent_invocations.labels(graph_id).inc()
        if outcome.status == "error":
            self.agent_errors.labels(graph_id).inc()

    def watch_runs(self, queue: RunQueue) -> None:
        """Read queue depth and started runs from this manager when scraped."""
        self._queue.queue = queue

    async def refresh_storage(self, storage: Storage) -> dict[str, int]:
        """Set the storage gauges from the storage's counts; returns them."""
        counts = {kind: 0 for kind in STORAGE_KINDS}
        counts.update({k: int(v) for k, v in (await storage.stats()).items() if k in counts})
        counts["store_items"] = await count_store_items(storage.store)
        for kind, value in counts.items():
            self.storage[kind].set(value)
        return counts

    # ------------------------------------------------------------------ reading

    def exposition(self) -> tuple[bytes, str]:
        """The Prometheus text body and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def snapshot(self, storage_counts: dict[str, int]) -> dict[str, Any]:
        """The `/metrics/json` document (the seed's sections plus the reference's `queue`)."""
        queue = self._queue.queue
        active = queue.active_count if queue else 0
        running = queue.running_count if queue else 0
        by_status = _by_label(self.runs_total, "status")
        requests = _by_label(self.requests, "status")
        return {
            "runtime": {
                "uptime_seconds": round(time.time() - self.started_at, 3),
                "python_version": platform.python_version(),
                "robyn_version": package_version("robyn"),
                "server_version": __version__,
                "workers": self.workers,
                "processes": self.processes,
            },
            "storage": dict(storage_counts),
            "agent": {
                "total_runs": queue.started_total if queue else 0,
                "finished_runs": sum(by_status.values()),
                "active_runs": active,
                "pending_runs": active - running,
                "running_runs": running,
                "active_streams": self._open_streams,
                "runs_by_status": by_status,
                "invocations_by_graph": _by_label(self.agent_invocations, "graph_id"),
                "errors_by_graph": _by_label(self.agent_errors, "graph_id"),
            },
            "requests": {"total": sum(requests.values()), "by_status": requests},
            "queue": {"n_pending": active - running, "n_running": running},
        }


def _by_label(counter: Counter, label: str) -> dict[str, int]:
    """Sum a counter's `_total` samples per value of one label."""
    totals: dict[str, int] = {}
    for family in counter.collect():
        for sample in family.samples:
            if sample.name.endswith("_total"):
                key = sample.labels[label]
                totals[key] = totals.get(key, 0) + int(sample.value)
    return totals
