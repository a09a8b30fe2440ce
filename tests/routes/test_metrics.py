"""`/metrics` and `/metrics/json` on the real server.

The exposition is parsed with prometheus_client's own parser, and values are compared
before and after requests and runs (the session server is shared, so only deltas count).
Request metrics are labelled by Robyn route template (`/threads/:thread_id`), never by
raw path; requests no template matches are labelled `unmatched`.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: httpx.Client) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def requests(samples: Samples, method: str, route: str, status: int) -> float:
    return value(samples, "robyn_requests_total", method=method, route=route, status=str(status))


def eventually(client: httpx.Client, check: Callable[[Samples], bool], timeout: float = 10.0) -> Samples:
    """Scrape until `check` holds (run hooks and stream ends land just after the client sees the end)."""
    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(client)
        if check(samples) or time.monotonic() > deadline:
            return samples
        time.sleep(0.1)


def stream_run(http: httpx.Client, thread_id: str, text: str) -> str:
    body = {"assistant_id": "chat", "input": {"messages": [{"role": "user", "content": text}]}}
    with http.stream("POST", f"/threads/{thread_id}/runs/stream", json=body) as response:
        assert response.status_code == 200
        return response.read().decode()


def test_public_and_well_formed(anon_http: httpx.Client) -> None:
    samples = scrape(anon_http)
    names = {name for name, _ in samples}
    assert {"process_cpu_seconds_total", "process_resident_memory_bytes", "python_info"} <= names
    assert {"robyn_info", "robyn_uptime_seconds", "robyn_active_streams", "robyn_runs_pending"} <= names
    assert {
        "robyn_assistants",
        "robyn_threads",
        "robyn_runs_stored",
        "robyn_store_items",
        "robyn_crons",
    } <= names
    info = next(labels for name, labels in samples if name == "robyn_info")
    assert dict(info)["runtime"] == "robyn"


def test_requests_counted_by_template(http: httpx.Client, anon_http: httpx.Client) -> None:
    thread_id = http.post("/threads", json={}).json()["thread_id"]
    before = scrape(anon_http)
    for _ in range(2):
        assert http.get(f"/threads/{thread_id}").status_code == 200
    assert http.get(f"/threads/{uuid.uuid4()}").status_code == 404
    after = scrape(anon_http)
    route = "/threads/:thread_id"
    assert requests(after, "GET", route, 200) - requests(before, "GET", route, 200) == 2
    assert requests(after, "GET", route, 404) - requests(before, "GET", route, 404) == 1
    durations = "robyn_request_duration_seconds_count"
    assert (
        value(after, durations, method="GET", route=route)
        - value(before, durations, method="GET", route=route)
        == 3
    )
    assert not any(thread_id in str(labels) for _, labels in after)


def test_pipeline_answers_are_counted(anon_http: httpx.Client) -> None:
    before = scrape(anon_http)
    assert anon_http.get(f"/no/such/{uuid.uuid4()}").status_code == 404
    assert anon_http.delete("/ok").status_code == 405
    assert anon_http.post("/threads/search", json={}).status_code == 401
    after = scrape(anon_http)
    assert requests(after, "GET", "unmatched", 404) - requests(before, "GET", "unmatched", 404) == 1
    assert requests(after, "DELETE", "unmatched", 405) - requests(before, "DELETE", "unmatched", 405) == 1
    delta = requests(after, "POST", "/threads/search", 401) - requests(before, "POST", "/threads/search", 401)
    assert delta == 1


def test_streamed_runs_move_stream_and_run_metrics(http: httpx.Client, anon_http: httpx.Client) -> None:
    thread_id = http.post("/threads", json={}).json()["thread_id"]
    route = "/threads/:thread_id/runs/stream"
    before = scrape(anon_http)
    assert "event: metadata" in stream_run(http, thread_id, "hello")
    assert "event: error" in stream_run(http, thread_id, "fail")

    def done(s: Samples) -> bool:
        return value(s, "robyn_runs_total", status="error") > value(
            before, "robyn_runs_total", status="error"
        ) and (
            value(s, "robyn_stream_duration_seconds_count", route=route)
            - value(before, "robyn_stream_duration_seconds_count", route=route)
            == 2
        )

    after = eventually(anon_http, done)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("robyn_requests_total", method="POST", route=route, status="200") == 2
    assert delta("robyn_stream_duration_seconds_count", route=route) == 2
    assert delta("robyn_runs_total", status="success") >= 1
    assert delta("robyn_runs_total", status="error") >= 1
    assert delta("robyn_run_duration_seconds_count", status="success") >= 1
    assert delta("robyn_runs_started_total") >= 2
    assert delta("robyn_agent_invocations_total", graph_id="chat") >= 2
    assert delta("robyn_agent_errors_total", graph_id="chat") >= 1
    assert delta("robyn_runs_stored") == 2


def test_active_streams_gauge_follows_open_streams(http: httpx.Client, anon_http: httpx.Client) -> None:
    thread_id = http.post("/threads", json={}).json()["thread_id"]
    baseline = value(scrape(anon_http), "robyn_active_streams")
    opened, close = threading.Event(), threading.Event()

    def follow() -> None:
        with http.stream("GET", f"/threads/{thread_id}/stream") as response:
            assert response.status_code == 200
            opened.set()
            close.wait(10)

    worker = threading.Thread(target=follow)
    worker.start()
    try:
        assert opened.wait(10)
        during = eventually(anon_http, lambda s: value(s, "robyn_active_streams") >= baseline + 1)
        assert value(during, "robyn_active_streams") >= baseline + 1
    finally:
        close.set()
        worker.join(10)
    # The server notices the hang-up at its next heartbeat write.
    after = eventually(anon_http, lambda s: value(s, "robyn_active_streams") <= baseline)
    assert value(after, "robyn_active_streams") <= baseline


def test_storage_gauges_match_created_objects(http: httpx.Client, anon_http: httpx.Client, alice) -> None:
    before = scrape(anon_http)
    for _ in range(2):
        assert http.post("/assistants", json={"graph_id": "chat"}).status_code == 200
    assert http.post("/threads", json={}).status_code == 200
    # A user's store namespaces start with their user id.
    item = {"namespace": [alice.user_id, "metrics", uuid.uuid4().hex], "key": "k", "value": {"v": 1}}
    assert http.put("/store/items", json=item).status_code == 204
    after = scrape(anon_http)
    assert value(after, "robyn_assistants") - value(before, "robyn_assistants") == 2
    assert value(after, "robyn_threads") - value(before, "robyn_threads") == 1
    assert value(after, "robyn_store_items") - value(before, "robyn_store_items") == 1


def test_json_snapshot(http: httpx.Client, anon_http: httpx.Client) -> None:
    snapshot = anon_http.get("/metrics/json").json()
    assert {"uptime_seconds", "python_version", "robyn_version", "workers", "processes"} <= set(
        snapshot["runtime"]
    )
    assert set(snapshot["storage"]) == {"assistants", "threads", "runs", "store_items", "crons"}
    assert {"total_runs", "active_runs", "active_streams", "runs_by_status"} <= set(snapshot["agent"])
    assert snapshot["runtime"]["workers"] == 4
    # The reference's spelling answers the same document.
    compat = anon_http.get("/metrics", params={"format": "json"})
    assert compat.headers["content-type"] == "application/json"
    assert set(compat.json()) == set(snapshot)
    assert snapshot["storage"]["assistants"] >= 1
