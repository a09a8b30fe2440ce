"""Tests for the bundled fake OpenAI-compatible chat model server."""

from __future__ import annotations

import asyncio
import json
import operator
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from functools import reduce
from pathlib import Path

import httpx
import openai
import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

from robyn_server.fake_llm import FakeLLMServer
from robyn_server.fake_llm.rules import ChatRequest, decide

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@tool
def get_weather(city: str) -> str:
    """Return the weather for a city."""
    return f"Sunny in {city}"


@tool
def search_docs(query: str) -> str:
    """Search the documentation."""
    return f"Results for {query}"


@pytest.fixture(scope="module")
def llm_server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(models=["fake-model", "other-model"]) as server:
        yield server


@pytest.fixture
async def model(llm_server: FakeLLMServer) -> AsyncIterator[ChatOpenAI]:
    llm_server.clear_requests()
    # langchain_openai caches one default httpx client per base_url; its pooled connections
    # would outlive this test's event loop, so each test brings its own client.
    async with httpx.AsyncClient(timeout=10) as http_client:
        yield ChatOpenAI(
            base_url=llm_server.url, api_key="sk-test-key", model="fake-model", http_async_client=http_client
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def llm_server_body(model: ChatOpenAI, index: int) -> dict:
    """Fetch a recorded request body over HTTP, as an external test would."""
    root = str(model.openai_api_base).removesuffix("/v1")
    return httpx.get(f"{root}/_requests").json()[index]["body"]


async def test_invoke_echo(model: ChatOpenAI) -> None:
    result = await model.ainvoke("hello there")
    assert isinstance(result, AIMessage)
    assert result.content == "You said: hello there"
    assert result.response_metadata["finish_reason"] == "stop"
    assert result.response_metadata["model_name"] == "fake-model"


async def test_astream_echo_concatenates(model: ChatOpenAI) -> None:
    chunks = [chunk async for chunk in model.astream("stream  me please")]
    contents = [c.content for c in chunks if c.content]
    assert contents == ["You", " ", "said:", " ", "stream", " ", " ", "me", " ", "please"]
    assert "".join(str(c.content) for c in chunks) == "You said: stream  me please"
    assert reduce(operator.add, chunks).response_metadata["finish_reason"] == "stop"


async def test_bind_tools_invoke_tool_call(model: ChatOpenAI) -> None:
    result = await model.bind_tools([get_weather, search_docs]).ainvoke(
        "please use get_weather with city=Rome"
    )
    assert result.tool_calls == [
        {"name": "get_weather", "args": {"city": "Rome"}, "id": "call_get_weather_0", "type": "tool_call"}
    ]
    assert result.response_metadata["finish_reason"] == "tool_calls"


async def test_tool_call_id_counts_previous_tool_calls(model: ChatOpenAI) -> None:
    history = [
        HumanMessage("use search_docs query=cats"),
        AIMessage(
            "", tool_calls=[{"name": "search_docs", "args": {"query": "cats"}, "id": "call_search_docs_0"}]
        ),
        ToolMessage("nothing", tool_call_id="call_search_docs_0"),
        AIMessage("Tool said: nothing. Anything else?"),
        HumanMessage("use search_docs big cats"),
    ]
    result = await model.bind_tools([search_docs]).ainvoke(history)
    assert result.tool_calls[0]["id"] == "call_search_docs_1"
    assert result.tool_calls[0]["args"] == {"query": "big cats"}


async def test_astream_tool_call_chunks_aggregate(model: ChatOpenAI) -> None:
    bound = model.bind_tools([get_weather, search_docs])
    chunks = [chunk async for chunk in bound.astream('use search_docs query="fluffy cats" please')]
    assert sum(1 for c in chunks if c.tool_call_chunks) >= 3  # header + two argument pieces
    full = reduce(operator.add, chunks)
    assert isinstance(full, AIMessageChunk)
    assert full.tool_calls == [
        {
            "name": "search_docs",
            "args": {"query": "fluffy cats"},
            "id": "call_search_docs_0",
            "type": "tool_call",
        }
    ]
    assert full.response_metadata["finish_reason"] == "tool_calls"


async def test_weather_rule(model: ChatOpenAI) -> None:
    result = await model.bind_tools([get_weather]).ainvoke("What's the weather in Oslo?")
    assert result.tool_calls[0]["args"] == {"city": "Oslo"}
    result = await model.bind_tools([get_weather]).ainvoke("How is the weather?")
    assert result.tool_calls[0]["args"] == {"city": "Paris"}


async def test_tool_message_reply(model: ChatOpenAI) -> None:
    messages = [
        HumanMessage("weather in Rome"),
        AIMessage(
            "", tool_calls=[{"name": "get_weather", "args": {"city": "Rome"}, "id": "call_get_weather_0"}]
        ),
        ToolMessage("Sunny, 25C", tool_call_id="call_get_weather_0"),
    ]
    result = await model.bind_tools([get_weather]).ainvoke(messages)
    assert result.content == "Tool said: Sunny, 25C. Anything else?"


async def test_fail_raises_without_retries(model: ChatOpenAI, llm_server: FakeLLMServer) -> None:
    with pytest.raises(openai.InternalServerError) as excinfo:
        await model.ainvoke("please FAIL now")
    assert excinfo.value.status_code == 500
    assert excinfo.value.body["type"] == "server_error"  # type: ignore[index]
    assert len(llm_server.requests) == 1  # x-should-retry: false stops the client's retries


async def test_usage_metadata(model: ChatOpenAI) -> None:
    messages = [SystemMessage("be brief"), HumanMessage("count these words")]
    result = await model.ainvoke(messages)
    # "You said: count these words" -> 9 whitespace-preserving tokens
    assert result.usage_metadata is not None
    assert result.usage_metadata["input_tokens"] == 5
    assert result.usage_metadata["output_tokens"] == 9
    assert result.usage_metadata["total_tokens"] == 14

    streaming = model.model_copy(update={"stream_usage": True})
    chunks = [chunk async for chunk in streaming.astream(messages)]
    full = reduce(operator.add, chunks)
    assert full.usage_metadata is not None
    assert full.usage_metadata["input_tokens"] == 5
    assert full.usage_metadata["output_tokens"] == 9
    assert llm_server_body(model, -1)["stream_options"] == {"include_usage": True}


async def test_requests_record_authorization(model: ChatOpenAI, llm_server: FakeLLMServer) -> None:
    await model.ainvoke("remember me")
    records = httpx.get(f"{llm_server.root_url}/_requests").json()
    assert len(records) == 1
    assert records[0]["authorization"] == "Bearer sk-test-key"
    assert records[0]["body"]["messages"] == [{"role": "user", "content": "remember me"}]
    assert records[0]["body"]["model"] == "fake-model"
    deleted = httpx.delete(f"{llm_server.root_url}/_requests")
    assert deleted.json() == {"cleared": 1}
    assert httpx.get(f"{llm_server.root_url}/_requests").json() == []


def test_malformed_requests_get_400_and_keep_alive(llm_server: FakeLLMServer) -> None:
    with httpx.Client(base_url=llm_server.url) as client:
        bad = client.post(
            "/chat/completions", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert bad.status_code == 400
        assert bad.json()["error"]["type"] == "invalid_request_error"
        assert client.post("/chat/completions", json={"model": "m", "messages": "hi"}).status_code == 400
        assert client.post("/chat/completions", json=[1, 2]).status_code == 400
        assert client.post("/chat/completions", json={"messages": [{"content": "x"}]}).status_code == 400
        assert client.post("/nope", json={}).status_code == 404
        ok = client.post("/chat/completions", json={"model": "m", "messages": []})
        assert ok.status_code == 200
        assert ok.json()["choices"][0]["message"]["content"] == "Hello!"


def test_raw_sse_bytes(llm_server: FakeLLMServer) -> None:
    body = {
        "model": "raw-model",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "raw bytes"}]}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with httpx.stream("POST", f"{llm_server.url}/chat/completions", json=body) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = response.read()
    assert raw.endswith(b"data: [DONE]\n\n")
    events = [json.loads(e.removeprefix(b"data: ")) for e in raw.split(b"\n\n") if e and e != b"data: [DONE]"]
    assert events[0]["choices"][0]["delta"]["role"] == "assistant"
    assert {e["object"] for e in events} == {"chat.completion.chunk"}
    assert {e["model"] for e in events} == {"raw-model"}
    assert len({e["id"] for e in events}) == 1 and events[0]["id"].startswith("chatcmpl-")
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e["choices"])
    assert text == "You said: raw bytes"
    assert events[-2]["choices"][0]["finish_reason"] == "stop"
    assert events[-1]["choices"] == []
    assert events[-1]["usage"]["completion_tokens"] == 7


