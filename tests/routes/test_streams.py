"""Run streams over HTTP against the reference transcripts: framing, modes, errors, joins,
resumability, disconnects, heartbeats, thread streams, and the official SDK on top.

Reference: `langgraph-api.md` §6-7 and `transcripts/*.sse`, `07_resumable.txt`,
`08_thread_stream.txt`, `08b_stream_errors.txt`, `09_disconnect.txt`, `14_sdk.txt`. Payloads are
compared in full after masking volatile ids and dropping the server-specific keys of the run's
own metadata (`sse_helpers.SERVER_KEYS`); event names, order, keys and key order must match.
The test server sends heartbeats every 0.5 s (the reference: 5 s).
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import httpx
import pytest

from tests.routes.sse_helpers import (
    HEARTBEAT,
    LiveStream,
    comparable,
    events,
    parse_frames,
    poll,
    stream_run,
    transcript,
)

WEATHER = {"messages": [{"role": "user", "content": "weather in Rome"}]}
THREAD_BUSY = (
    "Thread is already running a task. Wait for it to finish or choose a different multitask strategy."
)
RUN_NOT_FOUND = {"error": "HTTPException", "message": "404: Run not found"}
_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def new_thread(client: httpx.Client) -> str:
    response = client.post("/threads", json={})
    assert response.status_code == 200
    return response.json()["thread_id"]


def run_id_of(response: httpx.Response) -> str:
    match = re.fullmatch(f"/threads/({_UUID})/runs/({_UUID})", response.headers["content-location"])
    assert match, response.headers["content-location"]
    return match[2]


def slow(seconds: float, steps: int, **extra: Any) -> dict[str, Any]:
    return {"assistant_id": "slow", "input": {"seconds": seconds, "steps": steps}, **extra}


def run_status(client: httpx.Client, thread_id: str, run_id: str) -> str:
    return client.get(f"/threads/{thread_id}/runs/{run_id}").json()["status"]


# ---------------------------------------------------------------------------------------------
# Every stream mode against its transcript

TRANSCRIPT_RUNS = [
    # (transcript, request body without assistant/input, graph, input)
    *[
        (f"chat_{mode}", {"stream_mode": mode}, "chat", WEATHER)
        for mode in (
            "values",
            "updates",
            "messages-tuple",
            "messages",
            "events",
            "debug",
            "custom",
            "tasks",
            "checkpoints",
        )
    ],
    (
        "chat_multi",
        {"stream_mode": ["values", "updates", "messages-tuple", "custom"]},
        "chat",
        {"messages": [{"role": "user", "content": "hi there"}]},
    ),
    ("chat_default", {}, "chat", {"messages": [{"role": "user", "content": "hi"}]}),
    (
        "hitl_interrupt",
        {"stream_mode": ["values", "updates"]},
        "hitl",
        {"messages": [{"role": "user", "content": "deploy to prod"}]},
    ),
    (
        "nested_updates_subgraphs",
        {"stream_mode": ["updates", "custom"], "stream_subgraphs": True},
        "nested",
        {},
    ),
    ("nested_values_sub", {"stream_mode": "values", "stream_subgraphs": True}, "nested", {}),
    ("nested_values_nosub", {"stream_mode": "values"}, "nested", {}),
]


@pytest.mark.parametrize(
    ("name", "extra", "graph", "input"), TRANSCRIPT_RUNS, ids=[r[0] for r in TRANSCRIPT_RUNS]
)
def test_stream_matches_transcript(
    http: httpx.Client, name: str, extra: dict, graph: str, input: Any
) -> None:
    _, expected = transcript(name)
    thread_id = new_thread(http)
    response, frames, _ = stream_run(http, thread_id, {"assistant_id": graph, "input": input, **extra})
    assert response.status_code == 200
    run_id = run_id_of(response)
    # First event: `metadata {"run_id","attempt":1}` (key order included); no ids, no `end`.
    assert frames[0].raw == b'event: metadata\r\ndata: {"run_id":"%s","attempt":1}\r\n\r\n' % run_id.encode()
    assert all(f.id is None for f in frames)
    assert "end" not in [f.event for f in frames]
    assert [f.event.partition("|")[0] for f in frames] == [f.event.partition("|")[0] for f in expected]
    assert comparable(events(frames[1:])) == comparable(events(expected[1:]))
    if extra.get("stream_subgraphs"):
        namespaced = {f.event for f in frames if "|" in f.event}
        assert namespaced and all(
            re.fullmatch(rf"(values|updates|custom)\|child:{_UUID}", n) for n in namespaced
        )


def test_stream_headers(http: httpx.Client) -> None:
    ref_headers, _ = transcript("chat_values")
    thread_id = new_thread(http)
    headers = {"Origin": "http://localhost:3000"}
    response, frames, _ = stream_run(
        http, thread_id, {"assistant_id": "chat", "input": WEATHER}, headers=headers
    )
    run_id = run_id_of(response)
    assert (
        response.headers["content-type"] == ref_headers["content-type"] == "text/event-stream; charset=utf-8"
    )
    assert response.headers["location"] == f"/threads/{thread_id}/runs/{run_id}/stream"
    assert response.headers["content-location"] == f"/threads/{thread_id}/runs/{run_id}"
    assert response.headers["transfer-encoding"] == "chunked" and "content-length" not in response.headers
    # Robyn adds `x-accel-buffering` and its own `cache-control` to streams; ours must not double it.
    assert response.headers.get_list("x-accel-buffering") == ["no"]
    assert "no-store" in response.headers.get_list("cache-control")
    assert response.headers["access-control-allow-origin"] == "*"
    assert "content-location" in response.headers["access-control-expose-headers"]
    assert response.headers["vary"] == "Origin"
    assert [f.event for f in frames] == ["metadata", "values", "values", "values", "values"]


def test_hitl_interrupt_then_resume_stream(http: httpx.Client) -> None:
    thread_id = new_thread(http)
    body = {"assistant_id": "hitl", "input": {"messages": [{"role": "user", "content": "deploy"}]}}
    _, first, _ = stream_run(http, thread_id, {**body, "stream_mode": ["updates"]})
    interrupt = first[-1].data["__interrupt__"]
    assert [list(i) for i in interrupt] == [["value", "id", "response_schema"]]
    assert http.get(f"/threads/{thread_id}").json()["status"] == "interrupted"
    resume = {"assistant_id": "hitl", "command": {"resume": "ok"}, "stream_mode": ["updates"]}
    _, second, _ = stream_run(http, thread_id, resume)
    assert [f.event for f in second] == ["metadata", "updates", "updates"]
    assert second[1].data == {"review": {"decision": "ok"}}
    assert http.get(f"/threads/{thread_id}").json()["status"] == "idle"


# ---------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(
    ("name", "body"),
    [
        (
            "chat_error",
            {"assistant_id": "chat", "input": {"messages": [{"role": "user", "content": "please fail"}]}},
        ),
        ("slow_error", {"assistant_id": "slow", "input": {"fail": True}}),
    ],
)
def test_graph_error_is_an_error_event_then_close(http: httpx.Client, name: str, body: dict) -> None:
    _, expected = transcript(name)
    thread_id = new_thread(http)
    response, frames, _ = stream_run(http, thread_id, body)
    assert comparable(events(frames)[1:]) == comparable(events(expected)[1:])
    assert frames[-1].event == "error" and list(frames[-1].data) == ["error", "message"]
    run_id = run_id_of(response)
    assert run_status(http, thread_id, run_id) == "error"
    thread = http.get(f"/threads/{thread_id}").json()
    assert thread["status"] == "error" and thread["error"] == frames[-1].data


def test_errors_before_the_stream_are_plain_json(http: httpx.Client) -> None:
    missing = str(uuid.uuid4())
    response, _, _ = stream_run(http, missing, {"assistant_id": "chat"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"detail": "Thread or assistant not found."}

    thread_id = new_thread(http)
    for bad in ({"input": {}}, {"assistant_id": "chat", "stream_mode": "bogus"}):
        response, _, _ = stream_run(http, thread_id, bad)
        assert response.status_code == 422, bad
        assert response.headers["content-type"] == "application/json"
        assert isinstance(response.json()["detail"], str)
    invalid = http.post(f"/threads/{thread_id}/runs/stream", content=b"{nope")
    assert invalid.status_code == 422 and invalid.json() == {"detail": "Invalid JSON in request body"}

    busy = http.post(f"/threads/{thread_id}/runs", json=slow(5, 5)).json()
    try:
        response, _, _ = stream_run(http, thread_id, {**slow(0, 1), "multitask_strategy": "reject"})
        assert response.status_code == 409
        assert response.headers["content-type"] == "application/json"
        assert response.json() == {"detail": THREAD_BUSY}
    finally:
        http.post(f"/threads/{thread_id}/runs/{busy['run_id']}/cancel")


def test_stateless_stream_locations(http: httpx.Client) -> None:
    with http.stream(
        "POST", "/runs/stream", json={"assistant_id": "chat", "input": WEATHER, "stream_mode": "updates"}
    ) as r:
        frames, _ = parse_frames(r.read())
    run_id = frames[0].data["run_id"]
    assert r.headers["location"] == f"/runs/{run_id}/stream"
    assert r.headers["content-location"] == f"/runs/{run_id}"
    assert [f.event for f in frames] == ["metadata", "updates", "updates", "updates"]


# ---------------------------------------------------------------------------------------------
# Heartbeats


def test_heartbeats_while_a_run_is_quiet(http: httpx.Client) -> None:
    thread_id = new_thread(http)
    with http.stream(
        "POST", f"/threads/{thread_id}/runs/stream", json=slow(1.2, 1, stream_mode="custom")
    ) as r:
        body = r.read()
    frames, heartbeats = parse_frames(body)
    assert [f.event for f in frames] == ["metadata", "custom"]
    assert heartbeats >= 2  # 0.5 s schedule over ~1.2 s
    assert body.count(HEARTBEAT) == heartbeats


# ---------------------------------------------------------------------------------------------
# Resumable streams and joins


def test_resumable_reconnect_has_no_gap_and_no_duplicate(http: httpx.Client) -> None:
    thread_id = new_thread(http)
    body = slow(1.2, 6, stream_mode=["values", "custom"], stream_resumable=True)
    with http.stream("POST", f"/threads/{thread_id}/runs/stream", json=body) as response:
        run_id = run_id_of(response)
        first = LiveStream(response).read_events(3).frames  # metadata, values, custom 1 (maybe more)
    # The client went away; `on_disconnect` defaults to `continue`.
    assert all(f.id for f in first)
    url = f"/threads/{thread_id}/runs/{run_id}/stream"
    with http.stream("GET", url, headers={"Last-Event-ID": first[-1].id}) as response:
        assert response.status_code == 200
        assert response.headers["location"] == url
        rest = LiveStream(response).read_to_end().frames
    seen = first + rest
    assert [f.event for f in seen] == ["metadata", "values", *["custom"] * 6, "values"]
    assert [f.data["step"] for f in seen if f.event == "custom"] == [1, 2, 3, 4, 5, 6]
    ids = [tuple(map(int, f.id.split("-"))) for f in seen]
    assert ids == sorted(set(ids))
    assert run_status(http, thread_id, run_id) == "success"

    # After the end: `-1` and `0` replay everything from `metadata`, byte for byte.
    for start in ("-1", "0"):
        replay = http.get(url, headers={"Last-Event-ID": start})
        assert replay.status_code == 200
        assert replay.content == b"".join(f.raw for f in seen)
    # Without the header a finished run's stream is empty and closed.
    empty = http.get(url)
    assert empty.status_code == 200 and empty.content == b""
    assert empty.headers["content-type"] == "text/event-stream; charset=utf-8"
    # `stream_mode` filters the replay (a mode or a JSON list); metadata is filtered too.
    for query in ("custom", '["custom"]'):
        filtered, _ = parse_frames(
            http.get(url, params={"stream_mode": query}, headers={"Last-Event-ID": "0"}).content
        )
        assert [f.event for f in filtered] == ["custom"] * 6
    both, _ = parse_frames(
        http.get(url, params={"stream_mode": '["metadata","values"]'}, headers={"Last-Event-ID": "0"}).content
    )
    assert [f.event for f in both] == ["metadata", "values", "values"]


def test_join_without_last_event_id_follows_live_only(http: httpx.Client) -> None:
    thread_id = new_thread(http)
    body = slow(1.0, 5, stream_mode=["values", "custom"], stream_resumable=True)
    with http.stream("POST", f"/threads/{thread_id}/runs/stream", json=body) as response:
        run_id = run_id_of(response)
        creator = LiveStream(response).read_until(lambda s: any(f.event == "custom" for f in s.frames))
        with http.stream("GET", f"/threads/{thread_id}/runs/{run_id}/stream") as joined:
            late = LiveStream(joined).read_to_end().frames
        creator.read_to_end()
    assert late and late[0].event == "custom" and late[0].data["step"] >= 2
    assert late[-1].event == "values"
    everything = creator.frames
    assert [f.raw for f in everything[-len(late) :]] == [f.raw for f in late]


def test_non_resumable_run_can_be_joined_live_without_ids(http: httpx.Client) -> None:
    thread_id = new_thread(http)
    run = http.post(f"/threads/{thread_id}/runs", json=slow(0.6, 3, stream_mode=["custom", "values"])).json()
    with http.stream("GET", f"/threads/{thread_id}/runs/{run['run_id']}/stream") as response:
        live = LiveStream(response).read_to_end()
    assert live.frames and all(f.id is None for f in live.frames)
    assert live.frames[-1].event == "values"
    assert "log" in live.frames[-1].data and live.frames[-1].data["log"]


def test_join_stream_errors(http: httpx.Client, http_bob: httpx.Client) -> None:
    thread_id = new_thread(http)
    missing = str(uuid.uuid4())
    response = http.get(f"/threads/{thread_id}/runs/{missing}/stream")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert (
        response.content
        == b'event: error\r\ndata: {"error":"HTTPException","message":"404: Run not found"}\r\n\r\n'
    )
    run = http.post(f"/threads/{thread_id}/runs", json=slow(0, 1)).json()
    bad = http.get(f"/threads/{thread_id}/runs/{run['run_id']}/stream", headers={"Last-Event-ID": "abc"})
    assert bad.status_code == 422
    assert bad.json() == {"detail": "Invalid last-event-id: must be a valid Redis stream ID"}
    # Another user's run is a missing run.
    foreign = http_bob.get(f"/threads/{thread_id}/runs/{run['run_id']}/stream")
    assert foreign.status_code == 200 and parse_frames(foreign.content)[0][0].data == RUN_NOT_FOUND


# ---------------------------------------------------------------------------------------------
# /join


def test_join_returns_final_values_and_missing_run(http: httpx.Client, http_bob: httpx.Client) -> None:
    thread_id = new_thread(http)
    run = http.post(f"/threads/{thread_id}/runs", json=slow(0.3, 2)).json()
    joined = http.get(f"/threads/{thread_id}/runs/{run['run_id']}/join")
    assert joined.status_code == 200
    assert joined.headers["content-type"] == "application/json"
    assert joined.json() == {"seconds": 0.3, "steps": 2, "log": ["slept 0.300s in 2 steps"]}
    again = http.get(f"/threads/{thread_id}/runs/{run['run_id']}/join")  # finished: at once
    assert again.json() == joined.json()
    missing = http.get(f"/threads/{thread_id}/runs/{uuid.uuid4()}/join")
    assert missing.status_code == 200 and missing.json() == {"__error__": RUN_NOT_FOUND}
    foreign = http_bob.get(f"/threads/{thread_id}/runs/{run['run_id']}/join")
    assert foreign.status_code == 200 and foreign.json() == {"__error__": RUN_NOT_FOUND}


def test_join_cancel_on_disconnect(http: httpx.Client) -> None:
    thread_id = new_thread(http)
    run = http.post(f"/threads/{thread_id}/runs", json=slow(3, 6)).json()
    poll(lambda: run_status(http, thread_id, run["run_id"]), lambda s: s == "running")
    url = f"/threads/{thread_id}/runs/{run['run_id']}/join"
    with http.stream("GET", url, params={"cancel_on_disconnect": "true"}) as response:
        next(response.iter_raw())  # the first keep-alive newline: the join is waiting
    poll(lambda: run_status(http, thread_id, run["run_id"]), lambda s: s == "interrupted", timeout=4)


# ---------------------------------------------------------------------------------------------
# Client disconnects


def test_disconnect_continue_leaves_the_run_running(http: httpx.Client) -> None:
    thread_id = new_thread(http)
    body = slow(1.0, 4, stream_mode="custom")  # on_disconnect defaults to "continue"
    with http.stream("POST", f"/threads/{thread_id}/runs/stream", json=body) as response:
        run_id = run_id_of(response)
        LiveStream(response).read_until(lambda s: any(f.event == "custom" for f in s.frames))
    assert run_status(http, thread_id, run_id) == "running"
    poll(lambda: run_status(http, thread_id, run_id), lambda s: s == "success", timeout=4)
    assert http.get(f"/threads/{thread_id}").json()["status"] == "idle"


def test_disconnect_cancel_interrupts_the_run(http: httpx.Client) -> None:
    thread_id = new_thread(http)
    body = slow(3, 6, stream_mode="custom", on_disconnect="cancel")
    with http.stream("POST", f"/threads/{thread_id}/runs/stream", json=body) as response:
        run_id = run_id_of(response)
        LiveStream(response).read_until(lambda s: any(f.event == "custom" for f in s.frames))
    poll(lambda: run_status(http, thread_id, run_id), lambda s: s == "interrupted", timeout=4)
    assert http.get(f"/threads/{thread_id}").json()["status"] == "interrupted"


def test_join_stream_cancel_on_disconnect(http: httpx.Client) -> None:
    thread_id = new_thread(http)
    run = http.post(f"/threads/{thread_id}/runs", json=slow(3, 6, stream_mode="custom")).json()
    url = f"/threads/{thread_id}/runs/{run['run_id']}/stream"
    with http.stream("GET", url, params={"cancel_on_disconnect": "true"}) as response:
        LiveStream(response).read_until(lambda s: any(f.event == "custom" for f in s.frames))
    poll(lambda: run_status(http, thread_id, run["run_id"]), lambda s: s == "interrupted", timeout=4)


# ---------------------------------------------------------------------------------------------
# Thread streams


def _run_done(run_id: str) -> dict[str, str]:
    return {"status": "run_done", "run_id": run_id}


def test_thread_stream_follows_every_run(http: httpx.Client) -> None:
    thread_id = new_thread(http)
    hi = {"messages": [{"role": "user", "content": "hi"}]}
    with http.stream("GET", f"/threads/{thread_id}/stream") as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        live = LiveStream(response)
        first = http.post(
            f"/threads/{thread_id}/runs/wait",
            json={"assistant_id": "chat", "input": hi, "stream_mode": "updates"},
        )
        second = http.post(f"/threads/{thread_id}/runs/wait", json={"assistant_id": "chat", "input": hi})
        runs = [run_id_of(first), run_id_of(second)]
        live.read_until(lambda s: any(f.data == _run_done(runs[1]) for f in s.frames))
    frames = live.frames
    assert [f.event for f in frames] == [
        *("metadata", "updates", "metadata"),
        *("metadata", "values", "values", "metadata"),
    ]
    assert frames[0].data == {"run_id": runs[0], "attempt": 1}
    assert frames[2].data == _run_done(runs[0])
    assert frames[3].data == {"run_id": runs[1], "attempt": 1}
    assert frames[-1].data == _run_done(runs[1])
    assert all(f.id for f in frames)
    ids = [tuple(map(int, f.id.split("-"))) for f in frames]
    assert ids == sorted(set(ids))

    # Replaying the thread's log after an id gives what followed it.
    with http.stream(
        "GET", f"/threads/{thread_id}/stream", headers={"Last-Event-ID": frames[2].id}
    ) as response:
        replay = LiveStream(response).read_events(len(frames) - 3).frames
    assert [f.raw for f in replay] == [f.raw for f in frames[3:]]


def test_thread_stream_modes(http: httpx.Client) -> None:
    thread_id = new_thread(http)
    hi = {"messages": [{"role": "user", "content": "hi"}]}
    with (
        http.stream("GET", f"/threads/{thread_id}/stream", params={"stream_modes": "lifecycle"}) as lifecycle,
        http.stream(
            "GET", f"/threads/{thread_id}/stream", params={"stream_modes": "state_update"}
        ) as updates,
        http.stream(
            "GET", f"/threads/{thread_id}/stream", params={"stream_modes": "lifecycle,state_update"}
        ) as both,
    ):
        run = http.post(f"/threads/{thread_id}/runs/wait", json={"assistant_id": "chat", "input": hi})
        run_id = run_id_of(run)
        update = http.post(f"/threads/{thread_id}/state", json={"values": {"messages": []}})
        assert update.status_code == 200
        state = http.get(f"/threads/{thread_id}/state").json()
        only_lifecycle = LiveStream(lifecycle).read_events(2).frames
        only_updates = LiveStream(updates).read_events(1).frames
        combined = LiveStream(both).read_events(3).frames
    assert [(f.event, f.data) for f in only_lifecycle] == [
        ("metadata", {"run_id": run_id, "attempt": 1}),
        ("metadata", _run_done(run_id)),
    ]
    assert [f.event for f in only_updates] == ["state_update"]
    assert only_updates[0].data == {"state": state}
    assert [f.event for f in combined] == ["metadata", "metadata", "state_update"]


def test_abandoned_streams_are_released(http: httpx.Client) -> None:
    """Robyn finalizes an abandoned body on one of its own threads; the clean-up must still run."""

    def active() -> int:
        return http.get("/metrics", params={"format": "json"}).json()["agent"]["active_streams"]

    poll(active, lambda n: n == 0)
    thread_id = new_thread(http)
    with (
        http.stream("GET", f"/threads/{thread_id}/stream") as first,
        http.stream("GET", f"/threads/{thread_id}/stream", params={"stream_modes": "lifecycle"}) as second,
    ):
        LiveStream(first).read_until(lambda s: s.heartbeats > 0)
        LiveStream(second).read_until(lambda s: s.heartbeats > 0)
        assert active() == 2
    poll(active, lambda n: n == 0, timeout=3)
    # The thread channel still works for new subscribers.
    with http.stream("GET", f"/threads/{thread_id}/stream") as again:
        http.post(f"/threads/{thread_id}/runs/wait", json=slow(0, 1))
        events = [f.event for f in LiveStream(again).read_events(4).frames]
    assert events == ["metadata", "values", "values", "metadata"]


def test_thread_stream_errors(http: httpx.Client, http_bob: httpx.Client) -> None:
    thread_id = new_thread(http)
    bad = http.get(f"/threads/{thread_id}/stream", params={"stream_modes": "bogus"})
    assert bad.status_code == 422 and bad.json() == {"detail": "Invalid stream mode: bogus"}
    bad_id = http.get(f"/threads/{thread_id}/stream", headers={"Last-Event-ID": "abc"})
    assert bad_id.status_code == 422
    assert bad_id.json() == {"detail": "Invalid last-event-id: must be a valid Redis stream ID"}
    assert http.get("/threads/not-a-uuid/stream").status_code == 422
    foreign = http_bob.get(f"/threads/{thread_id}/stream")
    assert foreign.status_code == 404


# ---------------------------------------------------------------------------------------------
# The official SDK


class RequestLog:
    """Records the SDK's requests and response statuses through httpx event hooks."""

    def __init__(self, sdk: Any) -> None:
        self.seen: list[tuple[str, str, int]] = []
        sdk.http.client.event_hooks = {"response": [self._response]}

    async def _response(self, response: httpx.Response) -> None:
        self.seen.append((response.request.method, response.request.url.path, response.status_code))


