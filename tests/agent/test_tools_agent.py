"""The OAP tools agent, run directly (no HTTP server) against fakes at the wire.

The graph is built the way the server builds it: the factory is called inside a runnable
context holding the store, and the compiled graph is copied with a checkpointer and a store.
The chat model is the bundled fake OpenAI server; MCP and RAG are `tests/fakes` servers.
"""

from __future__ import annotations

import logging
import socket
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import var_child_runnable_config
from langgraph._internal._constants import CONFIG_KEY_RUNTIME
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.store.memory import InMemoryStore

from robyn_server.agent.config import UNEDITABLE_SYSTEM_PROMPT, GraphConfigPydantic
from robyn_server.agent.graph import graph as agent_factory
from robyn_server.agent.model import (
    NO_TOKEN,
    UnsupportedModelProvider,
    build_chat_model,
    parse_model_name,
    resolve_target,
)
from robyn_server.engine.graph_schemas import graph_schemas
from robyn_server.engine.graphs import GraphRegistry
from robyn_server.fake_llm import FakeLLMServer
from tests.fakes.mcp_server import AUTH_URL, FakeMCPServer
from tests.fakes.rag_server import PETS_COLLECTION_ID, PETS_TOOL_NAME, FakeRagServer

AGENT_GRAPHS = Path(__file__).resolve().parents[2] / "robyn_server" / "agent" / "langgraph.json"
OWNER = "6f0e3c52-8a7b-4d0e-9b1f-2c3d4e5f6a7b"
SUPABASE_TOKEN = "supabase-user-jwt"


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, llm: FakeLLMServer) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_BASE", raising=False)
    llm.clear_requests()


@pytest.fixture(scope="module")
def mcp() -> Iterator[FakeMCPServer]:
    with FakeMCPServer() as server:
        yield server


@pytest.fixture
def mcp_auth() -> Iterator[FakeMCPServer]:
    with FakeMCPServer(require_auth=True) as server:
        yield server


@pytest.fixture
def rag() -> Iterator[FakeRagServer]:
    with FakeRagServer() as server:
        yield server


def run_config(llm: FakeLLMServer, **configurable: Any) -> RunnableConfig:
    """A run config shaped like the server's: ids, model override, Supabase token, owner."""
    base: dict[str, Any] = {
        "thread_id": str(uuid.uuid4()),
        "run_id": str(uuid.uuid4()),
        "custom_model_name": "fake-model",
        "base_url": llm.url,
        "x-supabase-access-token": SUPABASE_TOKEN,
        "apiKeys": {"OPENAI_API_KEY": "", "ANTHROPIC_API_KEY": ""},
    }
    return {"configurable": {**base, **configurable}, "metadata": {"owner": OWNER}}


async def build(config: RunnableConfig, store: InMemoryStore | None = None) -> CompiledStateGraph:
    """Call the factory as the server does, inside a runnable context holding the store."""
    store = store if store is not None else InMemoryStore()
    factory_config: RunnableConfig = {
        **config,
        "configurable": {**config["configurable"], CONFIG_KEY_RUNTIME: Runtime(store=store)},
    }
    token = var_child_runnable_config.set(factory_config)
    try:
        compiled = await agent_factory(factory_config)
    finally:
        var_child_runnable_config.reset(token)
    return compiled.copy(update={"checkpointer": InMemorySaver(), "store": store})


