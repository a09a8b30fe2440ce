"""Unit tests of the graph registry (no server).

Reference JSON under `reference/` was captured from `langgraph dev` (langgraph-api 0.16.7)
serving the peer graphs (chat, hitl, nested, slow) and `tests/graphs/langgraph.json`
(factory, uncompiled, ctx).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from langchain_core.runnables.config import var_child_runnable_config
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore

from robyn_server import errors
from robyn_server.engine.graphs import (
    GraphRegistry,
    InvalidGraph,
    system_assistant_id,
)

GRAPHS_DIR = Path(__file__).parents[1] / "graphs"
CONFIG = GRAPHS_DIR / "langgraph.json"
REFERENCE = Path(__file__).parent / "reference"
PEER_IDS = ["chat", "hitl", "nested", "slow"]


def reference(name: str) -> Any:
    return json.loads((REFERENCE / name).read_text())


def loaded_module(path: Path) -> ModuleType:
    """The module object the registry created for a graph file."""
    return next(m for m in list(sys.modules.values()) if getattr(m, "__file__", None) == str(path))


@pytest.fixture(scope="module")
def registry() -> GraphRegistry:
    return GraphRegistry.from_config_file(CONFIG)


@pytest.fixture()
def isolated_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Undo the registry's `sys.path` additions after the test."""
    monkeypatch.setattr(sys, "path", list(sys.path))


@pytest.fixture()
def clean_env() -> Iterator[list[str]]:
    """Names listed by the test are removed from os.environ afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        os.environ.pop(name, None)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


TINY_GRAPH = """
    from typing import Any, TypedDict
    from langgraph.graph import END, START, StateGraph

    class S(TypedDict, total=False):
        out: Any

    def make(value):
        builder = StateGraph(S)
        builder.add_node("n", lambda state: {"out": value})
        builder.add_edge(START, "n")
        builder.add_edge("n", END)
        return builder

    graph = make("tiny").compile()