async def test_sdk_stream_multi_mode(sdk, http: httpx.Client) -> None:
    log = RequestLog(sdk)
    thread = await sdk.threads.create()
    modes = ["values", "updates", "messages-tuple", "custom"]
    kyiv = {"messages": [{"role": "user", "content": "weather in Kyiv"}]}
    parts = [p async for p in sdk.runs.stream(thread["thread_id"], "chat", input=kyiv, stream_mode=modes)]
    names = [p.event for p in parts]
    # T/14_sdk.txt: the same sequence as raw HTTP; messages-tuple arrives as `messages`.
    _, raw, _ = stream_run(
        http, new_thread(http), {"assistant_id": "chat", "input": kyiv, "stream_mode": modes}
    )
    assert names == [f.event for f in raw]
    assert names[:4] == ["metadata", "values", "custom", "messages"]
    assert all(p.id is None for p in parts)
    run_id = parts[0].data["run_id"]
    # The SDK asks for the run after a stream that ended without `end`/`error`.
    assert log.seen[-1] == ("GET", f"/threads/{thread['thread_id']}/runs/{run_id}", 200)
    assert sum(1 for m, p, _ in log.seen if m == "POST" and p.endswith("/runs/stream")) == 1

    final_ai = parts[-1].data["messages"][-1]
    chunks = [p.data for p in parts if p.event == "messages" and p.data[0]["id"] in final_ai["id"]]
    assert all(len(c) == 2 and c[1]["langgraph_node"] == "agent" for c in chunks)
    assert "".join(c[0]["content"] for c in chunks) == final_ai["content"]
    assert final_ai["id"] == chunks[0][0]["id"] + "-0" or final_ai["id"] == chunks[0][0]["id"]


