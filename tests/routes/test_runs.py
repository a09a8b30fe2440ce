"""Run lifecycle against the real server: the official SDK, plus raw HTTP where bytes matter.

Expected behaviour is the reference's (`shared/reference/langgraph-api.md` §2-§5 and the
`03_runs`, `04_hitl`, `06_runs_more`, `09*`, `17_wait_heartbeat` transcripts).
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest
from langgraph_sdk.errors import NotFoundError

from tests.routes.run_helpers import (  # noqa: F401 (clean_server_log is a module fixture)
    CHAT_ID,
    HITL_ID,
    KWARGS_KEYS,
    NOT_FOUND,
    RUN_KEYS,
    SLOW_ID,
    THREAD_AFTER_RUN_KEYS,
    clean_server_log,
    human,
    run_id_of,
    run_status,
    thread_status,
    until,
)

ROME_ANSWER = "Tool said: It is always sunny in Rome. Anything else?"
SLOW_ERROR = {"__error__": {"error": "RuntimeError", "message": "slow graph failure requested by input"}}
INTERRUPT_VALUE = {"question": "Approve the draft?", "draft": "Plan for: deploy to prod"}

pytestmark = pytest.mark.usefixtures("clean_server_log")


# ------------------------------------------------------------------ 1. background runs


async def test_background_run_shape_get_and_join(sdk, http: httpx.Client, alice) -> None:
    thread = await sdk.threads.create(metadata={"topic": "weather"})
    tid = thread["thread_id"]
    body = {"assistant_id": "chat", "input": human("what is the weather in Rome"), "metadata": {"m": 1}}
    response = http.post(f"/threads/{tid}/runs", json=body)
    assert response.status_code == 200
    run = response.json()
    rid = run["run_id"]
    assert response.headers["content-location"] == f"/threads/{tid}/runs/{rid}"
    assert uuid.UUID(rid).version == 7
    assert list(run) == RUN_KEYS
    assert list(run["kwargs"]) == KWARGS_KEYS
    assert run["status"] == "pending"
    assert run["thread_id"] == tid and run["assistant_id"] == CHAT_ID
    assert run["multitask_strategy"] == "enqueue" and run["langsmith_session_name"] is None
    assert run["created_at"].endswith("+00:00") and len(run["created_at"]) == 32
    expected_metadata = {
        "created_by": "system",
        "topic": "weather",
        "owner": alice.user_id,
        "graph_id": "chat",
        "assistant_id": CHAT_ID,
        "m": 1,
    }
    assert run["metadata"] == expected_metadata
    # Assistant, then thread (which gains graph_id/assistant_id), then request metadata.
    assert list(run["metadata"]) == ["created_by", "topic", "owner", "graph_id", "assistant_id", "m"]
    kwargs = run["kwargs"]
    assert kwargs["input"] == body["input"] and kwargs["command"] is None
    assert kwargs["stream_mode"] == ["values"] and kwargs["context"] == {}
    assert kwargs["interrupt_before"] is None and kwargs["interrupt_after"] is None
    assert kwargs["webhook"] is None and kwargs["feedback_keys"] is None
    assert kwargs["temporary"] is False and kwargs["subgraphs"] is False and kwargs["resumable"] is False
    assert kwargs["checkpoint_during"] is True and kwargs["durability"] == "async"
    assert kwargs["config"]["metadata"] == expected_metadata
    configurable = kwargs["config"]["configurable"]
    assert configurable["run_id"] == rid and configurable["thread_id"] == tid
    assert configurable["graph_id"] == "chat" and configurable["assistant_id"] == CHAT_ID
    assert configurable["user_id"] == alice.user_id

    fetched = await sdk.runs.get(tid, rid)
    assert fetched["status"] in ("pending", "running", "success")
    assert list(fetched) == RUN_KEYS
    values = await sdk.runs.join(tid, rid)
    assert [m["type"] for m in values["messages"]] == ["human", "ai", "tool", "ai"]
    assert values["messages"][1]["tool_calls"][0]["args"] == {"city": "Rome"}
    assert values["messages"][-1]["content"] == ROME_ANSWER
    done = await sdk.runs.get(tid, rid)
    assert done["status"] == "success"
    assert done["updated_at"] > done["created_at"] and done["created_at"] == run["created_at"]
    assert done["metadata"] == expected_metadata

    # Join again after the end: same values, with the wait headers.
    joined = http.get(f"/threads/{tid}/runs/{rid}/join")
    assert joined.status_code == 200 and joined.json() == values
    assert joined.headers["location"] == f"/threads/{tid}/runs/{rid}/join"
    assert joined.headers["content-location"] == f"/threads/{tid}/runs/{rid}"


async def test_list_runs_limit_offset_status_select(sdk, http: httpx.Client) -> None:
    tid = (await sdk.threads.create())["thread_id"]
    first = await sdk.runs.create(tid, "chat", input=human("one"))
    await sdk.runs.join(tid, first["run_id"])
    second = await sdk.runs.create(tid, "slow", input={"fail": True})
    await sdk.runs.join(tid, second["run_id"])
    listed = await sdk.runs.list(tid)
    assert [r["run_id"] for r in listed] == [second["run_id"], first["run_id"]]
    assert [r["status"] for r in listed] == ["error", "success"]
    assert [list(r) for r in listed] == [RUN_KEYS, RUN_KEYS]
    assert [r["run_id"] for r in await sdk.runs.list(tid, limit=1)] == [second["run_id"]]
    assert [r["run_id"] for r in await sdk.runs.list(tid, limit=1, offset=1)] == [first["run_id"]]
    assert await sdk.runs.list(tid, offset=2) == []
    assert [r["run_id"] for r in await sdk.runs.list(tid, status="success")] == [first["run_id"]]
    assert await sdk.runs.list(tid, status="pending") == []
    raw = http.get(f"/threads/{tid}/runs", params=[("select", "run_id"), ("select", "status")])
    assert raw.status_code == 200
    assert raw.json() == [
        {"run_id": second["run_id"], "status": "error"},
        {"run_id": first["run_id"], "status": "success"},
    ]
    assert "x-pagination-total" not in raw.headers
    selected = await sdk.runs.list(tid, select=["status"], status="error")
    assert selected == [{"status": "error"}]
    # Like the reference, an unknown status simply matches nothing.
    bad = http.get(f"/threads/{tid}/runs", params={"status": "bogus"})
    assert bad.status_code == 200 and bad.json() == []


async def test_delete_run_and_unknown_runs(sdk, http: httpx.Client) -> None:
    tid = (await sdk.threads.create())["thread_id"]
    run = await sdk.runs.create(tid, "chat", input=human("bye"))
    rid = run["run_id"]
    await sdk.runs.join(tid, rid)
    deleted = http.delete(f"/threads/{tid}/runs/{rid}")
    assert deleted.status_code == 204 and deleted.content == b""
    again = http.delete(f"/threads/{tid}/runs/{rid}")
    assert again.status_code == 404 and again.json() == {"detail": "Run not found"}
    missing = http.get(f"/threads/{tid}/runs/{rid}")
    assert missing.status_code == 404 and missing.json() == {"detail": "Not Found"}
    other_tid = (await sdk.threads.create())["thread_id"]
    kept = await sdk.runs.create(tid, "chat", input=human("kept"))
    assert http.get(f"/threads/{other_tid}/runs/{kept['run_id']}").status_code == 404
    assert http.delete(f"/threads/{other_tid}/runs/{kept['run_id']}").status_code == 404
    await sdk.runs.join(tid, kept["run_id"])
    unknown = http.get(f"/threads/{tid}/runs/{uuid.uuid4()}")
    assert unknown.status_code == 404 and unknown.json() == {"detail": "Not Found"}
    with pytest.raises(NotFoundError):
        await sdk.runs.get(tid, str(uuid.uuid4()))
    assert http.get(f"/threads/{tid}/runs/not-a-uuid").status_code == 422
    assert [r["run_id"] for r in http.get(f"/threads/{tid}/runs").json()] == [kept["run_id"]]
    # The thread's state is untouched by deleting the run record.
    assert (await sdk.threads.get_state(tid))["values"]["messages"][0]["content"] == "bye"


async def test_join_stream_follows_a_running_run_then_delete_with_the_sdk(sdk) -> None:
    tid = (await sdk.threads.create())["thread_id"]
    run = await sdk.runs.create(
        tid, "slow", input={"seconds": 0.4, "steps": 4}, stream_mode=["values", "custom"]
    )
    rid = run["run_id"]
    await run_status(sdk, tid, rid, "running")
    parts = [p async for p in sdk.runs.join_stream(tid, rid)]
    customs = [p.data for p in parts if p.event == "custom"]
    assert customs and customs[-1] == {"step": 4, "of": 4}
    assert [p.event for p in parts if p.event not in ("custom",)][-1] == "values"
    assert parts[-1].data == {"seconds": 0.4, "steps": 4, "log": ["slept 0.400s in 4 steps"]}
    assert (await sdk.runs.get(tid, rid))["status"] == "success"
    # joining a finished run without Last-Event-ID: nothing more to see
    assert [p async for p in sdk.runs.join_stream(tid, rid)] == []
    await sdk.runs.delete(tid, rid)
    with pytest.raises(NotFoundError):
        await sdk.runs.get(tid, rid)
    with pytest.raises(NotFoundError):
        await sdk.runs.delete(tid, rid)


# ------------------------------------------------------------------ 2. wait


async def test_wait_returns_tool_loop_values_with_headers(sdk, http: httpx.Client) -> None:
    tid = (await sdk.threads.create())["thread_id"]
    response = http.post(
        f"/threads/{tid}/runs/wait", json={"assistant_id": "chat", "input": human("weather in Rome")}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    rid = run_id_of(response)
    assert uuid.UUID(rid).version == 7
    assert response.headers["location"] == f"/threads/{tid}/runs/{rid}/join"
    assert response.headers["content-location"] == f"/threads/{tid}/runs/{rid}"
    values = response.json()
    assert [m["type"] for m in values["messages"]] == ["human", "ai", "tool", "ai"]
    assert values["messages"][2]["content"] == "It is always sunny in Rome"
    assert values["messages"][-1]["content"] == ROME_ANSWER
    assert (await sdk.runs.get(tid, rid))["status"] == "success"
    # A second wait on the same thread accumulates, like the reference's 03_runs transcript.
    more = await sdk.runs.wait(tid, "chat", input=human("hello"))
    assert [m["content"] for m in more["messages"][-2:]] == [
        "hello",
        "You said: hello. This is a deterministic fake reply.",
    ]
    assert len(more["messages"]) == 6


def test_wait_writes_newline_keepalives_then_the_values(http: httpx.Client) -> None:
    tid = http.post("/threads", json={}).json()["thread_id"]
    # The test server's heartbeat is 0.5 s; the run takes 0.7 s.
    with http.stream(
        "POST", f"/threads/{tid}/runs/wait", json={"assistant_id": "slow", "input": {"seconds": 0.7}}
    ) as response:
        assert response.status_code == 200
        raw = b"".join(response.iter_raw())
    assert raw.startswith(b"\n")
    stripped = raw.lstrip(b"\n")
    assert set(raw[: len(raw) - len(stripped)]) == {ord("\n")}
    assert json.loads(stripped) == {"seconds": 0.7, "log": ["slept 0.700s in 1 steps"]}


async def test_wait_on_failing_graph_gives_error_body_and_error_thread(sdk, http: httpx.Client) -> None:
    tid = (await sdk.threads.create())["thread_id"]
    response = http.post(f"/threads/{tid}/runs/wait", json={"assistant_id": "slow", "input": {"fail": True}})
    assert response.status_code == 200
    assert response.json() == SLOW_ERROR
    rid = run_id_of(response)
    assert (await sdk.runs.get(tid, rid))["status"] == "error"
    thread = await sdk.threads.get(tid)
    assert thread["status"] == "error"
    assert thread["error"] == SLOW_ERROR["__error__"]
    assert thread["values"]["fail"] is True
    # join after the end returns the same error body
    assert http.get(f"/threads/{tid}/runs/{rid}/join").json() == SLOW_ERROR
    # the SDK hands the body back when asked not to raise
    assert await sdk.runs.wait(tid, "slow", input={"fail": True}, raise_error=False) == SLOW_ERROR
    # a successful run clears the thread error
    await sdk.runs.wait(tid, "slow", input={"fail": False})
    thread = await sdk.threads.get(tid)
    assert thread["status"] == "idle" and thread["error"] is None


async def test_thread_values_show_unwritten_reducer_channels(sdk) -> None:
    tid = (await sdk.threads.create())["thread_id"]
    await sdk.runs.wait(tid, "slow", input={"fail": True}, raise_error=False)
    assert (await sdk.threads.get(tid))["values"] == {"fail": True, "log": []}


# ------------------------------------------------------------------ 3. thread after its first run


async def test_thread_after_first_run_and_search_by_assistant(sdk, alice) -> None:
    tag = str(uuid.uuid4())
    thread = await sdk.threads.create(metadata={"tag": tag})
    tid = thread["thread_id"]
    values = await sdk.runs.wait(tid, "chat", input=human("hi"))
    after = await sdk.threads.get(tid)
    assert list(after) == THREAD_AFTER_RUN_KEYS
    assert after["metadata"] == {
        "tag": tag,
        "owner": alice.user_id,
        "graph_id": "chat",
        "assistant_id": CHAT_ID,
    }
    assert after["config"] == {"configurable": {}}
    assert after["status"] == "idle"
    assert after["values"] == values
    assert after["error"] is None and after["interrupts"] == {}
    assert after["updated_at"] > thread["updated_at"]
    assert after["state_updated_at"] > thread["state_updated_at"]
    found = await sdk.threads.search(metadata={"assistant_id": CHAT_ID, "tag": tag})
    assert [t["thread_id"] for t in found] == [tid]
    assert await sdk.threads.search(metadata={"assistant_id": HITL_ID, "tag": tag}) == []


# ------------------------------------------------------------------ 4. interrupts


async def test_interrupt_and_resume(sdk, http: httpx.Client) -> None:
    tid = (await sdk.threads.create())["thread_id"]
    response = http.post(
        f"/threads/{tid}/runs/wait", json={"assistant_id": "hitl", "input": human("deploy to prod")}
    )
    body = response.json()
    assert body["draft"] == "Plan for: deploy to prod"
    [interrupt] = body["__interrupt__"]
    assert interrupt["value"] == INTERRUPT_VALUE
    assert len(interrupt["id"]) == 32 and all(c in "0123456789abcdef" for c in interrupt["id"])
    assert list(interrupt) == ["value", "id", "response_schema"] and interrupt["response_schema"] is None
    rid = run_id_of(response)
    assert (await sdk.runs.get(tid, rid))["status"] == "success"
    thread = await sdk.threads.get(tid)
    assert thread["status"] == "interrupted"
    [(task_id, items)] = thread["interrupts"].items()
    assert items == [{"id": interrupt["id"], "value": INTERRUPT_VALUE}]
    state = await sdk.threads.get_state(tid)
    assert state["next"] == ["review"] and state["tasks"][0]["id"] == task_id

    resumed = await sdk.runs.wait(tid, "hitl", command={"resume": {"approved": True}})
    assert "__interrupt__" not in resumed
    assert resumed["decision"] == {"approved": True}
    assert resumed["messages"][-1]["content"] == 'Decision recorded: {"approved": true}'
    thread = await sdk.threads.get(tid)
    assert thread["status"] == "idle" and thread["interrupts"] == {}
    assert [r["status"] for r in await sdk.runs.list(tid)] == ["success", "success"]


@pytest.mark.parametrize(
    ("option", "stopped_before"),
    [
        ({"interrupt_before": ["review"]}, "review"),
        ({"interrupt_after": ["draft"]}, "review"),
        ({"interrupt_before": "*"}, "draft"),
        ({"interrupt_after": "*"}, "review"),
    ],
)
async def test_interrupt_before_after_then_continue_with_null_input(
    sdk, http: httpx.Client, option: dict, stopped_before: str
) -> None:
    tid = (await sdk.threads.create())["thread_id"]
    first = http.post(
        f"/threads/{tid}/runs/wait", json={"assistant_id": "hitl", "input": human("go"), **option}
    )
    assert first.status_code == 200
    assert "__interrupt__" not in first.json()
    run = await sdk.runs.get(tid, run_id_of(first))
    assert run["status"] == "success"
    key = next(iter(option))
    assert run["kwargs"][key] == option[key]
    thread = await sdk.threads.get(tid)
    assert thread["status"] == "interrupted" and thread["interrupts"] == {}
    assert (await sdk.threads.get_state(tid))["next"] == [stopped_before]
    # input: null continues; the graph then stops at its own interrupt() in `review`
    second = http.post(f"/threads/{tid}/runs/wait", json={"assistant_id": "hitl", "input": None}).json()
    assert second["draft"] == "Plan for: go"
    assert second["__interrupt__"][0]["value"] == {"question": "Approve the draft?", "draft": "Plan for: go"}
    thread = await sdk.threads.get(tid)
    assert thread["status"] == "interrupted" and len(thread["interrupts"]) == 1


async def test_chat_interrupt_before_tools_then_continue(sdk) -> None:
    tid = (await sdk.threads.create())["thread_id"]
    first = await sdk.runs.wait(tid, "chat", input=human("weather in Oslo"), interrupt_before=["tools"])
    assert [m["type"] for m in first["messages"]] == ["human", "ai"]
    assert (await sdk.threads.get(tid))["status"] == "interrupted"
    final = await sdk.runs.wait(tid, "chat", input=None)
    assert final["messages"][-1]["content"] == "Tool said: It is always sunny in Oslo. Anything else?"
    assert (await sdk.threads.get(tid))["status"] == "idle"


# ------------------------------------------------------------------ 5. fork / regenerate


async def test_regenerate_and_edit_from_an_earlier_checkpoint(sdk) -> None:
    tid = (await sdk.threads.create())["thread_id"]
    await sdk.runs.wait(tid, "chat", input=human("first"))
    await sdk.runs.wait(tid, "chat", input=human("second"))
    history = await sdk.threads.get_history(tid, limit=20)
    # Newest first: [second: agent, input], [first: agent, input], the empty start.
    contents = [[m["content"] for m in s["values"].get("messages", [])] for s in history]
    assert len(contents[0]) == 4

    # Regenerate (OAP): rerun from the checkpoint whose next step is the second answer.
    before_answer = next(s for s in history if s["next"] == ["agent"] and len(s["values"]["messages"]) == 3)
    chosen = before_answer["checkpoint"]["checkpoint_id"]
    regenerated = await sdk.runs.wait(tid, "chat", input=None, checkpoint={"checkpoint_id": chosen})
    assert [m["content"] for m in regenerated["messages"]][-2:] == [
        "second",
        "You said: second. This is a deterministic fake reply.",
    ]
    assert len(regenerated["messages"]) == 4
    state = await sdk.threads.get_state(tid)
    assert state["values"] == regenerated
    # LangGraph first copies the chosen checkpoint (source "fork", parent = the chosen one).
    branch = await _chain(sdk, tid)
    assert chosen in branch and history[0]["checkpoint"]["checkpoint_id"] not in branch
    fork = (await sdk.threads.get_history(tid, limit=50))[1]
    assert fork["metadata"]["source"] == "fork"
    assert fork["parent_checkpoint"]["checkpoint_id"] == chosen

    # Edit: new input from the end of the first exchange.
    end_of_first = next(s for s in history if s["next"] == [] and len(s["values"]["messages"]) == 2)
    fork_at = end_of_first["checkpoint"]["checkpoint_id"]
    edited = await sdk.runs.wait(tid, "chat", input=human("edited"), checkpoint_id=fork_at)
    assert [m["content"] for m in edited["messages"]] == [
        "first",
        "You said: first. This is a deterministic fake reply.",
        "edited",
        "You said: edited. This is a deterministic fake reply.",
    ]
    new_history = await sdk.threads.get_history(tid, limit=50)
    assert new_history[0]["values"] == edited
    branch = await _chain(sdk, tid)
    assert fork_at in branch
    assert chosen not in branch and history[0]["checkpoint"]["checkpoint_id"] not in branch
    after_fork = branch[branch.index(fork_at) - 1]
    by_id = {s["checkpoint"]["checkpoint_id"]: s for s in new_history}
    assert by_id[after_fork]["metadata"]["source"] == "input"
    # Both earlier branches are still in the history.
    assert {chosen, history[0]["checkpoint"]["checkpoint_id"]} <= set(by_id)


async def _chain(sdk, thread_id: str) -> list[str]:
    """Checkpoint ids from the thread's latest back to its first, following parents."""
    by_id = {s["checkpoint"]["checkpoint_id"]: s for s in await sdk.threads.get_history(thread_id, limit=100)}
    current = (await sdk.threads.get_state(thread_id))["checkpoint"]["checkpoint_id"]
    chain = []
    while current is not None:
        chain.append(current)
        parent = by_id[current]["parent_checkpoint"]
        current = parent["checkpoint_id"] if parent else None
    return chain


