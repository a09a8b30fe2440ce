"""`ServerMetrics` without a server: names, labels, hooks and the JSON snapshot."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from robyn_server.engine.runs import RunOutcome
from robyn_server.metrics import UNMATCHED, ServerMetrics, TimedBody, count_store_items, run_graph_id
from robyn_server.storage.memory import InMemoryStorage


def samples(metrics: ServerMetrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of the exposition, parsed by prometheus_client's own parser."""
    body, content_type = metrics.exposition()
    assert content_type.startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def value(found: dict, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


def run_record(graph_id: str, *, stateless: bool = False) -> dict[str, Any]:
    """The parts of a run record the metrics read."""
    return {
        "run_id": "r",
        "metadata": {} if stateless else {"graph_id": graph_id},
        "kwargs": {"config": {"configurable": {"graph_id": graph_id}}},
    }


@dataclass
class FakeQueue:
    active_count: int = 3
    running_count: int = 1
    started_total: int = 7


def test_own_registry_with_process_metrics() -> None:
    metrics = ServerMetrics()
    assert metrics.registry is not REGISTRY
    names = {name for name, _ in samples(metrics)}
    assert {"process_cpu_seconds_total", "python_info", "python_gc_objects_collected_total"} <= names
    assert {"robyn_info", "robyn_uptime_seconds", "robyn_active_streams"} <= names
    # Two apps in one process do not collide on metric names.
    ServerMetrics()


def test_requests_are_labelled_by_template() -> None:
    metrics = ServerMetrics()
    metrics.observe_request("GET", "/threads/:thread_id", 200, 0.01)
    metrics.observe_request("GET", "/threads/:thread_id", 200, 0.02)
    metrics.observe_request("GET", UNMATCHED, 404, 0.001)
    found = samples(metrics)
    assert value(found, "robyn_requests_total", method="GET", route="/threads/:thread_id", status="200") == 2
    assert value(found, "robyn_requests_total", method="GET", route="unmatched", status="404") == 1
    count = value(found, "robyn_request_duration_seconds_count", method="GET", route="/threads/:thread_id")
    assert count == 2


def test_run_hook_counts_status_duration_and_graph() -> None:
    metrics = ServerMetrics()
    metrics.observe_run(run_record("agent"), RunOutcome("success", b"{}"), 0.3)  # type: ignore[arg-type]
    metrics.observe_run(run_record("agent", stateless=True), RunOutcome("error", b"{}"), 0.1)  # type: ignore[arg-type]
    found = samples(metrics)
    assert value(found, "robyn_runs_total", status="success") == 1
    assert value(found, "robyn_runs_total", status="error") == 1
    assert value(found, "robyn_run_duration_seconds_count", status="success") == 1
    assert value(found, "robyn_agent_invocations_total", graph_id="agent") == 2
    assert value(found, "robyn_agent_errors_total", graph_id="agent") == 1


def test_run_graph_id_falls_back_to_metadata_then_unknown() -> None:
    assert run_graph_id({"metadata": {"graph_id": "g"}, "kwargs": {}}) == "g"  # type: ignore[typeddict-item]
    assert run_graph_id({"metadata": {}, "kwargs": {}}) == "unknown"  # type: ignore[typeddict-item]


def test_queue_is_read_at_scrape_time() -> None:
    metrics = ServerMetrics()
    assert value(samples(metrics), "robyn_runs_pending") == 0
    queue = FakeQueue()
    metrics.watch_runs(queue)
    found = samples(metrics)
    assert value(found, "robyn_runs_pending") == 2
    assert value(found, "robyn_runs_running") == 1
    assert value(found, "robyn_runs_started_total") == 7
    queue.running_count = 3
    assert value(samples(metrics), "robyn_runs_pending") == 0


def test_active_streams_listener() -> None:
    metrics = ServerMetrics()
    metrics.set_active_streams(2)
    assert value(samples(metrics), "robyn_active_streams") == 2
    assert metrics.snapshot({})["agent"]["active_streams"] == 2


async def test_storage_gauges_and_snapshot() -> None:
    storage = InMemoryStorage()
    await storage.store.aput(("a",), "k1", {"v": 1})
    await storage.store.aput(("a", "b"), "k2", {"v": 2})
    metrics = ServerMetrics(workers=3)
    metrics.watch_runs(FakeQueue())
    counts = await metrics.refresh_storage(storage)
    assert counts == {"assistants": 0, "threads": 0, "runs": 0, "store_items": 2, "crons": 0}
    found = samples(metrics)
    assert value(found, "robyn_store_items") == 2
    assert value(found, "robyn_runs_stored") == 0
    assert value(found, "robyn_crons") == 0
    snapshot = metrics.snapshot(counts)
    assert set(snapshot) >= {"runtime", "storage", "agent"}
    assert snapshot["runtime"]["workers"] == 3 and snapshot["runtime"]["python_version"]
    assert snapshot["storage"]["store_items"] == 2
    assert snapshot["agent"]["total_runs"] == 7 and snapshot["agent"]["active_runs"] == 3
    assert snapshot["queue"] == {"n_pending": 2, "n_running": 1}


class PagedStore:
    """A store without `_data`, searched page by page."""

    def __init__(self, total: int) -> None:
        self.total = total

    async def asearch(self, prefix: tuple[str, ...], *, limit: int, offset: int) -> list[int]:
        assert prefix == ()
        return list(range(offset, min(offset + limit, self.total)))


@pytest.mark.parametrize("total", [0, 999, 1000, 2500])
async def test_count_store_items_pages_other_stores(total: int) -> None:
    assert await count_store_items(PagedStore(total)) == total


def test_timed_body_reports_once_on_end_or_drop() -> None:
    ended: list[str] = []
    body = TimedBody(iter([b"a", b"b"]), lambda: ended.append("end"))
    assert list(body) == [b"a", b"b"]
    del body
    assert ended == ["end"]

    dropped = TimedBody(iter([b"a", b"b"]), lambda: ended.append("dropped"))
    next(dropped)
    del dropped
    assert ended == ["end", "dropped"]