async def test_sdk_stream_events_mode(sdk) -> None:
    thread = await sdk.threads.create()
    hi = {"messages": [{"role": "user", "content": "hi"}]}
    parts = [p async for p in sdk.runs.stream(thread["thread_id"], "chat", input=hi, stream_mode="events")]
    assert parts[0].event == "metadata"
    payloads = [p.data for p in parts[1:]]
    assert {p.event for p in parts[1:]} == {"events"}
    assert payloads[0]["event"] == "on_chain_start" and payloads[-1]["event"] == "on_chain_end"
    agent_start = next(e for e in payloads if e["event"] == "on_chain_start" and e["name"] == "agent")
    assert agent_start["metadata"]["langgraph_node"] == "agent"
    assert list(agent_start) == ["event", "data", "name", "tags", "run_id", "metadata", "parent_ids"]
    assert any(e["event"] == "on_chat_model_stream" for e in payloads)


async def test_sdk_stream_error_and_join_stream(sdk) -> None:
    thread = await sdk.threads.create()
    failing = [p async for p in sdk.runs.stream(thread["thread_id"], "slow", input={"fail": True})]
    assert [p.event for p in failing] == ["metadata", "values", "error"]
    assert failing[-1].data == {"error": "RuntimeError", "message": "slow graph failure requested by input"}

    thread = await sdk.threads.create()
    run = await sdk.runs.create(
        thread["thread_id"],
        "slow",
        input={"seconds": 0.4, "steps": 4},
        stream_mode=["values", "custom"],
        stream_resumable=True,
    )
    joined = [p async for p in sdk.runs.join_stream(thread["thread_id"], run["run_id"], last_event_id="-1")]
    assert [p.event for p in joined] == ["metadata", "values", *["custom"] * 4, "values"]
    assert all(p.id for p in joined)
    again = [p async for p in sdk.runs.join_stream(thread["thread_id"], run["run_id"], last_event_id="0")]
    assert [(p.event, p.id, p.data) for p in again] == [(p.event, p.id, p.data) for p in joined]
    customs = [
        p
        async for p in sdk.runs.join_stream(
            thread["thread_id"], run["run_id"], last_event_id=joined[3].id, stream_mode="custom"
        )
    ]
    assert [p.data["step"] for p in customs] == [3, 4]
    assert await sdk.runs.join(thread["thread_id"], run["run_id"]) == joined[-1].data