# ------------------------------------------------------------------ 7. cancel


async def test_cancel_running_run(sdk, http: httpx.Client) -> None:
    tid = (await sdk.threads.create())["thread_id"]
    run = await sdk.runs.create(tid, "slow", input={"seconds": 0.6, "steps": 3})
    rid = run["run_id"]
    await run_status(sdk, tid, rid, "running")
    response = http.post(f"/threads/{tid}/runs/{rid}/cancel")
    assert response.status_code == 202 and response.content == b""
    assert (await run_status(sdk, tid, rid, "interrupted", "success"))["status"] == "interrupted"
    assert (await thread_status(sdk, tid, "interrupted", "idle"))["status"] == "interrupted"
    again = http.post(f"/threads/{tid}/runs/{rid}/cancel")
    assert again.status_code == 404
    assert again.json() == {
        "detail": "No matching runs to cancel. Please verify the thread ID and run IDs are correct, "
        "and the runs haven't been deleted or completed."
    }
    unknown = http.post(f"/threads/{tid}/runs/{uuid.uuid4()}/cancel")
    assert unknown.status_code == 404 and unknown.json() == {"detail": "No runs found to cancel."}
    # An unknown action means `interrupt` in the reference (no 422).
    run = await sdk.runs.create(tid, "slow", input={"seconds": 0.6, "steps": 3})
    await run_status(sdk, tid, run["run_id"], "running")
    odd = http.post(f"/threads/{tid}/runs/{run['run_id']}/cancel", params={"action": "bogus"})
    assert odd.status_code == 202
    assert (await run_status(sdk, tid, run["run_id"], "interrupted"))["status"] == "interrupted"


