"""OAP's LangGraph call list (`oap-ecosystem.md` §2.3-§2.8), replayed with httpx and `langgraph-sdk`.

httpx sends the exact bodies the OAP web UI sends; the official Python SDK covers the same
calls through its own request building and response parsing. The chat runs against the
server with the default graphs (the OAP tools agent); the inbox needs an interrupting graph,
so it runs against the session server that serves `hitl`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import NotFoundError

from robyn_server.fake_llm import FakeLLMServer
from tests.conftest import SERVICE_API_KEY, TestUser
from tests.fakes.mcp_server import FakeMCPServer
from tests.harness.server import ServerProcess
from tests.oap.support import (
    EMPTY_API_KEYS,
    FAKE_MODEL,
    OAP_STREAM_MODES,
    RUN_LOCATION,
    ai_deltas,
    assert_history_chain,
    assert_messages_tuples,
    human_message,
    oap_chat_body,
    stream,
    system_assistant_id,
    user_client,
)

SERVICE_HEADERS = {"x-auth-scheme": "langsmith", "x-api-key": SERVICE_API_KEY}
SYSTEM_SEARCH = {"limit": 100, "offset": 0, "metadata": {"created_by": "system"}}
DEFAULTS_SEARCH = {"limit": 100, "offset": 0, "metadata": {"_x_oap_is_default": True}}
DEFAULT_ASSISTANT_BODY = {
    "graph_id": "agent",
    "name": "Default Assistant",
    "metadata": {"_x_oap_is_default": True, "description": "Default  Assistant", "_x_oap_is_primary": True},
}
ASSISTANT_FIELDS = {
    "assistant_id",
    "graph_id",
    "name",
    "description",
    "config",
    "metadata",
    "created_at",
    "updated_at",
    "version",
}


def sdk_for(url: str, user: TestUser) -> LangGraphClient:
    """The official async Python SDK with OAP's browser headers (no env API key)."""
    return get_client(url=url, api_key=None, headers=user.headers)


# ------------------------------------------------------------------------- §2.3 defaults


async def test_defaults_route_lists_system_assistants_and_creates_user_defaults(
    agent_url: str, new_user: Callable[[], TestUser]
) -> None:
    user = new_user()
    with httpx.Client(base_url=agent_url, headers=SERVICE_HEADERS, timeout=30) as service:
        system = service.post("/assistants/search", json=SYSTEM_SEARCH)
        assert system.status_code == 200, system.text
        assert [(a["assistant_id"], a["graph_id"]) for a in system.json()] == [
            (system_assistant_id("agent"), "agent")
        ]
        assert all(a["metadata"]["created_by"] == "system" for a in system.json())
        assert set(system.json()[0]) >= ASSISTANT_FIELDS
        wrong_key = service.post(
            "/assistants/search", json=SYSTEM_SEARCH, headers={"x-api-key": "not-the-key"}
        )
        assert wrong_key.status_code == 401
    # The same call through the SDK, configured as OAP's Next.js route configures it.
    service_sdk = get_client(url=agent_url, api_key=SERVICE_API_KEY, headers={"x-auth-scheme": "langsmith"})
    found = await service_sdk.assistants.search(metadata={"created_by": "system"}, limit=100)
    assert [a["graph_id"] for a in found] == ["agent"]

    with user_client(agent_url, {"Authorization": f"Bearer {user.token}"}) as route_user:
        assert route_user.post("/assistants/search", json=DEFAULTS_SEARCH).json() == []
        created = route_user.post("/assistants", json=DEFAULT_ASSISTANT_BODY)
        assert created.status_code == 200, created.text
        assistant = created.json()
        assert set(assistant) >= ASSISTANT_FIELDS
        assert assistant["graph_id"] == "agent" and assistant["name"] == "Default Assistant"
        assert assistant["metadata"] | DEFAULT_ASSISTANT_BODY["metadata"] == assistant["metadata"]
        assert assistant["assistant_id"] != system_assistant_id("agent")
        defaults = route_user.post("/assistants/search", json=DEFAULTS_SEARCH).json()
        assert [a["assistant_id"] for a in defaults] == [assistant["assistant_id"]]

    # x-api-key next to a user's Bearer token, without the LangSmith scheme, is that user.
    with user_client(agent_url, {**user.headers, "x-api-key": SERVICE_API_KEY}) as browser:
        defaults = browser.post("/assistants/search", json=DEFAULTS_SEARCH).json()
        assert [a["assistant_id"] for a in defaults] == [assistant["assistant_id"]]