# ---------------------------------------------------------------------------------------------
# OAP's requests (oap-ecosystem.md §2.5)


def test_oap_chat_request(http: httpx.Client, alice) -> None:
    thread_id = new_thread(http)
    _, warmup, _ = stream_run(
        http, thread_id, {"assistant_id": "chat", "input": {"messages": [{"role": "user", "content": "hi"}]}}
    )
    head = http.get(f"/threads/{thread_id}/state").json()["checkpoint"]
    del head["thread_id"]  # the SDK drops it
    api_keys = {"OPENAI_API_KEY": "", "ANTHROPIC_API_KEY": "", "GOOGLE_API_KEY": "", "TAVILY_API_KEY": ""}
    message = {
        "id": str(uuid.uuid4()),
        "type": "human",
        "content": [{"type": "text", "text": "weather in Oslo"}],
    }
    body = {
        "input": {"messages": [message]},
        "config": {"configurable": {"apiKeys": api_keys}},
        "metadata": {"supabaseAccessToken": alice.token},
        "stream_mode": ["values", "messages-tuple", "custom"],
        "stream_subgraphs": True,
        "stream_resumable": True,
        "on_disconnect": "continue",
        "assistant_id": "chat",
        "checkpoint": head,
    }
    response, frames, _ = stream_run(http, thread_id, body)
    assert response.status_code == 200
    assert all(f.id for f in frames)
    names = [f.event for f in frames]
    assert names[0] == "metadata" and names[1] == "values" and "custom" in names and "messages" in names
    final = frames[-1]
    assert final.event == "values"
    texts = [m["content"] for m in final.data["messages"]]
    assert texts[:3] == ["hi", "You said: hi. This is a deterministic fake reply.", message["content"]]
    assert texts[-1] == "Tool said: It is always sunny in Oslo. Anything else?"
    run = http.get(response.headers["content-location"]).json()
    assert run["status"] == "success" and run["kwargs"]["resumable"] is True
    assert run["kwargs"]["config"]["configurable"]["apiKeys"] == api_keys
    assert run["metadata"]["supabaseAccessToken"] == alice.token
    # Its stream can be joined again (OAP reconnects with the last id it saw).
    replay = http.get(f"{response.headers['location']}", headers={"Last-Event-ID": frames[-2].id})
    assert parse_frames(replay.content)[0] == [frames[-1]] and warmup


def test_oap_inbox_resume_with_events(http: httpx.Client) -> None:
    thread_id = new_thread(http)
    http.post(
        f"/threads/{thread_id}/runs/wait",
        json={"assistant_id": "hitl", "input": {"messages": [{"role": "user", "content": "ship it"}]}},
    )
    resume = [{"type": "accept", "args": None}]
    body = {"assistant_id": "hitl", "command": {"resume": resume}, "stream_mode": "events"}
    response, frames, _ = stream_run(http, thread_id, body)
    assert response.status_code == 200
    payloads = [f.data for f in frames[1:]]
    assert {f.event for f in frames[1:]} == {"events"}
    nodes = [e["metadata"].get("langgraph_node") for e in payloads if e["event"] == "on_chain_start"]
    assert nodes[1:] == ["review", "finish"]
    assert http.get(f"/threads/{thread_id}").json()["status"] == "idle"
    decision = http.get(f"/threads/{thread_id}/state").json()["values"]["decision"]
    assert decision == resume
    assert json.loads(json.dumps(payloads[-1]))["event"] == "on_chain_end"