def test_models_and_health(llm_server: FakeLLMServer) -> None:
    assert httpx.get(f"{llm_server.root_url}/health").json() == {"status": "ok"}
    models = httpx.get(f"{llm_server.url}/models").json()
    assert [m["id"] for m in models["data"]] == ["fake-model", "other-model"]


def test_token_delay_header(llm_server: FakeLLMServer) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "a b"}], "stream": True}
    started = time.perf_counter()
    response = httpx.post(
        f"{llm_server.url}/chat/completions", json=body, headers={"x-fake-token-delay": "0.02"}
    )
    assert response.status_code == 200
    assert time.perf_counter() - started >= 0.02 * 6  # 7 content chunks + the final one
    bad = httpx.post(f"{llm_server.url}/chat/completions", json=body, headers={"x-fake-token-delay": "x"})
    assert bad.status_code == 400


async def test_concurrent_requests(llm_server: FakeLLMServer) -> None:
    async with httpx.AsyncClient(base_url=llm_server.url, timeout=10) as client:

        async def one(i: int) -> str:
            body = {"model": "m", "messages": [{"role": "user", "content": f"n{i}"}], "stream": i % 2 == 0}
            response = await client.post("/chat/completions", json=body)
            assert response.status_code == 200
            return response.text

        results = await asyncio.gather(*(one(i) for i in range(100)))
    assert all(f"n{i}" in text for i, text in enumerate(results))


