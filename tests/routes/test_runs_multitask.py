"""The four multitask strategies, as in the reference's `05_multitask` transcript.

Run A is `slow` for 0.6 s in 3 steps; run B arrives while A is running.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.routes.run_helpers import (  # noqa: F401 (clean_server_log is a module fixture)
    THREAD_BUSY,
    clean_server_log,
    run_status,
    thread_status,
    until,
)

LONG = {"seconds": 0.6, "steps": 3}

pytestmark = pytest.mark.usefixtures("clean_server_log")


async def _running_a(sdk) -> tuple[str, str]:
    tid = (await sdk.threads.create())["thread_id"]
    run = await sdk.runs.create(tid, "slow", input=LONG)
    await run_status(sdk, tid, run["run_id"], "running")
    assert (await sdk.threads.get(tid))["status"] == "busy"
    return tid, run["run_id"]


async def test_reject(sdk, http: httpx.Client) -> None:
    tid, a = await _running_a(sdk)
    body = {"assistant_id": "slow", "input": {"seconds": 0.2}, "multitask_strategy": "reject"}
    for path in ("runs", "runs/wait", "runs/stream"):
        response = http.post(f"/threads/{tid}/{path}", json=body)
        assert response.status_code == 409, path
        assert response.headers["content-type"].startswith("application/json"), path
        assert response.json() == {"detail": THREAD_BUSY}, path
    assert (await sdk.runs.get(tid, a))["status"] == "running"
    await run_status(sdk, tid, a, "success")
    runs = await sdk.runs.list(tid)
    assert [(r["run_id"], r["status"], r["multitask_strategy"]) for r in runs] == [(a, "success", "enqueue")]
    thread = await thread_status(sdk, tid, "idle")
    assert thread["values"] == {"seconds": 0.6, "steps": 3, "log": ["slept 0.600s in 3 steps"]}
    # Once the thread is free, reject lets the run through.
    assert http.post(f"/threads/{tid}/runs/wait", json=body).status_code == 200


async def test_interrupt(sdk) -> None:
    tid, a = await _running_a(sdk)
    b = await sdk.runs.create(tid, "slow", input={"seconds": 0.2}, multitask_strategy="interrupt")
    assert b["status"] == "pending" and b["multitask_strategy"] == "interrupt"
    await run_status(sdk, tid, b["run_id"], "success")
    assert (await sdk.runs.get(tid, a))["status"] == "interrupted"
    runs = await sdk.runs.list(tid)
    assert [(r["run_id"], r["status"], r["multitask_strategy"]) for r in runs] == [
        (b["run_id"], "success", "interrupt"),
        (a, "interrupted", "enqueue"),
    ]
    thread = await thread_status(sdk, tid, "idle")
    # A's input checkpoint (steps=3) is kept; B starts from it.
    assert thread["values"] == {"seconds": 0.2, "steps": 3, "log": ["slept 0.200s in 3 steps"]}


async def test_rollback(sdk, http: httpx.Client) -> None:
    tid, a = await _running_a(sdk)
    b = await sdk.runs.create(tid, "slow", input={"seconds": 0.2}, multitask_strategy="rollback")
    await run_status(sdk, tid, b["run_id"], "success")
    gone = http.get(f"/threads/{tid}/runs/{a}")
    assert gone.status_code == 404 and gone.json() == {"detail": "Not Found"}
    runs = await sdk.runs.list(tid)
    assert [(r["run_id"], r["status"], r["multitask_strategy"]) for r in runs] == [
        (b["run_id"], "success", "rollback")
    ]
    thread = await thread_status(sdk, tid, "idle")
    # A's checkpoints are gone: no `steps` from its input.
    assert thread["values"] == {"seconds": 0.2, "log": ["slept 0.200s in 1 steps"]}
    history = await sdk.threads.get_history(tid, limit=50)
    assert history and all(s["metadata"]["run_id"] == b["run_id"] for s in history)


async def test_enqueue(sdk) -> None:
    tid, a = await _running_a(sdk)
    b = await sdk.runs.create(tid, "slow", input={"seconds": 0.2}, multitask_strategy="enqueue")
    assert (await sdk.runs.get(tid, b["run_id"]))["status"] == "pending"
    assert (await sdk.runs.get(tid, a))["status"] == "running"
    await run_status(sdk, tid, a, "success")
    await run_status(sdk, tid, b["run_id"], "success")
    first, second = await sdk.runs.list(tid)
    assert (first["run_id"], second["run_id"]) == (b["run_id"], a)
    assert first["updated_at"] > second["updated_at"]
    thread = await thread_status(sdk, tid, "idle")
    assert thread["values"] == {
        "seconds": 0.2,
        "steps": 3,
        "log": ["slept 0.600s in 3 steps", "slept 0.200s in 3 steps"],
    }


async def test_default_strategy_enqueues_waits_in_order(sdk) -> None:
    tid = (await sdk.threads.create())["thread_id"]
    results = await asyncio.gather(
        *(sdk.runs.wait(tid, "slow", input={"seconds": 0.05 * (3 - i), "steps": 1}) for i in range(3))
    )
    logs = [r["log"] for r in results]
    # Each run sees every earlier run's log entry: they ran one after another.
    assert sorted(len(log) for log in logs) == [1, 2, 3]
    runs = await sdk.runs.list(tid)
    assert [r["status"] for r in runs] == ["success"] * 3


async def test_interrupt_ends_the_preempted_runs_stream(sdk) -> None:
    tid = (await sdk.threads.create())["thread_id"]
    events: list[str] = []

    async def consume() -> None:
        async for part in sdk.runs.stream(tid, "slow", input=LONG, stream_mode=["values", "custom"]):
            events.append(part.event)

    task = asyncio.ensure_future(consume())
    await until(lambda: asyncio.sleep(0, events), lambda e: "custom" in e)
    await sdk.runs.create(tid, "slow", input={"seconds": 0.05}, multitask_strategy="interrupt")
    await asyncio.wait_for(task, 5)
    assert events[:2] == ["metadata", "values"]
    assert "error" not in events and "end" not in events


@pytest.mark.parametrize("strategy", ["interrupt", "rollback"])
async def test_preempting_also_ends_queued_runs(sdk, http: httpx.Client, strategy: str) -> None:
    tid, a = await _running_a(sdk)
    b = await sdk.runs.create(tid, "slow", input={"seconds": 0.05, "steps": 5})
    assert (await sdk.runs.get(tid, b["run_id"]))["status"] == "pending"
    c = await sdk.runs.create(tid, "slow", input={"seconds": 0.1}, multitask_strategy=strategy)
    await run_status(sdk, tid, c["run_id"], "success")
    listed = [(r["run_id"], r["status"]) for r in await sdk.runs.list(tid)]
    if strategy == "interrupt":
        assert listed == [(c["run_id"], "success"), (b["run_id"], "interrupted"), (a, "interrupted")]
    else:
        assert listed == [(c["run_id"], "success")]
        assert http.get(f"/threads/{tid}/runs/{b['run_id']}").status_code == 404
    thread = await thread_status(sdk, tid, "idle")
    assert thread["values"]["log"] == [
        "slept 0.100s in " + ("3" if strategy == "interrupt" else "1") + " steps"
    ]


async def test_reject_counts_queued_runs_after_a_cancel(sdk, http: httpx.Client) -> None:
    tid, a = await _running_a(sdk)
    b = await sdk.runs.create(tid, "slow", input={"seconds": 0.3, "steps": 3})
    await sdk.runs.cancel(tid, a)
    # B takes over the thread (pending or running): reject still refuses.
    response = http.post(
        f"/threads/{tid}/runs", json={"assistant_id": "slow", "input": {}, "multitask_strategy": "reject"}
    )
    assert response.status_code == 409 and response.json() == {"detail": THREAD_BUSY}
    await run_status(sdk, tid, b["run_id"], "success")
    assert (await sdk.runs.get(tid, a))["status"] == "interrupted"
    assert (await thread_status(sdk, tid, "idle"))["values"]["log"] == ["slept 0.300s in 3 steps"]