async def test_cancel_wait_returns_values_and_rollback_deletes(sdk, http: httpx.Client) -> None:
    tid = (await sdk.threads.create())["thread_id"]
    run = await sdk.runs.create(tid, "slow", input={"seconds": 0.6, "steps": 3})
    rid = run["run_id"]
    await run_status(sdk, tid, rid, "running")
    waited = http.post(f"/threads/{tid}/runs/{rid}/cancel", params={"wait": "true"})
    assert waited.status_code == 200
    assert waited.headers["location"] == f"/threads/{tid}/runs/{rid}/join"
    assert waited.headers["content-location"] == f"/threads/{tid}/runs/{rid}"
    # The reference answers with what the run streamed after the cancel: nothing.
    assert waited.json() == {}
    assert (await sdk.runs.get(tid, rid))["status"] == "interrupted"
    # Joining afterwards gives the values the run left (the input step), as the graph reads them.
    assert await sdk.runs.join(tid, rid) == {"seconds": 0.6, "steps": 3, "log": []}

    interrupted_rid = rid
    run = await sdk.runs.create(tid, "slow", input={"seconds": 0.6, "steps": 3})
    rid = run["run_id"]
    await run_status(sdk, tid, rid, "running")
    rolled = http.post(f"/threads/{tid}/runs/{rid}/cancel", params={"wait": "1", "action": "rollback"})
    assert rolled.status_code == 200 and rolled.json() == {}
    assert http.get(f"/threads/{tid}/runs/{rid}").status_code == 404
    assert [r["run_id"] for r in await sdk.runs.list(tid)] == [interrupted_rid]


