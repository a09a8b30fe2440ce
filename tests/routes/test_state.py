"""Thread state and history over HTTP, against the reference (`langgraph-api.md` §3, `T/04_hitl.txt`).

The hitl scenario of the transcript is replayed request by request and every response is
compared with the reference's after masking ids and timestamps. Checkpoint `metadata` is
compared without the keys each server adds from its own run bookkeeping (`SERVER_KEYS`); the
rest (values, next, tasks, checkpoints, interrupts, key order) must be identical.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import pytest

from tests.engine.test_streaming import Masker
from tests.routes.sse_helpers import SERVER_KEYS, TRANSCRIPTS

STATE_KEYS = [
    "values",
    "next",
    "tasks",
    "metadata",
    "created_at",
    "checkpoint",
    "parent_checkpoint",
    "interrupts",
    "checkpoint_id",
    "parent_checkpoint_id",
]
TASK_KEYS = ["id", "name", "path", "error", "interrupts", "checkpoint", "state", "result"]
EMPTY_STATE = {
    "values": {},
    "next": [],
    "tasks": [],
    "metadata": None,
    "created_at": None,
    "checkpoint": None,
    "parent_checkpoint": None,
    "interrupts": [],
    "checkpoint_id": None,
    "parent_checkpoint_id": None,
}
DEPLOY = {"messages": [{"role": "user", "content": "deploy to prod"}]}


def reference_responses(name: str = "04_hitl.txt") -> dict[str, tuple[int, Any]]:
    """The `### section` responses of a request log: status and parsed JSON body."""
    path = TRANSCRIPTS / name
    if not path.exists():
        pytest.skip(f"reference transcript {path} not available")
    found: dict[str, tuple[int, Any]] = {}
    for section in path.read_text().split("\n### ")[1:]:
        title, _, rest = section.partition("\n")
        lines = rest.split("\n")
        assert lines[0].startswith(">>> ") and lines[1].startswith("<<< ")
        body = "\n".join(lines[2:]).strip()
        if "...[truncated]" in body:
            continue
        found[title.strip()] = (int(lines[1].split()[1]), json.loads(body))
    return found


def _without_server_keys(value: Any, parent: str | None = None) -> Any:
    if isinstance(value, dict):
        if parent == "metadata":
            # Compared as a set of keys: the servers order run metadata differently.
            kept = {k: v for k, v in value.items() if k not in SERVER_KEYS and not k.startswith("x-")}
            return dict(sorted(kept.items()))
        return {k: _without_server_keys(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_server_keys(v) for v in value]
    return value


def masked(*documents: Any) -> str:
    """Documents masked with one masker (so ids keep their identity across them), as JSON text."""
    return json.dumps(Masker()([_without_server_keys(d) for d in documents]))


def new_thread(client: httpx.Client) -> str:
    return client.post("/threads", json={}).json()["thread_id"]


def wait(client: httpx.Client, thread_id: str, body: dict[str, Any]) -> Any:
    response = client.post(f"/threads/{thread_id}/runs/wait", json=body)
    assert response.status_code == 200, response.text
    return response.json()


# ---------------------------------------------------------------------------------------------
# The transcript's hitl scenario, response by response


def test_hitl_state_history_and_updates_match_reference(http: httpx.Client) -> None:
    ref = reference_responses()
    thread_id = new_thread(http)
    wait(http, thread_id, {"assistant_id": "hitl", "input": DEPLOY})

    interrupted = http.get(f"/threads/{thread_id}/state").json()
    assert list(interrupted) == STATE_KEYS and list(interrupted["tasks"][0]) == TASK_KEYS
    assert interrupted["next"] == ["review"]
    assert interrupted["tasks"][0]["interrupts"] == interrupted["interrupts"]
    assert interrupted["checkpoint"]["thread_id"] == thread_id
    assert masked(interrupted) == masked(ref["state after interrupt"][1])
    # The thread object shows the same interrupts by task id.
    thread = http.get(f"/threads/{thread_id}").json()
    assert thread["status"] == "interrupted"
    assert thread["interrupts"] == {interrupted["tasks"][0]["id"]: interrupted["interrupts"]}

    wait(http, thread_id, {"assistant_id": "hitl", "command": {"resume": {"approved": True}}})
    history = http.get(f"/threads/{thread_id}/history", params={"limit": 2}).json()
    assert masked(interrupted, history) == masked(ref["state after interrupt"][1], ref["history limit 2"][1])

    at = history[1]["checkpoint_id"]
    by_path = http.get(f"/threads/{thread_id}/state/{at}").json()
    by_body = http.post(f"/threads/{thread_id}/state/checkpoint", json={"checkpoint": {"checkpoint_id": at}})
    assert by_body.status_code == 200
    assert by_body.json() == history[1]
    # As in the reference, the path form echoes the checkpoint without `checkpoint_ns`.
    assert by_path == {**history[1], "checkpoint": {"checkpoint_id": at, "thread_id": thread_id}}

    update = http.post(
        f"/threads/{thread_id}/state", json={"values": {"draft": "edited"}, "as_node": "draft"}
    )
    assert update.status_code == 200
    assert list(update.json()) == ["checkpoint", "configurable", "checkpoint_id"]
    assert masked(update.json()) == masked(ref["update state"][1])
    after = http.get(f"/threads/{thread_id}/state", params={"subgraphs": "true"}).json()
    assert after["checkpoint_id"] == update.json()["checkpoint_id"]
    assert after["metadata"]["source"] == "update" and after["metadata"]["graph_id"] == "hitl"
    assert masked(history[0], after) == masked(ref["history limit 2"][1][0], ref["state after update"][1])

    unknown_key = http.post(f"/threads/{thread_id}/state", json={"values": {"nope": 1}})
    assert unknown_key.status_code == 200
    assert masked(unknown_key.json()) == masked(ref["update state unknown key"][1])
    unknown_node = http.post(
        f"/threads/{thread_id}/state", json={"values": {"draft": "x"}, "as_node": "nonexistent"}
    )
    assert (unknown_node.status_code, unknown_node.json()) == ref["update state unknown node"]
    assert unknown_node.json() == {"detail": "Node nonexistent does not exist"}


def test_history_filters(http: httpx.Client) -> None:
    thread_id = new_thread(http)
    wait(http, thread_id, {"assistant_id": "hitl", "input": DEPLOY})
    wait(http, thread_id, {"assistant_id": "hitl", "command": {"resume": "yes"}})
    full = http.post(f"/threads/{thread_id}/history", json={}).json()
    # Newest first, steps -1..3, each one's parent is the next one.
    assert [s["metadata"]["step"] for s in full] == [3, 2, 1, 0, -1]
    assert [s["metadata"]["source"] for s in full] == ["loop", "loop", "loop", "loop", "input"]
    assert [s["parent_checkpoint_id"] for s in full[:-1]] == [s["checkpoint_id"] for s in full[1:]]
    assert full[-1]["parent_checkpoint"] is None and full[-1]["next"] == ["__start__"]
    assert http.get(f"/threads/{thread_id}/history").json() == full
    ids = [s["checkpoint_id"] for s in full]

    def post(body: dict[str, Any]) -> list[str]:
        response = http.post(f"/threads/{thread_id}/history", json=body)
        assert response.status_code == 200, response.text
        return [s["checkpoint_id"] for s in response.json()]

    assert post({"limit": 2}) == ids[:2]
    # `before` as the reference types it (a config), as the SDK types it, and as a bare id.
    assert post({"before": {"configurable": {"checkpoint_id": ids[1]}}}) == ids[2:]
    assert post({"before": {"checkpoint_id": ids[1]}, "limit": 1}) == ids[2:3]
    assert post({"before": ids[3]}) == ids[4:]
    get_before = http.get(f"/threads/{thread_id}/history", params={"before": ids[1], "limit": 2}).json()
    assert [s["checkpoint_id"] for s in get_before] == ids[2:4]
    assert post({"metadata": {"step": 1}}) == ids[2:3]
    assert post({"metadata": {"source": "input"}}) == ids[4:]
    assert post({"checkpoint": {"checkpoint_id": ids[2]}}) == ids[2:3]

    null_before = http.post(f"/threads/{thread_id}/history", json={"limit": 10, "before": None})
    assert null_before.status_code == 422
    assert null_before.json() == reference_responses()["POST history filter metadata source=loop"][1]
    assert http.post(f"/threads/{thread_id}/history", json={"limit": 0}).status_code == 422


def test_long_history_is_fast(http: httpx.Client) -> None:
    """OAP loads `{"limit": 1000}` when a chat opens and after every run."""
    thread_id = new_thread(http)
    wait(
        http, thread_id, {"assistant_id": "chat", "input": {"messages": [{"role": "user", "content": "hi"}]}}
    )
    for i in range(60):
        update = {"values": {"messages": [{"role": "user", "content": f"note {i}"}]}, "as_node": "agent"}
        assert http.post(f"/threads/{thread_id}/state", json=update).status_code == 200
    started = time.perf_counter()
    response = http.post(f"/threads/{thread_id}/history", json={"limit": 1000})
    elapsed = time.perf_counter() - started
    history = response.json()
    assert len(history) == 63
    assert [len(s["values"]["messages"]) for s in history[:3]] == [62, 61, 60]
    assert history[0]["values"]["messages"][-1]["content"] == "note 59"
    assert list(history[0]["values"]["messages"][-1]) == [
        *("content", "additional_kwargs", "response_metadata", "type", "name", "id"),
    ]
    assert elapsed < 0.5, f"history of 63 checkpoints took {elapsed:.3f}s"


# ---------------------------------------------------------------------------------------------
# OAP's inbox, subgraphs, empty threads, errors, isolation


def test_inbox_ignore_ends_the_interrupted_thread(http: httpx.Client) -> None:
    """Agent Inbox "ignore": `{"values": null, "as_node": "__end__"}` (the reference: idle, no tasks)."""
    thread_id = new_thread(http)
    wait(http, thread_id, {"assistant_id": "hitl", "input": DEPLOY})
    before = http.get(f"/threads/{thread_id}/state").json()
    response = http.post(f"/threads/{thread_id}/state", json={"values": None, "as_node": "__end__"})
    assert response.status_code == 200
    assert response.json()["checkpoint"]["thread_id"] == thread_id
    thread = http.get(f"/threads/{thread_id}").json()
    assert thread["status"] == "idle" and thread["interrupts"] == {}
    state = http.get(f"/threads/{thread_id}/state").json()
    assert (state["next"], state["tasks"], state["interrupts"]) == ([], [], [])
    assert state["values"] == before["values"]
    assert state["parent_checkpoint_id"] == before["checkpoint_id"]
    assert {k: state["metadata"][k] for k in ("source", "step", "parents")} == {
        "source": "update",
        "step": 2,
        "parents": {},
    }


def test_subgraph_state(http: httpx.Client) -> None:
    thread_id = new_thread(http)
    wait(http, thread_id, {"assistant_id": "nested", "input": {}, "interrupt_before": ["done"]})
    history = http.post(f"/threads/{thread_id}/history", json={}).json()
    # The checkpoint before `child` ran: the subgraph task points at its checkpoint namespace.
    before_child = next(s for s in history if s["next"] == ["child"])
    task = before_child["tasks"][0]
    assert task["state"] is None
    assert task["checkpoint"] == {"thread_id": thread_id, "checkpoint_ns": f"child:{task['id']}"}
    for flag in ("true", "false"):
        state = http.get(f"/threads/{thread_id}/state", params={"subgraphs": flag}).json()
        assert state["next"] == ["done"] and state["values"] == {"trail": ["prepare", "left", "right"]}
    at = http.post(
        f"/threads/{thread_id}/state/checkpoint",
        json={"checkpoint": {"checkpoint_id": before_child["checkpoint_id"]}, "subgraphs": True},
    ).json()
    assert at["checkpoint_id"] == before_child["checkpoint_id"] and at["tasks"][0]["name"] == "child"


def test_failed_task_error_is_the_reference_string(http: httpx.Client) -> None:
    thread_id = new_thread(http)
    assert "__error__" in wait(http, thread_id, {"assistant_id": "slow", "input": {"fail": True}})
    task = http.get(f"/threads/{thread_id}/state").json()["tasks"][0]
    assert task["name"] == "work"
    assert task["error"] == "RuntimeError('slow graph failure requested by input')"


def test_thread_that_never_ran(http: httpx.Client) -> None:
    thread_id = new_thread(http)
    state = http.get(f"/threads/{thread_id}/state")
    assert state.status_code == 200 and state.json() == EMPTY_STATE
    assert list(state.json()) == STATE_KEYS
    assert http.get(f"/threads/{thread_id}/history").json() == []
    assert http.post(f"/threads/{thread_id}/history", json={"limit": 1000}).json() == []
    update = http.post(f"/threads/{thread_id}/state", json={"values": {"a": 1}})
    assert update.status_code == 400 and "has no assigned graph ID" in update.json()["detail"]


def test_state_request_errors(http: httpx.Client) -> None:
    thread_id = new_thread(http)
    wait(
        http, thread_id, {"assistant_id": "chat", "input": {"messages": [{"role": "user", "content": "hi"}]}}
    )
    missing = http.post(f"/threads/{thread_id}/state/checkpoint", json={})
    assert missing.status_code == 422
    assert missing.json() == {
        "detail": '"checkpoint" is a required property\n\nFailed validating "required" in schema'
        "\n\nOn instance:\n    {}"
    }
    # An unknown checkpoint id: the reference answers the empty state pointing at that id.
    unknown = "1f1e56ce-0b16-60a9-8001-9cc952240150"
    state = http.get(f"/threads/{thread_id}/state/{unknown}").json()
    assert {k: v for k, v in state.items() if k not in ("checkpoint", "checkpoint_id")} == {
        k: v for k, v in EMPTY_STATE.items() if k not in ("checkpoint", "checkpoint_id")
    }
    assert state["checkpoint"] == {"checkpoint_id": unknown, "thread_id": thread_id}
    assert state["checkpoint_id"] == unknown
    assert http.get("/threads/not-a-uuid/state").status_code == 422
    gone = str(uuid.uuid4())
    assert http.get(f"/threads/{gone}/state").status_code == 404
    assert http.post(f"/threads/{gone}/history", json={}).status_code == 404


def test_other_users_cannot_touch_state(http: httpx.Client, http_bob: httpx.Client) -> None:
    thread_id = new_thread(http)
    wait(http, thread_id, {"assistant_id": "hitl", "input": DEPLOY})
    checkpoint_id = http.get(f"/threads/{thread_id}/state").json()["checkpoint_id"]
    attempts = [
        http_bob.get(f"/threads/{thread_id}/state"),
        http_bob.get(f"/threads/{thread_id}/state", params={"subgraphs": "true"}),
        http_bob.get(f"/threads/{thread_id}/state/{checkpoint_id}"),
        http_bob.post(
            f"/threads/{thread_id}/state/checkpoint", json={"checkpoint": {"checkpoint_id": checkpoint_id}}
        ),
        http_bob.post(f"/threads/{thread_id}/state", json={"values": {"draft": "mine"}, "as_node": "draft"}),
        http_bob.post(f"/threads/{thread_id}/state", json={"values": None, "as_node": "__end__"}),
        http_bob.get(f"/threads/{thread_id}/history"),
        http_bob.post(f"/threads/{thread_id}/history", json={"limit": 1000}),
    ]
    for response in attempts:
        assert response.status_code == 404, (response.request.method, response.request.url)
        assert response.json() == {"detail": f"Thread with ID {thread_id} not found"}
    # Nothing changed for alice.
    state = http.get(f"/threads/{thread_id}/state").json()
    assert state["checkpoint_id"] == checkpoint_id and state["values"]["draft"] == "Plan for: deploy to prod"
