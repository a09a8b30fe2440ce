"""RunManager without Robyn: ordering per thread, the concurrency bound, cancel, outcomes."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from robyn_server import models
from robyn_server.engine.broker import RunBroker
from robyn_server.engine.graphs import GraphRegistry
from robyn_server.engine.runs import RunManager
from robyn_server.services.assistants import AssistantService
from robyn_server.services.runs import RunService
from robyn_server.sse import dumps
from robyn_server.storage.memory import InMemoryStorage

GRAPHS = Path(__file__).resolve().parents[1] / "graphs" / "langgraph.json"
OWNER = "11111111-1111-4111-8111-111111111111"


class Engine:
    """The framework-free core wired as `create_app` wires it, minus HTTP."""

    def __init__(self, max_concurrent_runs: int = 4) -> None:
        self.storage = InMemoryStorage()
        self.graphs = GraphRegistry.from_config_file(GRAPHS)
        self.broker = RunBroker(retention_seconds=60)
        self.manager = RunManager(
            storage=self.storage,
            graphs=self.graphs,
            broker=self.broker,
            max_concurrent_runs=max_concurrent_runs,
            retention_seconds=60,
        )
        self.assistants = AssistantService(self.storage, self.graphs)
        self.runs = RunService(self.storage, self.assistants, self.manager)

    async def start(self) -> Engine:
        await self.storage.setup()
        await self.assistants.register_system_assistants()
        return self

    async def create(self, thread_id: str | None, subscribe: bool = False, **body):
        request = models.RunCreate(if_not_exists="create", **body)
        return await self.runs.create(
            thread_id, request, owner=OWNER, user_id=OWNER, headers={}, subscribe=subscribe
        )


@pytest.fixture()
async def engine():
    started = await Engine().start()
    yield started
    await started.manager.shutdown(5)
    await started.storage.aclose()


async def test_a_run_streams_metadata_first_then_values(engine: Engine) -> None:
    run, sub = await engine.create(
        str(uuid.uuid4()),
        subscribe=True,
        assistant_id="chat",
        input={"messages": [{"role": "user", "content": "hi"}]},
    )
    events = [e async for e in sub]
    assert events[0].event == "metadata"
    assert events[0].data == dumps({"run_id": run["run_id"], "attempt": 1})
    assert [e.event for e in events[1:]] == ["values", "values"]
    outcome = await engine.manager.wait(run["run_id"])
    assert outcome is not None and outcome.status == "success"
    assert b"You said: hi" in outcome.output


async def test_runs_on_one_thread_never_overlap_and_keep_creation_order(engine: Engine) -> None:
    thread_id = str(uuid.uuid4())
    created = [
        (await engine.create(thread_id, assistant_id="slow", input={"seconds": 0.05, "steps": 1}))[0]
        for _ in range(3)
    ]
    started: list[str] = []
    seen_running: list[int] = []

    def record(run, outcome, duration) -> None:
        started.append(run["run_id"])

    engine.manager.on_run_finished.append(record)
    while len(started) < 3:
        seen_running.append(engine.manager.running_count)
        await asyncio.sleep(0.01)
    assert started == [r["run_id"] for r in created]
    assert max(seen_running) <= 1


async def test_concurrency_bound_across_threads() -> None:
    engine = await Engine(max_concurrent_runs=2).start()
    try:
        for _ in range(5):
            await engine.create(str(uuid.uuid4()), assistant_id="slow", input={"seconds": 0.1, "steps": 2})
        peak = 0
        while engine.manager.active_count:
            running = sum(1 for r in await engine.storage.runs.by_status(["running"], owner=None))
            peak = max(peak, running)
            await asyncio.sleep(0.01)
        assert peak == 2
    finally:
        await engine.manager.shutdown(5)


async def test_cancel_running_run_interrupts_it_and_the_thread(engine: Engine) -> None:
    thread_id = str(uuid.uuid4())
    run, sub = await engine.create(
        thread_id,
        subscribe=True,
        assistant_id="slow",
        input={"seconds": 2, "steps": 20},
        stream_mode="custom",
    )
    first = [e async for e in _take(sub, 2)]
    assert first[0].event == "metadata"
    assert await engine.manager.cancel(run, "interrupt")
    outcome = await engine.manager.wait(run["run_id"])
    assert outcome is not None and outcome.status == "interrupted"
    thread = await engine.storage.threads.get(thread_id, owner=OWNER)
    assert thread["status"] == "interrupted"
    assert not await engine.manager.cancel(run, "interrupt")  # already ended


async def test_a_failing_graph_ends_in_error_and_the_queue_goes_on(engine: Engine) -> None:
    thread_id = str(uuid.uuid4())
    bad, _ = await engine.create(thread_id, assistant_id="slow", input={"fail": True})
    # State persists on the thread, so the next input must clear the flag itself.
    good, _ = await engine.create(thread_id, assistant_id="slow", input={"seconds": 0.01, "fail": False})
    failed = await engine.manager.wait(bad["run_id"])
    assert failed is not None and failed.status == "error"
    assert b"slow graph failure requested by input" in failed.output
    succeeded = await engine.manager.wait(good["run_id"])
    assert succeeded is not None and succeeded.status == "success"
    thread = await engine.storage.threads.get(thread_id, owner=OWNER)
    assert thread["status"] == "idle" and thread["error"] is None


async def _take(sub, n: int):
    count = 0
    async for event in sub:
        yield event
        count += 1
        if count == n:
            return