async def test_cancel_rollback_without_wait(sdk, http: httpx.Client) -> None:
    tid = (await sdk.threads.create())["thread_id"]
    kept = await sdk.runs.wait(tid, "slow", input={"seconds": 0.01})
    run = await sdk.runs.create(tid, "slow", input={"seconds": 0.6, "steps": 3})
    rid = run["run_id"]
    await run_status(sdk, tid, rid, "running")
    await sdk.runs.cancel(tid, rid, action="rollback")
    await until(lambda: _status_code(http, f"/threads/{tid}/runs/{rid}"), lambda code: code == 404)
    thread = await thread_status(sdk, tid, "idle")
    assert thread["values"] == kept
    assert len(await sdk.runs.list(tid)) == 1
    history = await sdk.threads.get_history(tid, limit=50)
    assert all(s["metadata"].get("run_id") != rid for s in history)


async def _status_code(http: httpx.Client, path: str) -> int:
    return http.get(path).status_code


async def test_bulk_cancel_by_ids_and_by_status(sdk, http: httpx.Client) -> None:
    tid = (await sdk.threads.create())["thread_id"]
    running = await sdk.runs.create(tid, "slow", input={"seconds": 0.6, "steps": 3})
    queued = await sdk.runs.create(tid, "slow", input={"seconds": 0.01})
    await run_status(sdk, tid, running["run_id"], "running")
    assert (await sdk.runs.get(tid, queued["run_id"]))["status"] == "pending"
    by_ids = http.post("/runs/cancel", json={"thread_id": tid, "run_ids": [queued["run_id"]]})
    assert by_ids.status_code == 204 and by_ids.content == b""
    assert (await run_status(sdk, tid, queued["run_id"], "interrupted"))["status"] == "interrupted"
    by_status = http.post("/runs/cancel", json={"status": "running"})
    assert by_status.status_code == 204
    await run_status(sdk, tid, running["run_id"], "interrupted")
    await thread_status(sdk, tid, "interrupted")
    finished = http.post("/runs/cancel", json={"thread_id": tid, "run_ids": [running["run_id"]]})
    assert finished.status_code == 404
    assert finished.json()["detail"].startswith("No matching runs to cancel.")
    unknown = http.post("/runs/cancel", json={"thread_id": tid, "run_ids": [str(uuid.uuid4())]})
    assert unknown.status_code == 404 and unknown.json() == {"detail": "No runs found to cancel."}
    empty = http.post("/runs/cancel", json={})
    assert empty.status_code == 422 and "'oneOf'" in empty.json()["detail"]
    assert http.post("/runs/cancel", json={"run_ids": [str(uuid.uuid4())]}).status_code == 422
    assert http.post("/runs/cancel", json={"status": "bogus"}).status_code == 422
    assert http.post("/runs/cancel", json={"status": "all", "thread_id": tid}).status_code == 422
    assert http.post("/runs/cancel", json={"thread_id": tid, "run_ids": ["nope"]}).status_code == 422


async def test_cancelled_pending_run_has_an_empty_stream(sdk, http: httpx.Client) -> None:
    tid = (await sdk.threads.create())["thread_id"]
    blocker = await sdk.runs.create(tid, "slow", input={"seconds": 0.6, "steps": 3})
    await run_status(sdk, tid, blocker["run_id"], "running")
    created: list[str] = []
    parts: list = []

    async def consume() -> None:
        async for part in sdk.runs.stream(
            tid,
            "slow",
            input={"seconds": 0.01},
            stream_mode=["values", "custom"],
            on_run_created=lambda meta: created.append(meta["run_id"]),
        ):
            parts.append(part)

    task = asyncio.ensure_future(consume())
    await until(lambda: asyncio.sleep(0, created), bool)
    rid = created[0]
    assert (await sdk.runs.get(tid, rid))["status"] == "pending"
    await sdk.runs.cancel(tid, rid)
    await asyncio.wait_for(task, 5)
    assert parts == []
    assert (await sdk.runs.get(tid, rid))["status"] == "interrupted"
    # The thread stays busy while the blocker runs (the reference sets it idle here).
    thread = await sdk.threads.get(tid)
    if (await sdk.runs.get(tid, blocker["run_id"]))["status"] == "running":
        assert thread["status"] == "busy"
    # the blocker is unaffected
    assert (await run_status(sdk, tid, blocker["run_id"], "success"))["status"] == "success"
    assert (await thread_status(sdk, tid, "idle"))["values"]["log"] == ["slept 0.600s in 3 steps"]