"""


# --------------------------------------------------------------------------------------------
# ids and loading
# --------------------------------------------------------------------------------------------


def test_system_assistant_ids_match_the_reference() -> None:
    assert system_assistant_id("chat") == "eb6db400-e3c8-5d06-a834-015cb89efe69"
    assert system_assistant_id("hitl") == "d2a02ed8-fb92-5e43-81ea-cb78d82caa2f"
    assert system_assistant_id("nested") == "0813419b-f0e6-579e-bdee-18d9fdf48632"
    assert system_assistant_id("slow") == "cad1b5ad-d177-59d1-ab39-5e327188ed3a"


def test_loads_the_test_config_by_file_path(registry: GraphRegistry) -> None:
    assert registry.ids()[:7] == ["chat", "hitl", "nested", "slow", "factory", "uncompiled", "ctx"]
    assert "echo_config" in registry
    chat = registry.spec("chat")
    assert chat.description == "Chat agent with a scripted fake model and a get_weather tool"
    assert chat.source == "./test_graphs.py:chat"
    assert registry.spec("hitl").description == "Human-in-the-loop graph that pauses with interrupt()"
    assert registry.spec("nested").description is None
    assert registry.spec("factory").is_factory
    assert not registry.spec("uncompiled").is_factory
    assert "ctx" in registry
    assert "nope" not in registry


def test_several_ids_share_one_module_per_file(registry: GraphRegistry) -> None:
    module = loaded_module(GRAPHS_DIR / "test_graphs.py")
    assert registry.spec("chat")._graph is module.chat
    assert registry.spec("nested")._graph is module.nested


def test_loads_dotted_module_paths_from_base_dir_and_dependencies(
    tmp_path: Path, isolated_path: None
) -> None:
    package, dep_module = unique("pkg"), unique("depmod")
    write(tmp_path / package / "__init__.py", "")
    write(tmp_path / package / "agents.py", TINY_GRAPH)
    write(tmp_path / "deps" / f"{dep_module}.py", TINY_GRAPH)
    write(
        tmp_path / "langgraph.json",
        json.dumps(
            {
                "dependencies": ["./deps", "some-pypi-package"],
                "graphs": {"a": f"{package}.agents:graph", "b": {"path": f"{dep_module}:graph"}},
            }
        ),
    )
    loaded = GraphRegistry.from_config_file(tmp_path / "langgraph.json")
    assert loaded.ids() == ["a", "b"]
    assert loaded.spec("a")._graph is sys.modules[f"{package}.agents"].graph
    assert loaded.spec("b")._graph is sys.modules[dep_module].graph
    assert str(tmp_path / "deps") in sys.path


def test_file_paths_are_relative_to_the_config_dir(tmp_path: Path, isolated_path: None) -> None:
    write(tmp_path / "sub" / "g.py", TINY_GRAPH)
    write(tmp_path / "langgraph.json", json.dumps({"graphs": {"x": "sub/g.py:graph", "y": "./sub/g.py"}}))
    loaded = GraphRegistry.from_config_file(tmp_path / "langgraph.json")
    module = loaded_module(tmp_path / "sub" / "g.py")
    assert loaded.spec("x")._graph is module.graph
    # Without ":attr" the module's compiled graph is found.
    assert loaded.spec("y")._graph is module.graph


def test_from_mapping(isolated_path: None) -> None:
    loaded = GraphRegistry.from_mapping({"n": "./test_graphs.py:nested"}, base_dir=GRAPHS_DIR)
    assert loaded.ids() == ["n"]
    assert loaded.spec("n").description is None


# --------------------------------------------------------------------------------------------
# env
# --------------------------------------------------------------------------------------------


def test_env_mapping_is_loaded_before_import_without_override(
    tmp_path: Path, isolated_path: None, clean_env: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    existing, new = unique("ROBYN_T_EXISTING"), unique("ROBYN_T_NEW")
    clean_env.append(new)
    monkeypatch.setenv(existing, "keep")
    # The module reads the variable at import time, so env must be applied first.
    write(tmp_path / "g.py", f"import os\nVALUE = os.environ[{new!r}]\n" + textwrap.dedent(TINY_GRAPH))
    GraphRegistry.from_mapping(
        {"g": "./g.py:graph"}, base_dir=tmp_path, env={existing: "replaced", new: "set"}
    )
    assert os.environ[existing] == "keep"
    assert os.environ[new] == "set"


def test_env_file_is_relative_to_the_config(
    tmp_path: Path, isolated_path: None, clean_env: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    existing, new = unique("ROBYN_T_EXISTING"), unique("ROBYN_T_FILE")
    clean_env.append(new)
    monkeypatch.setenv(existing, "keep")
    write(tmp_path / "conf" / ".env", f"{existing}=replaced\n{new}=from-file\n")
    write(tmp_path / "conf" / "g.py", TINY_GRAPH)
    write(tmp_path / "conf" / "langgraph.json", json.dumps({"env": ".env", "graphs": {"g": "./g.py:graph"}}))
    GraphRegistry.from_config_file(tmp_path / "conf" / "langgraph.json")
    assert os.environ[existing] == "keep"
    assert os.environ[new] == "from-file"


def test_missing_env_file_is_skipped_with_a_warning(
    tmp_path: Path, isolated_path: None, caplog: pytest.LogCaptureFixture
) -> None:
    write(tmp_path / "g.py", TINY_GRAPH)
    write(tmp_path / "langgraph.json", json.dumps({"env": ".env", "graphs": {"g": "./g.py:graph"}}))
    with caplog.at_level(logging.WARNING):
        loaded = GraphRegistry.from_config_file(tmp_path / "langgraph.json")
    assert loaded.ids() == ["g"]
    assert ".env" in caplog.text


# --------------------------------------------------------------------------------------------
# load errors
# --------------------------------------------------------------------------------------------


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Cannot read graph config") as info:
        GraphRegistry.from_config_file(tmp_path / "nope.json")
    assert str(tmp_path / "nope.json") in str(info.value)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{not json", "Invalid graph config"),
        ("[]", "expected a JSON object"),
        ("{}", "'graphs' must be a non-empty object"),
        ('{"graphs": {}}', "'graphs' must be a non-empty object"),
        ('{"graphs": {"g": "./g.py:graph"}, "dependencies": "."}', "'dependencies'"),
        ('{"graphs": {"g": "./g.py:graph"}, "env": 3}', "'env'"),
    ],
)
def test_invalid_config(tmp_path: Path, text: str, match: str) -> None:
    path = write(tmp_path / "langgraph.json", text)
    with pytest.raises(ValueError, match=match) as info:
        GraphRegistry.from_config_file(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("entry", "module_text", "match"),
    [
        (42, None, "expected"),
        ({"description": "no path"}, None, "expected"),
        ("./missing.py:graph", None, "missing.py"),
        ("./g.py:nope", TINY_GRAPH, "has no attribute 'nope'"),
        ("./g.py:value", "value = 42\n", "neither a graph nor a graph factory"),
        ("./g.py:graph", "raise RuntimeError('boom at import')\n", "boom at import"),
        ("./g.py:graph", "def graph(:\n", "SyntaxError"),
        ("./g.py", "x = 1\n", "no graph found"),
        ("./g.py:f", "def f(a, b, c):\n    pass\n", "takes"),
        ("no_such_module_xyz:graph", None, "No module named"),
    ],
)
def test_graph_load_errors_name_the_file_and_graph(
    tmp_path: Path, isolated_path: None, entry: Any, module_text: str | None, match: str
) -> None:
    if module_text is not None:
        write(tmp_path / "g.py", module_text)
    path = write(tmp_path / "langgraph.json", json.dumps({"graphs": {"bad_graph": entry}}))
    with pytest.raises(ValueError, match=match) as info:
        GraphRegistry.from_config_file(path)
    assert "'bad_graph'" in str(info.value)
    assert str(path) in str(info.value)


# --------------------------------------------------------------------------------------------
# lookup
# --------------------------------------------------------------------------------------------


def test_unknown_graph_has_the_reference_text(isolated_path: None) -> None:
    peers = GraphRegistry.from_mapping(
        {graph_id: f"./test_graphs.py:{graph_id}" for graph_id in PEER_IDS}, base_dir=GRAPHS_DIR
    )
    with pytest.raises(errors.NotFound) as info:
        peers.spec("nope")
    assert info.value.detail == "Graph 'nope' not found. Expected one of: ['chat', 'hitl', 'nested', 'slow']"
    assert info.value.status_code == 404


async def test_build_unknown_graph(registry: GraphRegistry) -> None:
    with pytest.raises(errors.NotFound) as raised:
        async with registry.build("nope", {}, checkpointer=None, store=None):
            pass
    # The reference lists every graph id, sorted.
    assert raised.value.detail == f"Graph 'nope' not found. Expected one of: {sorted(registry.ids())}"


# --------------------------------------------------------------------------------------------
# build
# --------------------------------------------------------------------------------------------


async def test_build_compiled_graph_uses_the_checkpointer(registry: GraphRegistry) -> None:
    saver, store = InMemorySaver(), InMemoryStore()
    config = {"configurable": {"thread_id": "t-chat"}}
    async with registry.build("chat", config, checkpointer=saver, store=store) as graph:
        assert graph.checkpointer is saver
        assert graph.store is store
        assert graph.name == "chat"
        await graph.ainvoke({"messages": [{"role": "user", "content": "hi"}]}, config)
        state = await graph.aget_state(config)
    assert state.values["messages"][-1].content == "You said: hi. This is a deterministic fake reply."
    assert (await saver.aget_tuple(config)) is not None


async def test_build_does_not_mutate_the_shared_graph(registry: GraphRegistry) -> None:
    shared = registry.spec("chat")._graph
    nodes = dict(shared.nodes)
    async with registry.build("chat", {}, checkpointer=InMemorySaver(), store=InMemoryStore()) as graph:
        assert graph is not shared
    assert shared.checkpointer is None
    assert shared.store is None
    assert shared.name == "LangGraph"
    assert shared.nodes == nodes


async def test_build_uncompiled_graph(registry: GraphRegistry) -> None:
    compiled = registry.spec("uncompiled")._graph
    saver = InMemorySaver()
    config = {"configurable": {"thread_id": "t-count"}}
    for expected in (1, 2):
        async with registry.build("uncompiled", config, checkpointer=saver, store=None) as graph:
            assert graph.name == "uncompiled"
            # The checkpointer carries the count from the first run into the second.
            state = await graph.aget_state(config)
            await graph.ainvoke({"count": state.values.get("count", 0)}, config)
            assert (await graph.aget_state(config)).values == {"count": expected}
    assert registry.spec("uncompiled")._graph is compiled
    assert compiled.checkpointer is None


async def test_build_factory_in_a_runnable_context(registry: GraphRegistry) -> None:
    calls = loaded_module(GRAPHS_DIR / "test_graphs.py").FACTORY_CALLS
    saver, store = InMemorySaver(), InMemoryStore()
    config = {"configurable": {"thread_id": "t-factory", "marker": "m1"}}
    n_calls = len(calls)
    async with registry.build("factory", config, checkpointer=saver, store=store) as graph:
        assert len(calls) == n_calls + 1
        call = calls[-1]
        assert call["config_is_current"]
        assert call["store"] is store
        assert call["marker"] == "m1"
        assert call["config"]["configurable"]["thread_id"] == "t-factory"
        assert var_child_runnable_config.get() is None
        assert graph.checkpointer is saver
        assert graph.name == "factory"
        assert await graph.ainvoke({}, config) == {"seen": "m1"}
        assert (await graph.aget_state(config)).values == {"seen": "m1"}
    item = await store.aget(("factory", "calls"), "m1")
    assert item is not None and item.value == {"marker": "m1"}
    # The caller's config is not touched.
    assert config == {"configurable": {"thread_id": "t-factory", "marker": "m1"}}


async def test_factories_are_called_per_use_not_at_load(isolated_path: None) -> None:
    calls = loaded_module(GRAPHS_DIR / "test_graphs.py").FACTORY_CALLS
    n_calls = len(calls)
    loaded = GraphRegistry.from_mapping({"f": "./test_graphs.py:factory_graph"}, base_dir=GRAPHS_DIR)
    assert len(calls) == n_calls
    for _ in range(2):
        async with loaded.build("f", {}, checkpointer=None, store=None):
            pass
    assert len(calls) == n_calls + 2


async def test_ctx_graph_reads_the_runtime_context(registry: GraphRegistry) -> None:
    async with registry.build("ctx", {}, checkpointer=None, store=None) as graph:
        assert await graph.ainvoke({"name": "Bob"}, context={"greeting": "Hi"}) == {
            "name": "Bob",
            "reply": "Hi, Bob!",
        }
        assert (await graph.ainvoke({"name": "Bob"}))["reply"] == "Hello, Bob!"


FACTORIES = (
    TINY_GRAPH
    + """
    from contextlib import asynccontextmanager, contextmanager
    from langgraph.config import get_config, get_store

    EVENTS = []

    def zero():
        return make("zero").compile()

    def sync_one(config):
        return make(config["configurable"].get("marker")).compile()

    def two(config, runtime):
        return make([runtime.access_context, runtime.store is get_store(), get_config() is config]).compile()

    def runtime_first(runtime, config):
        return make([type(runtime).__name__, config["configurable"].get("marker")]).compile()

    def keyword_only(config, *, runtime):
        EVENTS.append(runtime.access_context)
        return make(runtime.access_context).compile()

    def with_default(config, debug=False):
        return make(debug).compile()

    def returns_state_graph(config):
        return make("uncompiled")

    def not_a_graph(config):
        return 42

    @asynccontextmanager
    async def async_cm(config):
        EVENTS.append(("enter", get_config() is not None))
        yield make("async_cm").compile()
        EVENTS.append(("exit",))

    @contextmanager
    def sync_cm(config):
        yield make("sync_cm").compile()
