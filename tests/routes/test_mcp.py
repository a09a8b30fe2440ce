"""MCP against the real server: the official `mcp` SDK client over streamable HTTP with two users,
raw JSON-RPC for the envelope rules, and the pure paging/schema helpers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from robyn_server.services.mcp import McpError, answer_text, normalize_name, page, tool_schema

MCP_ACCEPT = {"Accept": "application/json, text/event-stream"}


@asynccontextmanager
async def mcp_client(base_url: str, user, *, mode: str = "auto") -> AsyncIterator[Client]:
    """An MCP SDK client session authenticated as `user`."""
    headers = {"Authorization": f"Bearer {user.token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        Client(streamable_http_client(f"{base_url}/mcp", http_client=http), mode=mode) as client,
    ):
        yield client


def post(http: httpx.Client, body: dict | str, headers: dict[str, str] | None = None) -> httpx.Response:
    """A raw POST /mcp."""
    content = body if isinstance(body, str) else json.dumps(body)
    return http.post("/mcp", content=content, headers={**MCP_ACCEPT, **(headers or {})})


@pytest.mark.filterwarnings("ignore:ping is removed")  # still valid in the handshake era we negotiate
async def test_sdk_initialize_list_call_ping(base_url: str, alice) -> None:
    async with mcp_client(base_url, alice, mode="legacy") as client:
        assert client.session.protocol_version == "2025-11-25"
        await client.send_ping()
        listed = await client.list_tools()
        assert listed.next_cursor is None
        tools = {tool.name: tool for tool in listed.tools}
        assert {"chat", "hitl", "slow"} <= set(tools)
        chat = tools["chat"]
        assert chat.description == "Chat agent with a scripted fake model and a get_weather tool"
        assert chat.input_schema["properties"]["messages"]["type"] == "string"
        assert chat.input_schema["required"] == ["messages"] and "$defs" not in chat.input_schema
        assert tools["slow"].description == "Tool based on the slow assistant"
        assert set(tools["slow"].input_schema["properties"]) == {"seconds", "steps", "fail", "log"}

        reply = await client.call_tool("chat", {"messages": "hi"})
        assert not reply.is_error
        assert reply.content[0].text == "You said: hi. This is a deterministic fake reply."
        weather = await client.call_tool(
            "chat", {"messages": [{"role": "user", "content": "weather in Nice"}]}
        )
        assert weather.content[0].text == "Tool said: It is always sunny in Nice. Anything else?"
        values = await client.call_tool("slow", {"seconds": 0.01})
        assert json.loads(values.content[0].text)["log"] == ["slept 0.010s in 1 steps"]
        failed = await client.call_tool("slow", {"fail": True})
        assert failed.is_error
        assert failed.content[0].text == "RuntimeError: slow graph failure requested by input"
        waiting = await client.call_tool("hitl", {"messages": "plan"})
        assert json.loads(waiting.content[0].text)["__interrupt__"][0]["value"]["draft"] == "Plan for: plan"


async def test_two_users_see_and_call_only_their_tools(base_url: str, alice, bob, http: httpx.Client) -> None:
    http.post("/assistants", json={"graph_id": "chat", "name": "alice private helper", "description": "mine"})
    async with mcp_client(base_url, alice) as alice_client, mcp_client(base_url, bob) as bob_client:
        alice_tools = {t.name: t for t in (await alice_client.list_tools()).tools}
        assert alice_tools["alice_private_helper"].title == "alice private helper"
        assert alice_tools["alice_private_helper"].description == "mine"
        bob_tools = {t.name for t in (await bob_client.list_tools()).tools}
        assert "alice_private_helper" not in bob_tools and "chat" in bob_tools
        reply = await alice_client.call_tool("alice_private_helper", {"messages": "yo"})
        assert reply.content[0].text == "You said: yo. This is a deterministic fake reply."
        with pytest.raises(MCPError) as refused:
            await bob_client.call_tool("alice_private_helper", {"messages": "yo"})
        assert refused.value.error.code == -32602
        assert refused.value.error.message == "Unknown tool: alice_private_helper"


def test_raw_protocol_rules(http: httpx.Client, anon_http: httpx.Client) -> None:
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2024-11-05"}}
    result = post(http, init).json()["result"]
    assert result["protocolVersion"] == "2024-11-05"
    assert result["capabilities"] == {"tools": {"listChanged": False}}
    assert result["serverInfo"]["name"] == "LangGraph"
    init["params"]["protocolVersion"] = "1999-01-01"
    assert post(http, init).json()["result"]["protocolVersion"] == "2025-11-25"

    notification = post(http, {"jsonrpc": "2.0", "method": "notifications/initialized"})
    assert notification.status_code == 202 and notification.content == b""
    assert post(http, {"jsonrpc": "2.0", "id": 5, "result": {}}).status_code == 202
    assert post(http, {"jsonrpc": "2.0", "id": 2, "method": "ping"}).json() == {
        "jsonrpc": "2.0",
        "id": 2,
        "result": {},
    }
    unknown = post(http, {"jsonrpc": "2.0", "id": 3, "method": "resources/list"}).json()
    assert unknown["error"] == {"code": -32601, "message": "Method not found: resources/list"}
    bad_cursor = post(http, {"jsonrpc": "2.0", "id": 4, "method": "tools/list", "params": {"cursor": "x"}})
    assert bad_cursor.json()["error"]["code"] == -32602
    no_tool = post(http, {"jsonrpc": "2.0", "id": 6, "method": "tools/call", "params": {"name": "nope"}})
    assert no_tool.json()["error"] == {"code": -32602, "message": "Unknown tool: nope"}
    bad_args = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {"name": "chat", "arguments": [1]},
    }
    assert post(http, bad_args).json()["error"]["code"] == -32602

    invalid = post(http, "{x")
    assert invalid.status_code == 400 and invalid.json() == {"error": "Invalid JSON"}
    refused = post(http, {"jsonrpc": "2.0", "id": 8, "method": "ping"}, {"Accept": "text/html"})
    assert refused.status_code == 400
    assert refused.json() == {"error": "Accept header must include application/json or text/event-stream"}
    assert post(http, {"jsonrpc": "1.0", "id": 9, "method": "ping"}).status_code == 400
    assert post(http, "[]").status_code == 400
    assert http.get("/mcp").status_code == 405
    assert http.delete("/mcp").status_code == 404
    assert anon_http.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"}).status_code == 401


def test_paging_and_schema_helpers() -> None:
    items = list(range(5))
    assert page(items, None, 2) == ([0, 1], "2")
    assert page(items, "2", 2) == ([2, 3], "4")
    assert page(items, "4", 2) == ([4], None)
    assert page(items, "10", 2) == ([], None)
    for bad in ("-1", "abc", 3):
        with pytest.raises(McpError):
            page(items, bad, 2)
    assert normalize_name("  my  agent/v2!  ") == "my_agentv2"
    assert len(normalize_name("x" * 300)) == 128
    schema, keys = tool_schema({"properties": {"n": {"type": "integer"}}})
    assert schema == {"properties": {"n": {"type": "integer"}}, "type": "object"} and keys == set()
    messages = {"type": "ai", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
    assert answer_text({"messages": [{"type": "human", "content": "q"}, messages]}) == "ab"
    assert answer_text({"n": 1}) == '{"n": 1}'