async def chat(config: RunnableConfig, text: str, store: InMemoryStore | None = None) -> list[BaseMessage]:
    """Build the agent and run one user turn; returns the thread's messages."""
    agent = await build(config, store)
    result = await agent.ainvoke({"messages": [HumanMessage(content=text)]}, config)
    return result["messages"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def offered_tools(llm: FakeLLMServer) -> list[str]:
    body = llm.requests[0]["body"]
    return [tool["function"]["name"] for tool in body.get("tools", [])]


# --- conversation and streaming ---------------------------------------------------------


async def test_echo_with_provider_model_name(llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_BASE", llm.url)
    config = run_config(llm, model_name="openai:fake-model", custom_model_name=None, base_url=None)
    config["configurable"]["system_prompt"] = "Be terse."

    messages = await chat(config, "hello there")

    assert isinstance(messages[-1], AIMessage)
    assert messages[-1].content == "You said: hello there"
    body = llm.requests[0]["body"]
    assert body["model"] == "fake-model"
    assert body["stream"] is True
    assert body["temperature"] == 0.7
    assert body["max_completion_tokens"] == 4000
    assert body["stream_options"] == {"include_usage": True}
    assert body["messages"][0] == {"role": "system", "content": "Be terse." + UNEDITABLE_SYSTEM_PROMPT}
    assert "tools" not in body


async def test_messages_stream_mode_yields_token_deltas(llm: FakeLLMServer) -> None:
    config = run_config(llm)
    agent = await build(config)
    chunks: list[AIMessageChunk] = []
    async for chunk, metadata in agent.astream(
        {"messages": [HumanMessage(content="stream these words please")]}, config, stream_mode="messages"
    ):
        if isinstance(chunk, AIMessageChunk):
            assert metadata["langgraph_node"] == "agent"
            chunks.append(chunk)

    texts = [c.content for c in chunks if c.content]
    assert len(texts) > 3
    assert "".join(texts) == "You said: stream these words please"
    assert len({c.id for c in chunks}) == 1


async def test_unknown_configurable_keys_are_ignored() -> None:
    settings = GraphConfigPydantic(**{"model_name": "openai:gpt-4o", "whatever": 1, "x-foo": "bar"})
    assert settings.model_name == "openai:gpt-4o"
    assert settings.temperature == 0.7


# --- MCP tools ---------------------------------------------------------------------------


async def test_mcp_tool_call_round_trip(llm: FakeLLMServer, mcp: FakeMCPServer) -> None:
    config = run_config(llm, mcp_config={"url": mcp.url, "tools": ["add", "explode"]})

    messages = await chat(config, "please use add a=2 b=3")

    ai_call, tool_message, final = messages[-3:]
    assert isinstance(ai_call, AIMessage)
    assert ai_call.tool_calls[0]["name"] == "add"
    assert isinstance(tool_message, ToolMessage)
    assert tool_message.content == "5"
    assert tool_message.tool_call_id == ai_call.tool_calls[0]["id"]
    assert final.content == "Tool said: 5. Anything else?"
    # "explode" sits on the second tools/list page: discovery followed nextCursor.
    assert offered_tools(llm) == ["add", "explode"]
    assert set(mcp.mcp_authorizations) == {None}


async def test_mcp_tool_error_becomes_tool_message(llm: FakeLLMServer, mcp: FakeMCPServer) -> None:
    config = run_config(llm, mcp_config={"url": mcp.url, "tools": ["explode"]})

    messages = await chat(config, "use explode")

    tool_message = messages[-2]
    assert isinstance(tool_message, ToolMessage)
    assert tool_message.status == "error"
    assert "kaboom" in tool_message.content
    assert messages[-1].content.startswith("Tool said: ")


async def test_mcp_interaction_required_error_keeps_auth_url(llm: FakeLLMServer, mcp: FakeMCPServer) -> None:
    config = run_config(llm, mcp_config={"url": mcp.url, "tools": ["needs_auth"]})

    messages = await chat(config, "use needs_auth")

    tool_message = messages[-2]
    assert isinstance(tool_message, ToolMessage)
    assert tool_message.status == "error"
    assert "Authorize the app" in tool_message.content
    assert AUTH_URL in tool_message.content


async def test_mcp_server_down_runs_without_tools(
    llm: FakeLLMServer, caplog: pytest.LogCaptureFixture
) -> None:
    stopped = FakeMCPServer().start()
    url = stopped.url
    stopped.stop()
    config = run_config(llm, mcp_config={"url": url, "tools": ["add"]})

    with caplog.at_level(logging.WARNING, logger="robyn_server.agent"):
        messages = await chat(config, "please use add a=2 b=3")

    assert messages[-1].content == "You said: please use add a=2 b=3"
    assert "tools" not in llm.requests[0]["body"]
    assert any("unavailable" in r.getMessage() and url in r.getMessage() for r in caplog.records)


async def test_mcp_requiring_auth_without_token_is_skipped(
    llm: FakeLLMServer, mcp_auth: FakeMCPServer, caplog: pytest.LogCaptureFixture
) -> None:
    config = run_config(llm, mcp_config={"url": mcp_auth.url, "tools": ["add"], "auth_required": True})
    del config["configurable"]["x-supabase-access-token"]

    with caplog.at_level(logging.WARNING, logger="robyn_server.agent"):
        messages = await chat(config, "please use add a=2 b=3")

    assert messages[-1].content == "You said: please use add a=2 b=3"
    assert mcp_auth.requests == 0
    assert any("x-supabase-access-token" in r.getMessage() for r in caplog.records)


async def test_mcp_token_exchanged_cached_and_reused(llm: FakeLLMServer, mcp_auth: FakeMCPServer) -> None:
    store = InMemoryStore()
    mcp_config = {"url": mcp_auth.url + "/", "tools": ["add"], "auth_required": True}

    messages = await chat(run_config(llm, mcp_config=mcp_config), "please use add a=2 b=3", store)

    assert messages[-2].content == "5"
    assert mcp_auth.token_calls == 1
    assert mcp_auth.subject_tokens == [SUPABASE_TOKEN]
    form = mcp_auth.token_requests[0]
    assert form["client_id"] == "mcp_default"
    assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:token-exchange"
    assert form["subject_token_type"] == "urn:ietf:params:oauth:token-type:access_token"
    assert form["resource"] == f"{mcp_auth.url}/mcp"
    item = await store.aget((OWNER, "tokens"), "data")
    assert item is not None
    first_token = item.value["access_token"]
    assert item.value["expires_in"] == 3600
    assert f"Bearer {first_token}" in mcp_auth.mcp_authorizations

    # A second run (new graph, new run id, same store) reuses the cached token.
    messages = await chat(run_config(llm, mcp_config=mcp_config), "please use add a=4 b=5", store)
    assert messages[-2].content == "9"
    assert mcp_auth.token_calls == 1

    # An expired token is deleted and exchanged again.
    await store.aput((OWNER, "tokens"), "data", {"access_token": first_token, "expires_in": 0})
    messages = await chat(run_config(llm, mcp_config=mcp_config), "please use add a=1 b=1", store)
    assert messages[-2].content == "2"
    assert mcp_auth.token_calls == 2
    item = await store.aget((OWNER, "tokens"), "data")
    assert item is not None and item.value["access_token"] != first_token


# --- RAG tools ---------------------------------------------------------------------------


async def test_rag_tool_round_trip(llm: FakeLLMServer, rag: FakeRagServer) -> None:
    config = run_config(llm, rag={"rag_url": rag.url, "collections": [PETS_COLLECTION_ID]})

    messages = await chat(config, f"use {PETS_TOOL_NAME} query=cats")

    tool_message = messages[-2]
    assert isinstance(tool_message, ToolMessage)
    assert tool_message.content == (
        '<all-documents><document id="doc-cats-1">Cats sleep up to sixteen hours a day.</document>'
        '<document id="doc-cats-2">A group of cats is called a clowder.</document></all-documents>'
    )
    assert messages[-1].content == f"Tool said: {tool_message.content}. Anything else?"
    assert offered_tools(llm) == [PETS_TOOL_NAME]
    tool_schema = llm.requests[0]["body"]["tools"][0]["function"]
    assert tool_schema["description"] == "Facts about pets"
    search = rag.requests[-1]
    assert search["path"] == f"/collections/{PETS_COLLECTION_ID}/documents/search"
    assert search["body"] == {"query": "cats", "limit": 10}
    assert {r["authorization"] for r in rag.requests} == {f"Bearer {SUPABASE_TOKEN}"}


async def test_rag_search_error_is_returned_as_text(llm: FakeLLMServer, rag: FakeRagServer) -> None:
    rag.search_status = 500
    config = run_config(llm, rag={"rag_url": rag.url, "collections": [PETS_COLLECTION_ID]})

    messages = await chat(config, f"use {PETS_TOOL_NAME} query=cats")

    content = messages[-2].content
    assert content.startswith("<all-documents>") and content.endswith("</all-documents>")
    assert "HTTP 500" in content
    assert messages[-1].content.startswith("Tool said: ")


async def test_rag_unknown_collection_is_skipped(
    llm: FakeLLMServer, rag: FakeRagServer, caplog: pytest.LogCaptureFixture
) -> None:
    config = run_config(llm, rag={"rag_url": rag.url, "collections": ["no-such-id", PETS_COLLECTION_ID]})

    with caplog.at_level(logging.WARNING, logger="robyn_server.agent"):
        messages = await chat(config, "hi")

    assert messages[-1].content == "You said: hi"
    assert offered_tools(llm) == [PETS_TOOL_NAME]
    assert any("no-such-id" in r.getMessage() for r in caplog.records)


async def test_rag_needs_supabase_token(llm: FakeLLMServer, rag: FakeRagServer) -> None:
    config = run_config(llm, rag={"rag_url": rag.url, "collections": [PETS_COLLECTION_ID]})
    del config["configurable"]["x-supabase-access-token"]

    await chat(config, "hi")

    assert rag.requests == []
    assert "tools" not in llm.requests[0]["body"]


# --- model selection ---------------------------------------------------------------------


async def test_run_api_key_reaches_the_model(llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    config = run_config(llm, apiKeys={"OPENAI_API_KEY": "sk-user-key"})
    await chat(config, "hi")
    assert llm.requests[-1]["authorization"] == "Bearer sk-user-key"

    llm.clear_requests()
    await chat(run_config(llm), "hi")  # empty apiKeys entry: the environment's key
    assert llm.requests[-1]["authorization"] == "Bearer sk-from-env"


async def test_no_api_key_anywhere_uses_placeholder(llm: FakeLLMServer) -> None:
    await chat(run_config(llm, apiKeys={}), "hi")
    assert llm.requests[-1]["authorization"] == f"Bearer {NO_TOKEN}"


def test_model_resolution_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_BASE", "http://env-base/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    target = resolve_target(GraphConfigPydantic(model_name="openai:gpt-4.1"), {"OPENAI_API_KEY": "sk-run"})
    assert (target.model, target.base_url, target.api_key) == ("gpt-4.1", "http://env-base/v1", "sk-run")
    custom = GraphConfigPydantic(
        model_name="anthropic:claude-sonnet-4-0",
        custom_model_name="llama3:8b",
        base_url="http://vllm/v1",
        custom_api_key="sk-assistant",
    )
    target = resolve_target(custom, {"OPENAI_API_KEY": "sk-run"})
    assert (target.model, target.base_url, target.api_key) == ("llama3:8b", "http://vllm/v1", "sk-assistant")


def test_reasoning_models_get_no_temperature() -> None:
    assert build_chat_model(GraphConfigPydantic(model_name="openai:o3")).temperature is None
    model = build_chat_model(GraphConfigPydantic(model_name="openai:gpt-4.1", temperature=0.2, max_tokens=50))
    assert (model.model_name, model.temperature, model.max_tokens) == ("gpt-4.1", 0.2, 50)
    assert model.streaming and model.stream_usage


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("openai:gpt-4o", "gpt-4o"),
        ("gpt-4o-mini", "gpt-4o-mini"),
        (None, "gpt-4o"),
        ("llama3:8b", "llama3:8b"),
    ],
)
def test_parse_model_name(name: str | None, expected: str) -> None:
    assert parse_model_name(name) == expected


async def test_foreign_provider_is_a_clear_run_error(llm: FakeLLMServer) -> None:
    config = run_config(llm, model_name="anthropic:claude-sonnet-4-0", custom_model_name=None)
    agent = await build(config)  # building never fails: the error belongs to the run

    with pytest.raises(ValueError, match="Model provider 'anthropic' is not supported") as info:
        await agent.ainvoke({"messages": [HumanMessage(content="hi")]}, config)
    assert isinstance(info.value, UnsupportedModelProvider)
    assert llm.requests == []


# --- schemas -----------------------------------------------------------------------------


async def test_schemas_are_built_without_network(
    llm: FakeLLMServer, mcp_auth: FakeMCPServer, rag: FakeRagServer
) -> None:
    assistant_config: RunnableConfig = {
        "configurable": {
            "model_name": "anthropic:claude-sonnet-4-0",
            "mcp_config": {"url": mcp_auth.url, "tools": ["add"], "auth_required": True},
            "rag": {"rag_url": rag.url, "collections": [PETS_COLLECTION_ID]},
            "x-supabase-access-token": SUPABASE_TOKEN,
        },
        "metadata": {"owner": OWNER},
    }
    agent = await build(assistant_config)

    schemas = graph_schemas(agent)  # what GET /assistants/{id}/schemas serves
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        configurable = agent.get_config_jsonschema()["$defs"]["GraphConfigPydantic"]

    fields = [
        "model_name",
        "temperature",
        "max_tokens",
        "system_prompt",
        "mcp_config",
        "rag",
        "base_url",
        "custom_model_name",
        "custom_api_key",
    ]
    for schema in (schemas["config_schema"], schemas["context_schema"], configurable):
        assert schema is not None
        assert list(schema["properties"]) == fields
        for name in fields:
            assert "x_oap_ui_config" in schema["properties"][name], name
    properties = schemas["config_schema"]["properties"]
    assert schemas["config_schema"]["title"] == "GraphConfigPydantic"
    model_ui = properties["model_name"]["x_oap_ui_config"]
    assert model_ui["type"] == "select" and model_ui["default"] == "openai:gpt-4o"
    assert len(model_ui["options"]) == 11
    assert properties["temperature"]["x_oap_ui_config"] == {
        "type": "slider",
        "default": 0.7,
        "min": 0,
        "max": 2,
        "step": 0.1,
        "description": properties["temperature"]["x_oap_ui_config"]["description"],
    }
    assert properties["max_tokens"]["x_oap_ui_config"]["min"] == 1
    assert properties["system_prompt"]["x_oap_ui_config"]["type"] == "textarea"
    assert properties["mcp_config"]["x_oap_ui_config"] == {"type": "mcp"}
    assert properties["rag"]["x_oap_ui_config"] == {"type": "rag"}
    assert schemas["input_schema"] is not None and "messages" in schemas["input_schema"]["properties"]

    assert mcp_auth.requests == 0
    assert mcp_auth.token_calls == 0
    assert rag.requests == []
    assert llm.requests == []


async def test_default_graphs_file_serves_the_agent_schemas(
    mcp_auth: FakeMCPServer, rag: FakeRagServer
) -> None:
    registry = GraphRegistry.from_config_file(AGENT_GRAPHS)
    config: RunnableConfig = {
        "configurable": {
            "mcp_config": {"url": mcp_auth.url, "tools": ["add"], "auth_required": True},
            "rag": {"rag_url": rag.url, "collections": [PETS_COLLECTION_ID]},
            "x-supabase-access-token": SUPABASE_TOKEN,
        },
        "metadata": {"owner": OWNER},
    }

    schemas = await registry.schemas("agent", config, store=InMemoryStore())

    assert registry.spec("agent").description == (
        "Open Agent Platform tools agent: a ReAct agent with MCP and RAG tools"
    )
    assert schemas["graph_id"] == "agent"
    assert schemas["config_schema"]["properties"]["rag"]["x_oap_ui_config"] == {"type": "rag"}
    assert mcp_auth.requests == 0
    assert rag.requests == []