"""
)


@pytest.fixture()
def factories(tmp_path: Path, isolated_path: None) -> tuple[GraphRegistry, ModuleType]:
    path = write(tmp_path / "factories.py", FACTORIES)
    names = [
        "zero",
        "sync_one",
        "two",
        "runtime_first",
        "keyword_only",
        "with_default",
        "returns_state_graph",
        "not_a_graph",
        "async_cm",
        "sync_cm",
    ]
    loaded = GraphRegistry.from_mapping({n: f"./factories.py:{n}" for n in names}, base_dir=tmp_path)
    return loaded, loaded_module(path)


@pytest.mark.parametrize(
    ("graph_id", "expected"),
    [
        ("zero", "zero"),
        ("sync_one", "m2"),
        ("two", ["threads.create_run", True, True]),
        ("runtime_first", ["ServerRuntime", "m2"]),
        ("keyword_only", "threads.create_run"),
        ("with_default", False),
        ("returns_state_graph", "uncompiled"),
        ("sync_cm", "sync_cm"),
    ],
)
async def test_factory_signatures(
    factories: tuple[GraphRegistry, ModuleType], graph_id: str, expected: Any
) -> None:
    loaded, _ = factories
    store = InMemoryStore()
    async with loaded.build(
        graph_id, {"configurable": {"marker": "m2"}}, checkpointer=None, store=store
    ) as graph:
        assert graph.store is store
        assert await graph.ainvoke({}) == {"out": expected}


async def test_async_context_manager_factory_stays_open_during_use(
    factories: tuple[GraphRegistry, ModuleType],
) -> None:
    loaded, module = factories
    async with loaded.build("async_cm", {}, checkpointer=None, store=None) as graph:
        assert module.EVENTS == [("enter", True)]
        assert await graph.ainvoke({}) == {"out": "async_cm"}
    assert module.EVENTS == [("enter", True), ("exit",)]


async def test_factory_returning_a_non_graph(factories: tuple[GraphRegistry, ModuleType]) -> None:
    loaded, _ = factories
    with pytest.raises(InvalidGraph, match="Graph 'not_a_graph' is not valid") as info:
        async with loaded.build("not_a_graph", {}, checkpointer=None, store=None):
            pass
    assert info.value.status_code == 424
    assert var_child_runnable_config.get() is None


async def test_factory_runtime_for_reads_is_assistants_read(
    factories: tuple[GraphRegistry, ModuleType],
) -> None:
    loaded, module = factories
    drawn = await loaded.drawable("keyword_only", {}, xray=False)
    assert [node["id"] for node in drawn["nodes"]] == ["__start__", "n", "__end__"]
    await loaded.schemas("keyword_only", {})
    assert module.EVENTS == ["assistants.read", "assistants.read"]


# --------------------------------------------------------------------------------------------
# schemas, drawings, subgraphs vs the reference
# --------------------------------------------------------------------------------------------


def digest(schema: Any) -> str:
    return hashlib.sha256(json.dumps(schema, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()


@pytest.mark.parametrize("graph_id", ["chat", "hitl", "nested", "slow", "factory", "uncompiled", "ctx"])
async def test_schemas_match_the_reference(registry: GraphRegistry, graph_id: str) -> None:
    expected = reference("schemas_summary.json")[graph_id]
    schemas = await registry.schemas(graph_id, {})
    assert list(schemas) == expected["keys"]
    assert schemas["graph_id"] == graph_id
    assert schemas["config_schema"] == expected["config_schema"]
    assert schemas["context_schema"] == expected["context_schema"]
    for key in ("input_schema", "output_schema", "state_schema"):
        schema, want = schemas[key], expected[key]
        assert schema.get("title") == want["title"], key
        assert schema.get("type") == want["type"], key
        assert schema.get("required") == want["required"], key
        assert list(schema.get("properties", {})) == want["properties"], key
        assert sorted(schema.get("$defs", {})) == want["defs"], key
        # Byte-for-byte, key order included.
        assert digest(schema) == want["sha256"], key


@pytest.mark.parametrize("graph_id", ["nested", "slow", "factory", "uncompiled", "ctx"])
async def test_small_schemas_equal_the_reference(registry: GraphRegistry, graph_id: str) -> None:
    assert await registry.schemas(graph_id, {}) == reference("schemas_small.json")[graph_id]


async def test_factory_schemas_call_the_factory_with_the_config(registry: GraphRegistry) -> None:
    calls = loaded_module(GRAPHS_DIR / "test_graphs.py").FACTORY_CALLS
    store = InMemoryStore()
    await registry.schemas("factory", {"configurable": {"marker": "schema"}}, store=store)
    assert calls[-1]["marker"] == "schema"
    assert calls[-1]["config_is_current"]
    assert calls[-1]["store"] is store
    await registry.schemas("factory", {})
    assert calls[-1]["store"] is None


@pytest.mark.parametrize("xray", [False, True, 1])
async def test_chat_drawable_matches_the_reference(registry: GraphRegistry, xray: bool | int) -> None:
    assert await registry.drawable("chat", {}, xray=xray) == reference("chat.graph.json")


async def test_nested_drawable_matches_the_reference(registry: GraphRegistry) -> None:
    assert await registry.drawable("nested", {}, xray=False) == reference("nested.graph.json")
    assert await registry.drawable("nested", {}, xray=True) == reference("nested.graph_xray.json")


@pytest.mark.parametrize(
    ("namespace", "recurse"), [(None, True), (None, False), ("child", False), ("child", True)]
)
async def test_nested_subgraphs_match_the_reference(
    registry: GraphRegistry, namespace: str | None, recurse: bool
) -> None:
    expected = reference("nested.subgraphs_recurse.json")
    assert await registry.subgraphs("nested", {}, namespace=namespace, recurse=recurse) == expected


async def test_subgraphs_empty_or_unknown_namespace(registry: GraphRegistry) -> None:
    assert await registry.subgraphs("chat", {}, namespace=None, recurse=True) == {}
    assert await registry.subgraphs("nested", {}, namespace="nope", recurse=True) == {}