async def test_stream_of_cancelled_running_run_just_ends(sdk) -> None:
    tid = (await sdk.threads.create())["thread_id"]
    events: list[str] = []
    created: list[str] = []

    async def consume() -> None:
        async for part in sdk.runs.stream(
            tid,
            "slow",
            input={"seconds": 0.9, "steps": 3},
            stream_mode=["values", "custom"],
            on_run_created=lambda meta: created.append(meta["run_id"]),
        ):
            events.append(part.event)

    task = asyncio.ensure_future(consume())
    await until(lambda: asyncio.sleep(0, events), lambda e: "custom" in e)
    await sdk.runs.cancel(tid, created[0])
    await asyncio.wait_for(task, 5)
    assert events[:2] == ["metadata", "values"]
    assert "error" not in events and "end" not in events
    assert (await sdk.runs.get(tid, created[0]))["status"] == "interrupted"


@pytest.mark.parametrize(("on_disconnect", "expected"), [("cancel", "interrupted"), ("continue", "success")])
async def test_wait_client_disconnect(sdk, base_url: str, alice, on_disconnect: str, expected: str) -> None:
    tid = (await sdk.threads.create())["thread_id"]
    # Long enough for the server to notice (at a keep-alive write, every 0.5 s; in practice the
    # third one), short enough to finish when the run continues.
    graph_input = {"seconds": 3, "steps": 30} if on_disconnect == "cancel" else {"seconds": 0.6, "steps": 3}
    body = {"assistant_id": "slow", "input": graph_input, "on_disconnect": on_disconnect}
    async with (
        httpx.AsyncClient(base_url=base_url, headers=alice.headers, timeout=5) as client,
        client.stream("POST", f"/threads/{tid}/runs/wait", json=body) as response,
    ):
        assert response.status_code == 200
        rid = run_id_of(response)
        await run_status(sdk, tid, rid, "running")
    run = await run_status(sdk, tid, rid, "interrupted", "success", timeout=2.5)
    assert run["status"] == expected
    thread = await thread_status(sdk, tid, "interrupted", "idle")
    assert thread["status"] == ("interrupted" if expected == "interrupted" else "idle")


async def test_deleting_a_running_run(sdk, http: httpx.Client) -> None:
    tid = (await sdk.threads.create())["thread_id"]
    run = await sdk.runs.create(tid, "slow", input={"seconds": 0.6, "steps": 3})
    await run_status(sdk, tid, run["run_id"], "running")
    assert http.delete(f"/threads/{tid}/runs/{run['run_id']}").status_code == 204
    assert http.get(f"/threads/{tid}/runs/{run['run_id']}").status_code == 404
    thread = await thread_status(sdk, tid, "interrupted", "idle")
    assert thread["status"] == "interrupted"
    # the thread is usable again at once (the cancelled run's input checkpoint is kept)
    after = await sdk.runs.wait(tid, "slow", input={"seconds": 0.01})
    assert after == {"seconds": 0.01, "steps": 3, "log": ["slept 0.010s in 3 steps"]}


async def test_cancelling_twice_and_cancel_then_rollback(sdk, http: httpx.Client) -> None:
    tid = (await sdk.threads.create())["thread_id"]
    run = await sdk.runs.create(tid, "slow", input={"seconds": 0.6, "steps": 3})
    rid = run["run_id"]
    await run_status(sdk, tid, rid, "running")
    first = http.post(f"/threads/{tid}/runs/{rid}/cancel")
    second = http.post(f"/threads/{tid}/runs/{rid}/cancel", params={"action": "rollback"})
    assert first.status_code == 202 and second.status_code in (202, 404)
    if second.status_code == 202:
        await until(lambda: _status_code(http, f"/threads/{tid}/runs/{rid}"), lambda c: c == 404)
    else:
        await run_status(sdk, tid, rid, "interrupted")
    await thread_status(sdk, tid, "idle", "interrupted")
    after = await sdk.runs.wait(tid, "slow", input={"seconds": 0.01, "steps": 1})
    assert after["log"] == ["slept 0.010s in 1 steps"]
    assert len(await sdk.runs.list(tid)) == (1 if second.status_code == 202 else 2)


# ------------------------------------------------------------------ 8. stateless


async def test_stateless_wait_deletes_its_thread_by_default(sdk, http: httpx.Client) -> None:
    response = http.post("/runs/wait", json={"assistant_id": "chat", "input": human("stateless")})
    assert response.status_code == 200
    assert response.json()["messages"][-1]["content"] == (
        "You said: stateless. This is a deterministic fake reply."
    )
    location = response.headers["location"]
    _, _, tid, _, rid, join = location.split("/")
    assert join == "join" and response.headers["content-location"] == f"/threads/{tid}/runs/{rid}"
    assert uuid.UUID(tid).version == 7 and uuid.UUID(rid).version == 7
    gone = http.get(f"/threads/{tid}")
    assert gone.status_code == 404 and gone.json() == {"detail": f"Thread with ID {tid} not found"}


async def test_stateless_wait_with_keep_keeps_the_thread(sdk, http: httpx.Client, alice) -> None:
    response = http.post(
        "/runs/wait", json={"assistant_id": "chat", "input": human("kept"), "on_completion": "keep"}
    )
    tid = response.headers["location"].split("/")[2]
    thread = await sdk.threads.get(tid)
    assert thread["status"] == "idle"
    assert thread["metadata"] == {"owner": alice.user_id, "graph_id": "chat", "assistant_id": CHAT_ID}
    assert thread["values"] == response.json()
    [run] = await sdk.runs.list(tid)
    assert run["kwargs"]["temporary"] is False
    assert "graph_id" not in run["metadata"]


@pytest.mark.parametrize(("on_completion", "expected"), [(None, 404), ("delete", 404), ("keep", 200)])
async def test_stateless_stream_on_completion(
    sdk, http: httpx.Client, on_completion: str | None, expected: int
) -> None:
    body = {"assistant_id": "echo_config", "input": {}}
    if on_completion:
        body["on_completion"] = on_completion
    with http.stream("POST", "/runs/stream", json=body) as response:
        raw = response.read()
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    rid = response.headers["content-location"].rsplit("/", 1)[1]
    assert response.headers["location"] == f"/runs/{rid}/stream"
    assert response.headers["content-location"] == f"/runs/{rid}"
    frames = [f for f in raw.split(b"\r\n\r\n") if f.startswith(b"event: values")]
    last = json.loads(frames[-1].split(b"data: ", 1)[1])
    tid = last["seen"]["configurable"]["thread_id"]
    assert last["seen"]["configurable"]["run_id"] == rid
    code = await until(lambda: _status_code(http, f"/threads/{tid}"), lambda c: c == expected, timeout=3)
    assert code == expected
    # the SDK sees the same stream
    parts = [p async for p in sdk.runs.stream(None, "echo_config", input={}, on_completion=on_completion)]
    # (no `values` for the empty input step)
    assert [p.event for p in parts] == ["metadata", "values"]


