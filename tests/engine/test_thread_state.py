"""`json_reader`: reading state through the JSON-decoding view gives the same wire output.

The API reads state and history through a view of the checkpointer that decodes stored values
straight to JSON data (as langgraph-api does), instead of rebuilding LangChain objects. The
served bytes must not change: every snapshot of every test graph is compared both ways.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore
from langgraph.types import Command

from robyn_server.engine.graphs import GraphRegistry
from robyn_server.engine.thread_state import ThreadStateReader, json_reader
from robyn_server.sse import dumps
from robyn_server.wire import snapshot_to_wire

GRAPHS_CONFIG = Path(__file__).parents[1] / "graphs" / "langgraph.json"

RUNS: dict[str, list[tuple[str, Any, dict[str, Any]]]] = {
    # thread -> runs (graph, input, kwargs)
    "chat": [("chat", {"messages": [{"role": "user", "content": "weather in Rome"}]}, {})],
    "hitl": [
        ("hitl", {"messages": [{"role": "user", "content": "deploy"}]}, {}),
        ("hitl", Command(resume={"approved": True}), {}),
    ],
    "hitl_waiting": [("hitl", {"messages": [{"role": "user", "content": "x"}]}, {})],
    "nested": [("nested", {}, {"interrupt_before": ["done"]})],
    "slow_error": [("slow", {"fail": True}, {})],
}


@pytest.fixture(scope="module")
def registry() -> GraphRegistry:
    return GraphRegistry.from_config_file(GRAPHS_CONFIG)


async def _history(
    registry: GraphRegistry, graph_id: str, saver: Any, thread_id: str, subgraphs: bool
) -> bytes:
    config = {"configurable": {"thread_id": thread_id, "graph_id": graph_id}}
    async with registry.build(graph_id, config, checkpointer=saver, store=InMemoryStore()) as graph:
        root = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
        states = [snapshot_to_wire(s) async for s in graph.aget_state_history(root)]
        current = snapshot_to_wire(await graph.aget_state(root, subgraphs=subgraphs))
    return dumps([current, *states])


@pytest.mark.parametrize("thread", list(RUNS))
async def test_json_view_serves_the_same_state(registry: GraphRegistry, thread: str) -> None:
    saver = InMemorySaver()
    for graph_id, graph_input, kwargs in RUNS[thread]:
        config = {"configurable": {"thread_id": thread}}
        async with registry.build(graph_id, config, checkpointer=saver, store=InMemoryStore()) as graph:
            try:
                await graph.ainvoke(graph_input, config, **kwargs)
            except RuntimeError:
                assert thread == "slow_error"
    view = json_reader(saver)
    assert view is not saver
    graph_id = RUNS[thread][0][0]
    for subgraphs in (False, True):
        assert await _history(registry, graph_id, view, thread, subgraphs) == await _history(
            registry, graph_id, saver, thread, subgraphs
        )
    # Thread summaries (values and interrupts) too.
    fast = await ThreadStateReader(saver).summary(thread)
    slow = ThreadStateReader(saver)
    slow._checkpointer = saver  # the object-decoding path, for comparison
    objects = await slow.summary(thread)
    assert dumps([fast.values, fast.interrupts]) == dumps([objects.values, objects.interrupts])
    assert fast.checkpoint_id == objects.checkpoint_id
    if thread == "hitl_waiting":
        assert next(iter(fast.interrupts.values()))[0]["value"]["question"] == "Approve the draft?"


def test_other_savers_are_used_as_they_are() -> None:
    class Custom(InMemorySaver):
        pass

    custom = Custom()
    assert json_reader(custom) is custom