# ------------------------------------------------------------------------- §2.4 agents


async def test_agents_crud_merges_metadata_and_deletes_with_204(
    agent_url: str, new_user: Callable[[], TestUser], mcp: FakeMCPServer
) -> None:
    user = new_user()
    sdk = sdk_for(agent_url, user)
    configurable = {
        "model_name": FAKE_MODEL,
        "temperature": 0.2,
        "system_prompt": "Be precise.",
        "mcp_config": {"url": mcp.url, "tools": ["add"], "auth_required": False},
    }
    with user_client(agent_url, user.headers) as http:
        create_body = {
            "graph_id": "agent",
            "name": "Researcher",
            "metadata": {"description": "Finds things"},
            "config": {"configurable": configurable},
        }
        created = http.post("/assistants", json=create_body)
        assert created.status_code == 200, created.text
        agent = created.json()
        agent_id = agent["assistant_id"]
        assert agent["config"]["configurable"] == configurable
        assert agent["version"] == 1

        listed = http.post("/assistants/search", json={"limit": 100, "offset": 0}).json()
        assert agent_id in [a["assistant_id"] for a in listed]
        assert (await sdk.assistants.get(agent_id))["name"] == "Researcher"

        new_configurable = {**configurable, "system_prompt": "Be brief."}
        patched = http.patch(
            f"/assistants/{agent_id}",
            json={"metadata": {}, "name": "Researcher 2", "config": {"configurable": new_configurable}},
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["metadata"]["description"] == "Finds things"
        assert patched.json()["config"]["configurable"] == new_configurable
        assert patched.json()["version"] == 2

        # Config is replaced, not merged: keys missing from the new config are gone.
        replaced = http.patch(
            f"/assistants/{agent_id}",
            json={
                "metadata": {"description": "Finds more"},
                "config": {"configurable": {"model_name": FAKE_MODEL}},
            },
        )
        assert replaced.json()["config"]["configurable"] == {"model_name": FAKE_MODEL}
        assert replaced.json()["metadata"]["description"] == "Finds more"
        assert replaced.json()["name"] == "Researcher 2"

        schemas = await sdk.assistants.get_schemas(agent_id)
        assert schemas["config_schema"]["properties"]["mcp_config"]["x_oap_ui_config"] == {"type": "mcp"}

        deleted = http.delete(f"/assistants/{agent_id}")
        assert (deleted.status_code, deleted.content) == (204, b"")
        assert http.get(f"/assistants/{agent_id}").status_code == 404
        with pytest.raises(NotFoundError):
            await sdk.assistants.get(agent_id)

        thread_id = http.post("/threads", json={"metadata": {}}).json()["thread_id"]
        deleted = http.delete(f"/threads/{thread_id}")
        assert (deleted.status_code, deleted.content) == (204, b"")


# ------------------------------------------------------------------------- §2.5 chat


async def test_chat_stream_history_and_regenerate(
    agent_url: str, new_user: Callable[[], TestUser], mcp: FakeMCPServer
) -> None:
    user = new_user()
    sdk = sdk_for(agent_url, user)
    agent_config = {"mcp_config": {"url": mcp.url, "tools": ["add", "lookup_city"], "auth_required": False}}
    with user_client(agent_url, user.headers) as http:
        agent_id = http.post("/assistants", json=DEFAULT_ASSISTANT_BODY).json()["assistant_id"]
        thread = http.post("/threads", json={"metadata": {}})
        assert thread.status_code == 200
        thread_id = thread.json()["thread_id"]

        # Turn 1: OAP's body, first turn (no checkpoint).
        body = oap_chat_body(
            agent_id, user.token, text="please use lookup_city city=Rome", agent_config=agent_config
        )
        first = stream(http, f"/threads/{thread_id}/runs/stream", body)
        assert first.status_code == 200
        location = RUN_LOCATION.match(first.headers["content-location"])
        assert location is not None and location["thread_id"] == thread_id
        assert first.headers["location"] == f"{first.headers['content-location']}/stream"
        assert first.events[0] == ("metadata", {"run_id": location["run_id"], "attempt": 1})
        assert_messages_tuples(first)
        assert not first.named("error")
        answer = first.named("values")[-1]["messages"][-1]
        assert answer["content"] == "Tool said: Rome is a lovely city.. Anything else?"
        assert "".join(ai_deltas(first)[answer["id"]]) == answer["content"]

        # The sidebar finds the conversation by the assistant id the server stamped on it.
        found = http.post(
            "/threads/search", json={"limit": 100, "offset": 0, "metadata": {"assistant_id": agent_id}}
        ).json()
        assert [t["thread_id"] for t in found] == [thread_id]

        history = http.post(f"/threads/{thread_id}/history", json={"limit": 1000}).json()
        assert_history_chain(history, thread_id)
        assert history[0]["values"]["messages"][-1] == answer

        # Turn 2 through the Python SDK: head checkpoint, modes in another order.
        head = dict(history[0]["checkpoint"], checkpoint_map={})
        created: list[Any] = []
        parts = [
            part
            async for part in sdk.runs.stream(
                thread_id,
                agent_id,
                input={"messages": [human_message("and now?")]},
                config={
                    "configurable": {"model_name": FAKE_MODEL, **agent_config, "apiKeys": EMPTY_API_KEYS}
                },
                metadata={"supabaseAccessToken": user.token},
                stream_mode=["messages-tuple", "custom", "values"],
                stream_subgraphs=True,
                stream_resumable=True,
                on_disconnect="continue",
                checkpoint={k: v for k, v in head.items() if k != "thread_id"},
                on_run_created=created.append,
            )
        ]
        assert parts[0].event == "metadata"
        assert [c["run_id"] for c in created] == [parts[0].data["run_id"]]
        assert {p.event for p in parts} == {"metadata", "values", "messages"}
        values = [p.data for p in parts if p.event == "values"]
        # The first values event is the whole thread plus the new input, never just the input.
        assert [m["type"] for m in values[0]["messages"]] == ["human", "ai", "tool", "ai", "human"]
        messages = values[-1]["messages"]
        assert [m["type"] for m in messages] == ["human", "ai", "tool", "ai", "human", "ai"]
        assert messages[-1]["content"] == "You said: and now?"

        # Regenerate the last answer: no input, the parent checkpoint of its first state.
        history = await sdk.threads.get_history(thread_id, limit=1000)
        assert_history_chain(history, thread_id)
        last_id = history[0]["values"]["messages"][-1]["id"]
        first_seen = next(
            s for s in reversed(history) if last_id in [m["id"] for m in s["values"].get("messages", [])]
        )
        parent = first_seen["parent_checkpoint"]
        regen_body = oap_chat_body(
            agent_id, user.token, text=None, agent_config=agent_config, checkpoint=parent
        )
        assert "input" not in regen_body
        regen = stream(http, f"/threads/{thread_id}/runs/stream", regen_body)
        assert not regen.named("error"), regen.named("error")
        regen_messages = regen.named("values")[-1]["messages"]
        assert [m["id"] for m in regen_messages[:-1]] == [m["id"] for m in messages[:-1]]
        assert regen_messages[-1]["id"] != last_id
        assert regen_messages[-1]["content"] == "You said: and now?"
        state = await sdk.threads.get_state(thread_id)
        assert state["values"]["messages"] == regen_messages
        forked = http.post(f"/threads/{thread_id}/history", json={"limit": 1000}).json()
        assert forked[0]["checkpoint"] == state["checkpoint"]
        # The new head descends from the regenerate checkpoint (LangGraph inserts a "fork" step).
        by_id = {h["checkpoint"]["checkpoint_id"]: h for h in forked}
        ancestors, cursor = [], forked[0]
        while cursor["parent_checkpoint"] is not None:
            ancestors.append(cursor["parent_checkpoint"]["checkpoint_id"])
            cursor = by_id[ancestors[-1]]
        assert parent["checkpoint_id"] in ancestors[:3]
        assert history[0]["checkpoint"]["checkpoint_id"] not in ancestors  # the old answer is a sibling


def test_stop_button_leaves_the_run_going(
    agent_url: str, new_user: Callable[[], TestUser], slow_llm: FakeLLMServer
) -> None:
    user = new_user()
    text = "tell me a long story about a cat who wanted to sail across the sea"
    with user_client(agent_url, user.headers) as http:
        thread_id = http.post("/threads", json={"metadata": {}}).json()["thread_id"]
        body = oap_chat_body("agent", user.token, text=text, agent_config={"base_url": slow_llm.url})
        # OAP's stop() only aborts the fetch; with on_disconnect "continue" the run goes on.
        with http.stream("POST", f"/threads/{thread_id}/runs/stream", json=body) as response:
            location = RUN_LOCATION.match(response.headers["content-location"])
            assert location is not None
            for line in response.iter_lines():
                if line.startswith("event: messages"):
                    break
        run_url = f"/threads/{thread_id}/runs/{location['run_id']}"
        assert http.get(run_url).json()["status"] == "running"  # the client left mid-answer
        joined = http.get(f"{run_url}/join", timeout=30)
        assert joined.status_code == 200, joined.text
        assert joined.json()["messages"][-1]["content"] == f"You said: {text}"
        assert http.get(run_url).json()["status"] == "success"


# ------------------------------------------------------------------------- §2.7 inbox


def _interrupted_thread(http: httpx.Client, assistant_id: str, text: str) -> str:
    thread_id = http.post("/threads", json={"metadata": {}}).json()["thread_id"]
    result = stream(
        http,
        f"/threads/{thread_id}/runs/stream",
        {
            "assistant_id": assistant_id,
            "input": {"messages": [human_message(text)]},
            "stream_mode": OAP_STREAM_MODES,
        },
    )
    assert result.status_code == 200 and not result.named("error"), result.events
    return thread_id


async def test_inbox_lists_shows_ignores_and_resumes_interrupts(
    server: ServerProcess, new_user: Callable[[], TestUser]
) -> None:
    user, other = new_user(), new_user()
    sdk = sdk_for(server.url, user)
    with user_client(server.url, user.headers) as http, user_client(server.url, other.headers) as http_other:
        reviewer = http.post(
            "/assistants",
            json={"graph_id": "hitl", "name": "Reviewer", "metadata": {"description": "Reviews"}},
        ).json()["assistant_id"]
        to_resume, to_ignore, to_background = (
            _interrupted_thread(http, reviewer, f"plan {n}") for n in range(3)
        )
        inbox_query = {
            "offset": 0,
            "limit": 100,
            "status": "interrupted",
            "metadata": {"assistant_id": reviewer},
        }
        inbox = http.post("/threads/search", json=inbox_query).json()
        assert {t["thread_id"] for t in inbox} == {to_resume, to_ignore, to_background}
        assert http_other.post("/threads/search", json=inbox_query).json() == []

        thread = http.get(f"/threads/{to_resume}").json()
        assert thread["status"] == "interrupted"
        [(task_id, interrupts)] = thread["interrupts"].items()
        assert interrupts[0]["value"]["question"] == "Approve the draft?"
        assert interrupts[0]["id"]
        state = http.get(f"/threads/{to_resume}/state").json()
        assert state["next"] == ["review"]
        assert state["tasks"][-1]["id"] == task_id
        assert state["tasks"][-1]["interrupts"] == interrupts

        # Resume as the inbox does: command.resume with the astream_events stream.
        response = [{"type": "accept", "args": None}]
        resumed = stream(
            http,
            f"/threads/{to_resume}/runs/stream",
            {"assistant_id": reviewer, "command": {"resume": response}, "stream_mode": "events"},
        )
        starts = [e for e in resumed.named("events") if e["event"] == "on_chain_start"]
        assert "finish" in [e["metadata"].get("langgraph_node") for e in starts if e.get("metadata")]
        final = await sdk.threads.get_state(to_resume)
        assert final["next"] == []
        assert final["values"]["messages"][-1]["content"].startswith("Decision recorded: ")

        # Ignore: end the thread without running the rest.
        ignored = http.post(f"/threads/{to_ignore}/state", json={"values": None, "as_node": "__end__"})
        assert ignored.status_code == 200, ignored.text
        assert http.get(f"/threads/{to_ignore}").json()["status"] == "idle"
        assert http.get(f"/threads/{to_ignore}/state").json()["next"] == []

        # The other resume form: a background run.
        run = http.post(
            f"/threads/{to_background}/runs",
            json={"assistant_id": reviewer, "command": {"resume": [{"type": "response", "args": "ok"}]}},
        )
        assert run.status_code == 200, run.text
        assert RUN_LOCATION.match(run.headers["content-location"])
        await sdk.runs.join(to_background, run.json()["run_id"])
        assert (await sdk.threads.get(to_background))["status"] == "idle"

        assert http.post("/threads/search", json=inbox_query).json() == []
        idle = await sdk.threads.search(status="idle", metadata={"assistant_id": reviewer}, limit=100)
        assert {t["thread_id"] for t in idle} == {to_resume, to_ignore, to_background}
        for thread_id in (to_resume, to_ignore):
            assert http_other.get(f"/threads/{thread_id}").status_code == 404
            assert http_other.get(f"/threads/{thread_id}/state").status_code == 404
            assert (
                http_other.post(
                    f"/threads/{thread_id}/state", json={"values": None, "as_node": "__end__"}
                ).status_code
                == 404
            )


# ------------------------------------------------------------------------- isolation


def test_second_user_sees_none_of_the_first_users_objects(
    agent_url: str, new_user: Callable[[], TestUser]
) -> None:
    alice, bob = new_user(), new_user()
    with user_client(agent_url, alice.headers) as http, user_client(agent_url, bob.headers) as http_bob:
        agent_id = http.post("/assistants", json=DEFAULT_ASSISTANT_BODY).json()["assistant_id"]
        thread_id, result = _chat_once(http, alice, agent_id)
        assert result
        for method, path, body in [
            ("GET", f"/assistants/{agent_id}", None),
            ("GET", f"/assistants/{agent_id}/schemas", None),
            ("PATCH", f"/assistants/{agent_id}", {"metadata": {}}),
            ("DELETE", f"/assistants/{agent_id}", None),
            ("GET", f"/threads/{thread_id}", None),
            ("GET", f"/threads/{thread_id}/state", None),
            ("POST", f"/threads/{thread_id}/history", {"limit": 1000}),
            ("POST", f"/threads/{thread_id}/runs/stream", oap_chat_body(agent_id, bob.token, text="hi")),
            ("DELETE", f"/threads/{thread_id}", None),
        ]:
            response = http_bob.request(method, path, json=body)
            assert response.status_code == 404, (method, path, response.status_code, response.text)
        assert http_bob.post("/assistants/search", json=DEFAULTS_SEARCH).json() == []
        by_assistant = {"limit": 100, "offset": 0, "metadata": {"assistant_id": agent_id}}
        assert http_bob.post("/threads/search", json=by_assistant).json() == []
        assert [t["thread_id"] for t in http.post("/threads/search", json=by_assistant).json()] == [thread_id]


def _chat_once(http: httpx.Client, user: TestUser, agent_id: str) -> tuple[str, str]:
    thread_id = http.post("/threads", json={"metadata": {}}).json()["thread_id"]
    result = stream(
        http, f"/threads/{thread_id}/runs/stream", oap_chat_body(agent_id, user.token, text="hello")
    )
    assert result.status_code == 200 and not result.named("error"), result.events
    return thread_id, result.named("values")[-1]["messages"][-1]["content"]


# ------------------------------------------------------------------------- CORS


def test_cors_lets_a_browser_on_another_origin_make_the_oap_calls(
    agent_url: str, new_user: Callable[[], TestUser]
) -> None:
    origin = "http://localhost:3000"
    user = new_user()
    requested_headers = "authorization,x-supabase-access-token,content-type"
    with user_client(agent_url, {**user.headers, "Origin": origin}) as http:
        agent_id = http.post("/assistants", json=DEFAULT_ASSISTANT_BODY).json()["assistant_id"]
        thread_id = http.post("/threads", json={"metadata": {}}).json()["thread_id"]
        calls = [
            ("POST", "/assistants/search"),
            ("POST", "/assistants"),
            ("GET", f"/assistants/{agent_id}"),
            ("PATCH", f"/assistants/{agent_id}"),
            ("GET", f"/assistants/{agent_id}/schemas"),
            ("POST", "/threads"),
            ("POST", "/threads/search"),
            ("GET", f"/threads/{thread_id}"),
            ("GET", f"/threads/{thread_id}/state"),
            ("POST", f"/threads/{thread_id}/state"),
            ("POST", f"/threads/{thread_id}/history"),
            ("POST", f"/threads/{thread_id}/runs/stream"),
            ("POST", f"/threads/{thread_id}/runs"),
            ("DELETE", f"/threads/{thread_id}"),
            ("DELETE", f"/assistants/{agent_id}"),
        ]
        # A browser preflights every one of them (custom headers, JSON bodies, PATCH/DELETE).
        for method, path in calls:
            preflight = httpx.options(
                f"{agent_url}{path}",
                headers={
                    "Origin": origin,
                    "Access-Control-Request-Method": method,
                    "Access-Control-Request-Headers": requested_headers,
                },
            )
            assert preflight.status_code in (200, 204), (method, path, preflight.status_code)
            assert preflight.headers["access-control-allow-origin"] in ("*", origin)
            allowed_methods = {
                m.strip() for m in preflight.headers["access-control-allow-methods"].split(",")
            }
            assert method in allowed_methods, (method, allowed_methods)
            allowed_headers = {
                h.strip().lower() for h in preflight.headers["access-control-allow-headers"].split(",")
            }
            assert set(requested_headers.split(",")) <= allowed_headers

        # The actual responses, successful or not, are readable by that origin.
        def readable(response: httpx.Response) -> None:
            assert response.headers.get("access-control-allow-origin") in ("*", origin), response.request.url

        readable(http.post("/assistants/search", json={"limit": 100, "offset": 0}))
        readable(http.get(f"/assistants/{agent_id}/schemas"))
        readable(http.patch(f"/assistants/{agent_id}", json={"metadata": {}}))
        readable(http.post(f"/threads/{thread_id}/history", json={"limit": 1000}))
        chat = stream(
            http,
            f"/threads/{thread_id}/runs/stream",
            oap_chat_body(agent_id, user.token, text="hi from a browser"),
        )
        readable(httpx.Response(200, headers=chat.headers, request=httpx.Request("POST", agent_url)))
        exposed = {h.strip().lower() for h in chat.headers["access-control-expose-headers"].split(",")}
        assert "content-location" in exposed  # the SDK reads the run id from it
        readable(http.get("/threads/00000000-0000-0000-0000-000000000000"))
        unauthenticated = httpx.post(f"{agent_url}/threads/search", json={}, headers={"Origin": origin})
        assert unauthenticated.status_code == 401
        readable(unauthenticated)
        readable(http.delete(f"/threads/{thread_id}"))
        readable(http.delete(f"/assistants/{agent_id}"))