async def test_stateless_background_runs_and_batch(sdk, http: httpx.Client) -> None:
    response = http.post(
        "/runs", json={"assistant_id": "chat", "input": human("bg"), "on_completion": "keep"}
    )
    assert response.status_code == 200
    run = response.json()
    assert response.headers["content-location"] == f"/runs/{run['run_id']}"
    assert list(run) == RUN_KEYS and run["status"] == "pending"
    assert "graph_id" not in run["metadata"] and run["metadata"]["assistant_id"] == CHAT_ID
    assert run["kwargs"]["temporary"] is False
    tid = run["thread_id"]
    await run_status(sdk, tid, run["run_id"], "success")
    assert (await thread_status(sdk, tid, "idle"))["values"]["messages"][-1]["type"] == "ai"

    default = http.post("/runs", json={"assistant_id": "chat", "input": human("bg2")}).json()
    assert default["kwargs"]["temporary"] is True
    await until(lambda: _status_code(http, f"/threads/{default['thread_id']}"), lambda c: c == 404)

    batch = http.post(
        "/runs/batch",
        json=[{"assistant_id": "chat", "input": human("b1")}, {"assistant_id": "slow", "input": {}}],
    )
    assert batch.status_code == 200
    runs = batch.json()
    assert [list(r) for r in runs] == [RUN_KEYS, RUN_KEYS]
    assert [r["assistant_id"] for r in runs] == [CHAT_ID, SLOW_ID]
    assert runs[0]["thread_id"] != runs[1]["thread_id"]
    bad = http.post("/runs/batch", json=[{"assistant_id": "chat"}, {"input": 1}])
    assert bad.status_code == 422 and "assistant_id" in bad.json()["detail"]
    assert http.post("/runs/batch", json=[]).status_code == 422
    assert http.post("/runs/batch", json={"assistant_id": "chat"}).status_code == 422


# ------------------------------------------------------------------ 9. validation


async def test_run_request_validation(sdk, http: httpx.Client) -> None:
    tid = (await sdk.threads.create())["thread_id"]
    for path in (f"/threads/{tid}/runs", f"/threads/{tid}/runs/wait", f"/threads/{tid}/runs/stream", "/runs"):
        missing = http.post(path, json={"input": {}})
        assert missing.status_code == 422, path
        assert missing.json()["detail"].startswith('"assistant_id" is a required property'), path
        unknown_uuid = http.post(path, json={"assistant_id": str(uuid.uuid4())})
        assert unknown_uuid.status_code == 404 and unknown_uuid.json() == NOT_FOUND, path
        unknown_graph = http.post(path, json={"assistant_id": "nope"})
        assert unknown_graph.status_code == 422, path
        assert unknown_graph.json()["detail"].startswith(
            "Invalid assistant: 'nope'. Must be either:\n- A valid assistant UUID, or\n"
            "- One of the registered graphs: chat, hitl, nested, slow, factory, uncompiled, ctx, echo_config"
        ), path
        both = http.post(
            path,
            json={"assistant_id": "chat", "config": {"configurable": {"a": 1}}, "context": {"b": 1}},
        )
        assert both.status_code == 400, path
        assert both.json()["detail"].startswith("Cannot specify both configurable and context."), path
        bad_mode = http.post(path, json={"assistant_id": "chat", "stream_mode": "bogus"})
        assert bad_mode.status_code == 422 and "anyOf" in bad_mode.json()["detail"], path
        bad_strategy = http.post(path, json={"assistant_id": "chat", "multitask_strategy": "bogus"})
        assert bad_strategy.status_code == 422, path
        not_json = http.post(path, content=b"{nope")
        assert not_json.status_code == 422, path
        assert http.post(path, json=[1]).status_code == 422, path
        assert http.post(path, json={"assistant_id": "chat", "after_seconds": -1}).status_code == 422
        assert http.post(path, json={"assistant_id": "chat", "webhook": "ftp://x"}).status_code == 422
        assert http.post(path, json={"assistant_id": "chat", "interrupt_before": "x"}).status_code == 422
        assert http.post(path, json={"assistant_id": "chat", "command": 3}).status_code == 422
    # None of these created a run.
    assert await sdk.runs.list(tid) == []
    assert (await sdk.threads.get(tid))["status"] == "idle"
    bad_thread = http.post("/threads/not-a-uuid/runs", json={"assistant_id": "chat"})
    assert bad_thread.status_code == 422


async def test_unknown_thread_and_if_not_exists_create(sdk, http: httpx.Client, alice) -> None:
    tid = str(uuid.uuid4())
    for path in ("runs", "runs/wait", "runs/stream"):
        missing = http.post(f"/threads/{tid}/{path}", json={"assistant_id": "chat", "input": human("x")})
        assert missing.status_code == 404 and missing.json() == NOT_FOUND
    created = http.post(
        f"/threads/{tid}/runs/wait",
        json={"assistant_id": "chat", "input": human("x"), "if_not_exists": "create"},
    )
    assert created.status_code == 200
    assert created.json()["messages"][-1]["content"] == "You said: x. This is a deterministic fake reply."
    thread = await sdk.threads.get(tid)
    assert thread["thread_id"] == tid and thread["status"] == "idle"
    assert thread["metadata"] == {"owner": alice.user_id, "graph_id": "chat", "assistant_id": CHAT_ID}
    assert thread["config"] == {"configurable": {}}


async def test_failed_validation_has_no_side_effects(sdk, http: httpx.Client) -> None:
    tid = (await sdk.threads.create())["thread_id"]
    run = await sdk.runs.create(tid, "slow", input={"seconds": 0.6, "steps": 3})
    await run_status(sdk, tid, run["run_id"], "running")
    # A bad request with a preempting strategy must not cancel the running run.
    for body in (
        {"assistant_id": "slow", "multitask_strategy": "interrupt", "stream_mode": "bogus"},
        {
            "assistant_id": "slow",
            "multitask_strategy": "rollback",
            "config": {"configurable": {"a": 1}},
            "context": {"a": 1},
        },
    ):
        assert http.post(f"/threads/{tid}/runs", json=body).status_code in (400, 422)
    assert (await sdk.runs.get(tid, run["run_id"]))["status"] == "running"
    # ... and must not create the thread either.
    new_tid = str(uuid.uuid4())
    bad = http.post(
        f"/threads/{new_tid}/runs",
        json={"assistant_id": "chat", "if_not_exists": "create", "stream_mode": "bogus"},
    )
    assert bad.status_code == 422
    assert http.get(f"/threads/{new_tid}").status_code == 404
    assert (await run_status(sdk, tid, run["run_id"], "success"))["status"] == "success"


async def test_context_and_configurable_reach_the_graph(sdk, service_http: httpx.Client) -> None:
    tid = (await sdk.threads.create())["thread_id"]
    assert await sdk.runs.wait(tid, "ctx", input={"name": "Ada"}, context={"greeting": "Ciao"}) == {
        "name": "Ada",
        "reply": "Ciao, Ada!",
    }
    run = (await sdk.runs.list(tid))[0]
    assert run["kwargs"]["context"] == {"greeting": "Ciao"}
    default = await sdk.runs.wait(None, "ctx", input={"name": "Bo"})
    assert default == {"name": "Bo", "reply": "Hello, Bo!"}

    marker = f"m-{uuid.uuid4().hex[:8]}"
    result = await sdk.runs.wait(None, "factory", input={}, config={"configurable": {"marker": marker}})
    assert result == {"seen": marker}
    # Users may only read namespaces under their own id: look with the service identity.
    item = service_http.get("/store/items", params={"namespace": "factory.calls", "key": marker})
    assert item.status_code == 200 and item.json()["value"] == {"marker": marker}


async def test_assistant_config_applies_under_the_request_config(sdk) -> None:
    assistant = await sdk.assistants.create("chat", config={"recursion_limit": 2})
    limited = await sdk.runs.wait(
        None, assistant["assistant_id"], input=human("weather in Rome"), raise_error=False
    )
    assert limited["__error__"]["error"] == "GraphRecursionError"
    assert limited["__error__"]["message"].startswith("Recursion limit of 2 reached")
    raised = await sdk.runs.wait(
        None, assistant["assistant_id"], input=human("weather in Rome"), config={"recursion_limit": 10}
    )
    assert raised["messages"][-1]["content"] == ROME_ANSWER