def test_rules_fill_required_and_forced_choice() -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "search_docs",
                "parameters": {"type": "object", "properties": {"query": {}}, "required": ["query"]},
            },
        }
    ]
    user = [{"role": "user", "content": "use search_docs"}]
    reply = decide(ChatRequest(model="m", messages=user, tools=tools))
    assert json.loads(reply.tool_calls[0].arguments) == {"query": "test"}
    forced = [{"role": "system", "content": "sys"}, {"role": "user", "content": "find dogs"}]
    reply = decide(ChatRequest(model="m", messages=forced, tools=tools, tool_choice="required"))
    assert reply.tool_calls[0].name == "search_docs"
    assert json.loads(reply.tool_calls[0].arguments) == {"query": "find dogs"}
    reply = decide(ChatRequest(model="m", messages=forced, tools=[]))
    assert reply.content == "You said: find dogs"
    assert decide(ChatRequest(model="m", messages=[{"role": "user", "content": "failure"}])).error is None


async def test_cli_subprocess() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "robyn_server.fake_llm", "--port", str(port), "--model", "cli-model"],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        root = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while True:
            try:
                if httpx.get(f"{root}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"fake_llm did not start: {proc.communicate()}") from None
                await asyncio.sleep(0.05)
        async with httpx.AsyncClient(timeout=10) as http_client:
            model = ChatOpenAI(
                base_url=f"{root}/v1", api_key="sk-cli", model="cli-model", http_async_client=http_client
            )
            result = await model.ainvoke("from the cli")
        assert result.content == "You said: from the cli"
        assert httpx.get(f"{root}/v1/models").json()["data"][0]["id"] == "cli-model"
    finally:
        proc.terminate()
        stdout, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert f"http://127.0.0.1:{port}/v1" in stdout
