"""The OAP tools agent in real tool-calling conversations, through the HTTP server.

The server subprocess serves its default graphs (the `agent`); the model is the bundled fake
OpenAI server, and MCP, RAG and Supabase are stand-ins at the wire. Each test drives a
conversation the way OAP's chat does (`POST /threads/{id}/runs/stream` with OAP's body) and
then reads what OAP reads afterwards (`GET /state`, `POST /history`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx
import pytest

from robyn_server.fake_llm import FakeLLMServer
from tests.conftest import TestUser
from tests.fakes.mcp_server import FakeMCPServer
from tests.fakes.rag_server import PETS_COLLECTION_ID, PETS_TOOL_NAME, FakeRagServer
from tests.harness.server import free_port
from tests.oap.support import (
    FAKE_MODEL,
    RUN_LOCATION,
    SERVER_OPENAI_KEY,
    StreamResult,
    ai_deltas,
    assert_history_chain,
    assert_messages_tuples,
    message_text,
    oap_chat_body,
    stream,
    system_assistant_id,
    user_client,
)

ADD_REQUEST = "please use add a=2 b=3"
ADD_ANSWER = "Tool said: 5. Anything else?"


def chat(
    http: httpx.Client,
    user: TestUser,
    assistant_id: str,
    text: str | None,
    *,
    agent_config: Mapping[str, Any] | None = None,
    thread_id: str | None = None,
    api_keys: Mapping[str, str] | None = None,
) -> tuple[str, StreamResult]:
    """One OAP chat turn on a (new) thread; returns the thread id and the consumed stream."""
    if thread_id is None:
        created = http.post("/threads", json={"metadata": {}})
        assert created.status_code == 200, created.text
        thread_id = created.json()["thread_id"]
    body = oap_chat_body(assistant_id, user.token, text=text, agent_config=agent_config, api_keys=api_keys)
    result = stream(http, f"/threads/{thread_id}/runs/stream", body)
    assert result.status_code == 200, result.events
    assert not result.named("error"), result.named("error")
    return thread_id, result


def final_messages(result: StreamResult) -> list[dict[str, Any]]:
    """The messages of the last `values` event."""
    values = result.named("values")
    assert values, result.names
    return values[-1]["messages"]


def offered_tools(request: Mapping[str, Any]) -> list[str]:
    """Names of the tools a recorded model request offered."""
    return [tool["function"]["name"] for tool in request["body"].get("tools") or []]


def test_mcp_tool_conversation_streams_deltas_then_state_and_history(
    agent_url: str, new_user: Callable[[], TestUser], mcp: FakeMCPServer, fake_llm: FakeLLMServer
) -> None:
    user = new_user()
    fake_llm.clear_requests()
    with user_client(agent_url, user.headers) as http:
        mcp_config = {"url": mcp.url, "tools": ["add", "lookup_city"], "auth_required": False}
        created = http.post(
            "/assistants",
            json={
                "graph_id": "agent",
                "name": "Calculator",
                "metadata": {"description": "Adds numbers"},
                "config": {"configurable": {"model_name": FAKE_MODEL, "mcp_config": mcp_config}},
            },
        )
        assert created.status_code == 200, created.text
        assistant_id = created.json()["assistant_id"]

        # OAP's run config has no mcp_config here: the assistant's must survive the merge.
        thread_id, result = chat(http, user, assistant_id, ADD_REQUEST)

        # Headers: the SDKs take the run id from Content-Location.
        assert result.headers["content-type"].startswith("text/event-stream")
        location = RUN_LOCATION.match(result.headers["content-location"])
        assert location is not None and location["thread_id"] == thread_id
        assert result.names[0] == "metadata"
        assert result.named("metadata")[0]["run_id"] == location["run_id"]

        # messages-tuple: the tool call, the tool result, then the answer in text deltas.
        assert_messages_tuples(result)
        chunks = [chunk for chunk, _ in result.named("messages")]
        call_chunks = [c for c in chunks if c.get("tool_call_chunks")]
        assert call_chunks and call_chunks[0]["tool_call_chunks"][0]["name"] == "add"
        tool_results = [(c, meta) for c, meta in result.named("messages") if c["type"] == "tool"]
        assert [(c["content"], meta["langgraph_node"]) for c, meta in tool_results] == [("5", "tools")]
        deltas = ai_deltas(result)
        assert len(deltas) == 2, deltas.keys()
        answer_id, answer_deltas = list(deltas.items())[-1]
        assert len([d for d in answer_deltas if d]) > 3
        assert "".join(answer_deltas) == ADD_ANSWER

        messages = final_messages(result)
        assert [m["type"] for m in messages] == ["human", "ai", "tool", "ai"]
        assert messages[1]["tool_calls"][0]["args"] == {"a": "2", "b": "3"}
        assert messages[3]["id"] == answer_id and messages[3]["content"] == ADD_ANSWER

        # The model was offered exactly the configured tools, found across tools/list pages.
        assert [offered_tools(r) for r in fake_llm.requests] == [["add", "lookup_city"]] * 2
        assert set(mcp.mcp_authorizations) == {None}

        # Right afterwards: state and history agree with the stream.
        state = http.get(f"/threads/{thread_id}/state").json()
        assert state["values"]["messages"] == messages
        assert state["next"] == [] and state["tasks"] == []
        history = http.post(f"/threads/{thread_id}/history", json={"limit": 1000}).json()
        assert_history_chain(history, thread_id)
        assert [h["next"] for h in history] == [[], ["agent"], ["tools"], ["agent"], ["__start__"]]
        assert history[0]["values"] == state["values"]
        assert history[0]["checkpoint"] == state["checkpoint"]

        thread = http.get(f"/threads/{thread_id}").json()
        assert thread["status"] == "idle"
        assert thread["metadata"]["assistant_id"] == assistant_id
        assert thread["metadata"]["graph_id"] == "agent"


def test_rag_tool_conversation(
    agent_url: str, new_user: Callable[[], TestUser], rag: FakeRagServer, fake_llm: FakeLLMServer
) -> None:
    user = new_user()
    fake_llm.clear_requests()
    seen = len(rag.requests)
    config = {"rag": {"rag_url": rag.url, "collections": [PETS_COLLECTION_ID]}}
    with user_client(agent_url, user.headers) as http:
        thread_id, result = chat(
            http, user, "agent", f"use {PETS_TOOL_NAME} query=clowder", agent_config=config
        )

        messages = final_messages(result)
        assert [m["type"] for m in messages] == ["human", "ai", "tool", "ai"]
        tool_message = messages[2]
        assert tool_message["name"] == PETS_TOOL_NAME
        assert tool_message["content"] == (
            '<all-documents><document id="doc-cats-2">A group of cats is called a clowder.'
            "</document></all-documents>"
        )
        answer = "".join(list(ai_deltas(result).values())[-1])
        assert answer == f"Tool said: {tool_message['content']}. Anything else?" == messages[3]["content"]
        assert offered_tools(fake_llm.requests[0]) == [PETS_TOOL_NAME]
        state = http.get(f"/threads/{thread_id}/state").json()
        assert state["values"]["messages"] == messages
        history = http.post(f"/threads/{thread_id}/history", json={"limit": 1000}).json()
        assert_history_chain(history, thread_id)
        assert history[0]["values"] == state["values"] and len(history) == 5

    # LangConnect saw the user's own Supabase token (copied from x-supabase-access-token).
    calls = rag.requests[seen:]
    assert [(c["method"], c["path"]) for c in calls] == [
        ("GET", f"/collections/{PETS_COLLECTION_ID}"),
        ("POST", f"/collections/{PETS_COLLECTION_ID}/documents/search"),
    ]
    assert {c["authorization"] for c in calls} == {f"Bearer {user.token}"}
    assert calls[1]["body"] == {"query": "clowder", "limit": 10}


def test_auth_required_mcp_exchanges_once_per_owner_then_uses_the_cache(
    agent_url: str, new_user: Callable[[], TestUser], mcp_auth: FakeMCPServer
) -> None:
    config = {"mcp_config": {"url": mcp_auth.url, "tools": ["add"], "auth_required": True}}
    alice, bob = new_user(), new_user()

    with user_client(agent_url, alice.headers) as http:
        for turn in range(2):  # two conversations: the second one uses the cached token
            _, result = chat(http, alice, "agent", ADD_REQUEST, agent_config=config)
            assert final_messages(result)[-1]["content"] == ADD_ANSWER
            assert mcp_auth.token_calls == 1, f"turn {turn}"
    assert mcp_auth.subject_tokens == [alice.token]
    exchange = mcp_auth.token_requests[0]
    assert exchange == {
        "client_id": "mcp_default",
        "subject_token": alice.token,
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "resource": f"{mcp_auth.url}/mcp",
        "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
    }
    alice_mcp_headers = set(mcp_auth.mcp_authorizations)

    with user_client(agent_url, bob.headers) as http:
        _, result = chat(http, bob, "agent", ADD_REQUEST, agent_config=config)
        assert final_messages(result)[-1]["content"] == ADD_ANSWER
    # Bob's owner has no cached token: his own Supabase token is exchanged.
    assert mcp_auth.token_calls == 2
    assert mcp_auth.subject_tokens == [alice.token, bob.token]
    assert all(mcp_auth.is_issued(header) for header in mcp_auth.mcp_authorizations)
    assert len(alice_mcp_headers) == 1
    assert len(set(mcp_auth.mcp_authorizations) - alice_mcp_headers) == 1

    # The cache is the store item (owner, "tokens")/"data", readable by its owner only.
    params = {"namespace": f"{alice.user_id}.tokens", "key": "data"}
    with user_client(agent_url, alice.headers) as http:
        item = http.get("/store/items", params=params)
        assert item.status_code == 200, item.text
        assert {f"Bearer {item.json()['value']['access_token']}"} == alice_mcp_headers
    with user_client(agent_url, bob.headers) as http:
        assert http.get("/store/items", params=params).status_code in (403, 404)


def test_mcp_server_down_gives_a_plain_answer(
    agent_url: str, new_user: Callable[[], TestUser], fake_llm: FakeLLMServer
) -> None:
    user = new_user()
    fake_llm.clear_requests()
    config = {"mcp_config": {"url": f"http://127.0.0.1:{free_port()}", "tools": ["add"]}}
    with user_client(agent_url, user.headers) as http:
        thread_id, result = chat(http, user, "agent", ADD_REQUEST, agent_config=config)
        assert final_messages(result)[-1]["content"] == f"You said: {ADD_REQUEST}"
        run_id = result.named("metadata")[0]["run_id"]
        run = http.get(f"/threads/{thread_id}/runs/{run_id}").json()
        assert run["status"] == "success"
        assert http.get(f"/threads/{thread_id}").json()["status"] == "idle"
    assert [offered_tools(r) for r in fake_llm.requests] == [[]]


def test_api_keys_from_the_run_reach_the_model(
    agent_url: str, new_user: Callable[[], TestUser], fake_llm: FakeLLMServer
) -> None:
    user = new_user()

    def authorization_of_last_model_call() -> str:
        recorded = httpx.get(f"{fake_llm.root_url}/_requests", timeout=10).json()
        return recorded[-1]["authorization"]

    with user_client(agent_url, user.headers) as http:
        # OAP sends empty strings when the user saved no keys: the server's key is used.
        chat(http, user, "agent", "hello")
        assert authorization_of_last_model_call() == f"Bearer {SERVER_OPENAI_KEY}"
        keys = {"OPENAI_API_KEY": "sk-user-own-key", "ANTHROPIC_API_KEY": "", "GOOGLE_API_KEY": ""}
        chat(http, user, "agent", "hello again", api_keys=keys)
        assert authorization_of_last_model_call() == "Bearer sk-user-own-key"


def test_stateless_wait_answers(agent_url: str, new_user: Callable[[], TestUser]) -> None:
    user = new_user()
    with user_client(agent_url, user.headers) as http:
        body = {
            "assistant_id": "agent",
            "input": {"messages": [{"role": "user", "content": "hi there"}]},
            "config": {"configurable": {"model_name": FAKE_MODEL}},
        }
        response = http.post("/runs/wait", json=body)
        assert response.status_code == 200, response.text
        assert message_text(response.json()["messages"][-1]) == "You said: hi there"


def test_agent_schemas_show_every_ui_config_without_network(
    agent_url: str, new_user: Callable[[], TestUser], mcp: FakeMCPServer, rag: FakeRagServer
) -> None:
    user = new_user()
    configurable = {
        "model_name": FAKE_MODEL,
        "mcp_config": {"url": mcp.url, "tools": ["add"], "auth_required": True},
        "rag": {"rag_url": rag.url, "collections": [PETS_COLLECTION_ID]},
    }
    with user_client(agent_url, user.headers) as http:
        created = http.post(
            "/assistants",
            json={"graph_id": "agent", "name": "Tooled", "config": {"configurable": configurable}},
        )
        assert created.status_code == 200, created.text
        before = (mcp.requests, len(rag.requests))
        for assistant_id in (created.json()["assistant_id"], system_assistant_id("agent")):
            response = http.get(f"/assistants/{assistant_id}/schemas")
            assert response.status_code == 200, response.text
            schemas = response.json()
            assert schemas["graph_id"] == "agent"
            properties = schemas["config_schema"]["properties"]
            assert set(properties) >= {
                "model_name",
                "temperature",
                "max_tokens",
                "system_prompt",
                "mcp_config",
                "rag",
            }
            ui = {name: prop.get("x_oap_ui_config") for name, prop in properties.items()}
            missing = [name for name, config in ui.items() if not isinstance(config, dict)]
            assert not missing, f"properties without x_oap_ui_config: {missing}"
            assert ui["model_name"]["type"] == "select" and len(ui["model_name"]["options"]) == 11
            assert ui["temperature"] == {
                "type": "slider",
                "default": 0.7,
                "min": 0,
                "max": 2,
                "step": 0.1,
                "description": ui["temperature"]["description"],
            }
            assert ui["max_tokens"]["type"] == "number" and ui["max_tokens"]["default"] == 4000
            assert ui["system_prompt"]["type"] == "textarea"
            assert ui["mcp_config"]["type"] == "mcp"
            assert ui["rag"]["type"] == "rag"
            assert "messages" in schemas["input_schema"]["properties"]
        # Building the schemas never touched the assistant's MCP or RAG server.
        assert (mcp.requests, len(rag.requests)) == before


@pytest.mark.parametrize(
    ("model_name", "text", "expected"),
    [
        # The model's HTTP 500: which messages are shown is the engine's allow-list policy.
        (FAKE_MODEL, "please fail now", ""),
        ("anthropic:claude-sonnet-4-0", "hello", "Model provider 'anthropic' is not supported"),
    ],
    ids=["model-error", "unsupported-provider"],
)
def test_run_failures_reach_oap_as_an_error_event(
    agent_url: str, new_user: Callable[[], TestUser], model_name: str, text: str, expected: str
) -> None:
    user = new_user()
    with user_client(agent_url, user.headers) as http:
        thread_id = http.post("/threads", json={"metadata": {}}).json()["thread_id"]
        body = oap_chat_body("agent", user.token, text=text, agent_config={"model_name": model_name})
        result = stream(http, f"/threads/{thread_id}/runs/stream", body)
        assert result.status_code == 200
        # The SDK builds its StreamError from `message` (shown in OAP's toast) and `error` (its name).
        [error] = result.named("error")
        assert isinstance(error["error"], str) and error["error"]
        assert isinstance(error["message"], str) and error["message"]
        assert expected in error["message"], error
        assert result.names[-1] == "error"
        assert http.get(f"/threads/{thread_id}").json()["status"] == "error"