# ------------------------------------------------------------------ 10. webhooks


class _Receiver:
    """A stdlib HTTP server on 127.0.0.1 that records the JSON bodies POSTed to it."""

    def __init__(self) -> None:
        received: list[dict] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                received.append(
                    {
                        "path": self.path,
                        "content_type": self.headers.get("content-type"),
                        "body": json.loads(self.rfile.read(length)),
                    }
                )
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def receiver() -> Iterator[_Receiver]:
    with _Receiver() as r:
        yield r


async def test_webhook_receives_the_finished_run(sdk, receiver: _Receiver) -> None:
    tid = (await sdk.threads.create())["thread_id"]
    run = await sdk.runs.create(tid, "chat", input=human("hook"), webhook=f"{receiver.url}/hook?x=1")
    assert run["kwargs"]["webhook"] == f"{receiver.url}/hook?x=1"
    await sdk.runs.join(tid, run["run_id"])
    [delivery] = await until(lambda: asyncio.sleep(0, receiver.received), bool, timeout=3)
    assert delivery["path"] == "/hook?x=1"
    assert delivery["content_type"].startswith("application/json")
    body = delivery["body"]
    assert body["run_id"] == run["run_id"] and body["thread_id"] == tid
    assert body["status"] == "success"
    assert list(body)[: len(RUN_KEYS)] == RUN_KEYS


async def test_unreachable_webhook_does_not_break_the_run(sdk, http: httpx.Client) -> None:
    from tests.harness.server import free_port

    dead = f"http://127.0.0.1:{free_port()}/nothing"
    values = await sdk.runs.wait(None, "slow", input={"seconds": 0.01}, webhook=dead)
    assert values["log"] == ["slept 0.010s in 1 steps"]
    tid = (await sdk.threads.create())["thread_id"]
    run = await sdk.runs.create(tid, "slow", input={"fail": True}, webhook=dead)
    await sdk.runs.join(tid, run["run_id"])
    assert (await sdk.runs.get(tid, run["run_id"]))["status"] == "error"
    assert http.get("/ok").status_code == 200


# ------------------------------------------------------------------ 11. after_seconds


async def test_after_seconds_keeps_the_run_pending_then_runs_it(sdk) -> None:
    tid = (await sdk.threads.create())["thread_id"]
    run = await sdk.runs.create(tid, "slow", input={"seconds": 0.01}, after_seconds=1)
    rid = run["run_id"]
    await asyncio.sleep(0.5)
    assert (await sdk.runs.get(tid, rid))["status"] == "pending"
    assert (await sdk.threads.get(tid))["status"] == "busy"
    done = await run_status(sdk, tid, rid, "success", timeout=3)
    assert done["status"] == "success"
    assert (await thread_status(sdk, tid, "idle"))["values"]["log"] == ["slept 0.010s in 1 steps"]


async def test_cancelling_a_delayed_run_leaves_the_thread_idle(sdk) -> None:
    tid = (await sdk.threads.create())["thread_id"]
    run = await sdk.runs.create(tid, "slow", input={"seconds": 0.01}, after_seconds=5)
    await sdk.runs.cancel(tid, run["run_id"])
    assert (await run_status(sdk, tid, run["run_id"], "interrupted"))["status"] == "interrupted"
    thread = await thread_status(sdk, tid, "idle", "interrupted")
    assert thread["status"] == "idle" and thread["values"] is None


async def test_deleting_a_thread_ends_its_queued_runs_and_leaves_no_state(sdk, http: httpx.Client) -> None:
    tid = (await sdk.threads.create())["thread_id"]
    running = await sdk.runs.create(tid, "slow", input={"seconds": 0.4, "steps": 2})
    await run_status(sdk, tid, running["run_id"], "running")
    queued = asyncio.ensure_future(sdk.runs.wait(tid, "slow", input={"seconds": 0.01}, raise_error=False))
    await until(lambda: sdk.runs.list(tid), lambda runs: len(runs) == 2)
    assert http.delete(f"/threads/{tid}").status_code == 204
    # The queued run's waiter is answered instead of hanging.
    await asyncio.wait_for(queued, 3)
    await asyncio.sleep(0.5)  # the running run has ended by now
    assert http.get(f"/threads/{tid}").status_code == 404
    # A thread re-created with the same id starts empty: no checkpoints from the old run.
    assert http.post("/threads", json={"thread_id": tid}).status_code == 200
    assert await sdk.threads.get_history(tid) == []
    assert (await sdk.threads.get(tid))["values"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"assistant_id": 7},
        {"assistant_id": None},
        {"assistant_id": "chat", "config": []},
        {"assistant_id": "chat", "config": {"configurable": "x"}},
        {"assistant_id": "chat", "context": "x"},
        {"assistant_id": "chat", "metadata": "x"},
        {"assistant_id": "chat", "checkpoint": "x"},
        {"assistant_id": "chat", "checkpoint": {"checkpoint_id": 5}},
        {"assistant_id": "chat", "checkpoint_id": "not-a-uuid"},
        {"assistant_id": "chat", "stream_mode": ["values", 3]},
        {"assistant_id": "chat", "stream_mode": None},
        {"assistant_id": "chat", "stream_mode": {"a": 1}},
        {"assistant_id": "chat", "interrupt_before": [1]},
        {"assistant_id": "chat", "interrupt_after": {"a": 1}},
        {"assistant_id": "chat", "command": ["resume"]},
        {"assistant_id": "chat", "feedback_keys": "x"},
        {"assistant_id": "chat", "durability": "forever"},
        {"assistant_id": "chat", "on_disconnect": "explode"},
        {"assistant_id": "chat", "on_completion": "explode"},
        {"assistant_id": "chat", "if_not_exists": "maybe"},
        {"assistant_id": "chat", "after_seconds": "soon"},
        {"assistant_id": "chat", "webhook": 3},
        {"assistant_id": "chat", "stream_subgraphs": "yes please"},
        {"assistant_id": "hitl", "command": {"resume": 1}},
    ],
)
def test_bad_run_bodies_are_4xx_json_never_500(http: httpx.Client, body: dict) -> None:
    tid = http.post("/threads", json={}).json()["thread_id"]
    for path in (f"/threads/{tid}/runs", f"/threads/{tid}/runs/wait", f"/threads/{tid}/runs/stream", "/runs"):
        response = http.post(path, json=body)
        if body.get("command") == {"resume": 1} and path != "/runs":
            assert response.status_code == 200, path  # resuming a thread is fine
            continue
        assert 400 <= response.status_code < 500, (path, response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/json"), path
        assert isinstance(response.json()["detail"], str), path
    batch = http.post("/runs/batch", json=[body])
    assert 400 <= batch.status_code < 500 and "detail" in batch.json()


def test_bad_run_paths_and_queries_are_4xx_never_500(http: httpx.Client) -> None:
    tid = http.post("/threads", json={}).json()["thread_id"]
    rid = str(uuid.uuid4())
    checks = [
        ("GET", f"/threads/{tid}/runs?limit=abc"),
        ("GET", f"/threads/{tid}/runs?limit=0"),
        ("GET", f"/threads/{tid}/runs?offset=-1"),
        ("GET", "/threads/nope/runs"),
        ("GET", f"/threads/{tid}/runs/nope"),
        ("GET", f"/threads/nope/runs/{rid}"),
        ("DELETE", f"/threads/{tid}/runs/nope"),
        ("GET", f"/threads/{tid}/runs/nope/join"),
        ("GET", f"/threads/{tid}/runs/nope/stream"),
        ("POST", f"/threads/{tid}/runs/nope/cancel"),
        ("POST", f"/threads/nope/runs/{rid}/cancel"),
        ("GET", f"/threads/{uuid.uuid4()}/runs"),
    ]
    for method, path in checks:
        response = http.request(method, path)
        assert 400 <= response.status_code < 500, (method, path, response.status_code, response.text)
        assert "detail" in response.json(), (method, path)
    for body in (None, b"", b"[]", b"{", b"null", b'"x"'):
        for path in (f"/threads/{tid}/runs", "/runs/wait", "/runs/batch", "/runs/cancel"):
            response = http.post(path, content=body)
            assert response.status_code == 422, (path, body, response.status_code, response.text)


# ------------------------------------------------------------------ 12. isolation


async def test_bob_cannot_touch_alices_runs(sdk, sdk_bob, http: httpx.Client, http_bob: httpx.Client) -> None:
    tid = (await sdk.threads.create())["thread_id"]
    done = await sdk.runs.create(tid, "chat", input=human("mine"))
    await sdk.runs.join(tid, done["run_id"])
    running = await sdk.runs.create(tid, "slow", input={"seconds": 0.6, "steps": 3})
    rid = running["run_id"]
    await run_status(sdk, tid, rid, "running")

    base = f"/threads/{tid}/runs"
    assert http_bob.get(f"{base}/{rid}").json() == {"detail": "Not Found"}
    assert http_bob.get(f"{base}/{done['run_id']}").status_code == 404
    assert http_bob.get(base).status_code == 404
    assert http_bob.delete(f"{base}/{done['run_id']}").status_code == 404
    joined = http_bob.get(f"{base}/{rid}/join")
    assert joined.json() == {"__error__": {"error": "HTTPException", "message": "404: Run not found"}}
    assert joined.json() == http.get(f"{base}/{uuid.uuid4()}/join").json()
    stream = http_bob.get(f"{base}/{rid}/stream")
    assert stream.text == (
        'event: error\r\ndata: {"error":"HTTPException","message":"404: Run not found"}\r\n\r\n'
    )
    cancel = http_bob.post(f"{base}/{rid}/cancel")
    assert cancel.status_code == 404 and cancel.json() == {"detail": "No runs found to cancel."}
    assert http_bob.post("/runs/cancel", json={"thread_id": tid, "run_ids": [rid]}).status_code == 404
    for path in ("", "/wait", "/stream"):
        response = http_bob.post(f"{base}{path}", json={"assistant_id": "chat", "input": human("x")})
        assert response.status_code == 404 and response.json() == NOT_FOUND, path
    created_over = http_bob.post(
        f"{base}/wait", json={"assistant_id": "chat", "input": human("x"), "if_not_exists": "create"}
    )
    assert created_over.status_code == 404 and created_over.json() == NOT_FOUND
    everything = http_bob.post("/runs/cancel", json={"status": "all"})
    assert everything.status_code in (204, 404)
    with pytest.raises(NotFoundError):
        await sdk_bob.runs.get(tid, rid)
    assert (await sdk.runs.get(tid, rid))["status"] == "running"
    assert (await run_status(sdk, tid, rid, "success"))["status"] == "success"
    assert len(await sdk.runs.list(tid)) == 2

    # Bob can run a system assistant by graph id on his own thread.
    bob_tid = (await sdk_bob.threads.create())["thread_id"]
    values = await sdk_bob.runs.wait(bob_tid, "chat", input=human("bob here"))
    assert values["messages"][-1]["content"] == "You said: bob here. This is a deterministic fake reply."
    assert await sdk_bob.runs.wait(None, "hitl", input=human("x")) is not None
    # ... and alice cannot see bob's runs.
    bob_run = (await sdk_bob.runs.list(bob_tid))[0]
    assert http.get(f"/threads/{bob_tid}/runs/{bob_run['run_id']}").status_code == 404


async def test_bob_cancel_all_spares_alice(sdk, http_bob: httpx.Client) -> None:
    tid = (await sdk.threads.create())["thread_id"]
    run = await sdk.runs.create(tid, "slow", input={"seconds": 0.6, "steps": 3})
    await run_status(sdk, tid, run["run_id"], "running")
    response = http_bob.post("/runs/cancel", json={"status": "all"})
    assert response.status_code == 404 and response.json() == {"detail": "No runs found to cancel."}
    assert http_bob.post("/runs/cancel", json={"status": "running"}).status_code == 404
    assert (await run_status(sdk, tid, run["run_id"], "success"))["status"] == "success"


# ------------------------------------------------------------------ 13. config the graph sees


async def test_graph_config_has_ids_and_safe_headers(sdk, base_url: str, alice) -> None:
    tid = (await sdk.threads.create(metadata={"t": 1}))["thread_id"]
    headers = {**alice.headers, "x-custom-thing": "yes", "x-api-key": "should-not-leak"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=10) as client:
        response = await client.post(
            f"/threads/{tid}/runs/wait",
            json={"assistant_id": "echo_config", "input": {}, "metadata": {"req": "r"}},
        )
    assert response.status_code == 200
    rid = run_id_of(response)
    seen = response.json()["seen"]
    configurable = seen["configurable"]
    assert configurable["run_id"] == rid
    assert configurable["thread_id"] == tid
    assert configurable["graph_id"] == "echo_config"
    namespace = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")
    assert configurable["assistant_id"] == str(uuid.uuid5(namespace, "echo_config"))
    assert configurable["user_id"] == alice.user_id
    assert configurable["x-supabase-access-token"] == alice.token
    assert configurable["x-custom-thing"] == "yes"
    lowered = {k.lower() for k in configurable}
    assert "x-api-key" not in lowered and "authorization" not in lowered
    assert "should-not-leak" not in json.dumps(seen)
    metadata = seen["metadata"]
    assert metadata["owner"] == alice.user_id
    assert metadata["graph_id"] == "echo_config" and metadata["req"] == "r" and metadata["t"] == 1
    # Execution keys the reference adds to a running run's config metadata.
    assert metadata["run_attempt"] == 1 and metadata["langgraph_host"] == "self-hosted"
    assert metadata["run_id"] == rid and metadata["thread_id"] == tid
    assert metadata["langgraph_version"]
    # The run record never shows the api key either.
    run = await sdk.runs.get(tid, rid)
    assert "should-not-leak" not in json.dumps(run)


async def test_request_metadata_cannot_spoof_owner(sdk, alice) -> None:
    tid = (await sdk.threads.create())["thread_id"]
    run = await sdk.runs.create(
        tid, "echo_config", input={}, metadata={"owner": "mallory", "graph_id": "x", "assistant_id": "y"}
    )
    assert run["metadata"]["owner"] == alice.user_id
    assert run["metadata"]["graph_id"] == "echo_config"
    seen = (await sdk.runs.join(tid, run["run_id"]))["seen"]
    assert seen["metadata"]["owner"] == alice.user_id
    assert (await sdk.threads.get(tid))["metadata"]["owner"] == alice.user_id
