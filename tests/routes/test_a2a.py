"""A2A against the real server: the official a2a-sdk client (v1.0 and its v0.3 compat transport)
for every method, raw JSON-RPC for each error code, the Accept rules and owner isolation."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from a2a.client import A2ACardResolver, ClientConfig, ClientFactory
from a2a.types.a2a_pb2 import (
    AgentCard,
    CancelTaskRequest,
    GetTaskRequest,
    ListTasksRequest,
    Message,
    Part,
    Role,
    SendMessageConfiguration,
    SendMessageRequest,
    StreamResponse,
    TaskState,
)
from a2a.utils.errors import TaskNotCancelableError, TaskNotFoundError
from google.protobuf.json_format import MessageToDict
from google.protobuf.struct_pb2 import Value

CHAT = "eb6db400-e3c8-5d06-a834-015cb89efe69"
HITL = "d2a02ed8-fb92-5e43-81ea-cb78d82caa2f"
SLOW = "cad1b5ad-d177-59d1-ab39-5e327188ed3a"
JSON_ACCEPT = {"Accept": "application/json"}


@pytest.fixture()
async def alice_http(base_url: str, alice) -> AsyncIterator[httpx.AsyncClient]:
    """An async httpx client carrying alice's token, for the a2a-sdk."""
    async with httpx.AsyncClient(base_url=base_url, headers=alice.headers, timeout=30) as client:
        yield client


async def sdk_client(http: httpx.AsyncClient, assistant_id: str, *, streaming: bool, version: str = "1.0"):
    """An a2a-sdk client from the served agent card, pinned to one protocol version."""
    base = str(http.base_url).rstrip("/")
    card = await A2ACardResolver(http, f"{base}/a2a/{assistant_id}").get_agent_card()
    pinned = AgentCard()
    pinned.CopyFrom(card)
    del pinned.supported_interfaces[:]
    pinned.supported_interfaces.extend(i for i in card.supported_interfaces if i.protocol_version == version)
    return ClientFactory(ClientConfig(httpx_client=http, streaming=streaming)).create(pinned)


def text_message(text: str, **ids: str) -> SendMessageRequest:
    """A user message with one text part (`context_id=`, `task_id=` optional)."""
    message = Message(role=Role.ROLE_USER, message_id=str(uuid.uuid4()), parts=[Part(text=text)], **ids)
    return SendMessageRequest(message=message)


def data_message(data: dict[str, Any], *, wait: bool = True, **ids: str) -> SendMessageRequest:
    """A user message with one data part."""
    value = Value()
    value.struct_value.update(data)
    message = Message(role=Role.ROLE_USER, message_id=str(uuid.uuid4()), parts=[Part(data=value)], **ids)
    return SendMessageRequest(
        message=message, configuration=SendMessageConfiguration(return_immediately=not wait)
    )


async def events(client, request: SendMessageRequest) -> list[StreamResponse]:
    """Every response of one send."""
    return [event async for event in client.send_message(request)]


def texts(parts) -> list[str]:
    """The text parts' text."""
    return [p.text for p in parts if p.WhichOneof("content") == "text"]


def rpc(http: httpx.Client, assistant_id: str, method: str, params: Any = None, **extra: Any) -> dict:
    """A raw JSON-RPC call; JSON-RPC errors must come with HTTP 200."""
    body = {"jsonrpc": "2.0", "id": 7, "method": method, **extra}
    if params is not None:
        body["params"] = params
    response = http.post(f"/a2a/{assistant_id}", json=body, headers=JSON_ACCEPT)
    assert response.status_code == 200, response.text
    return response.json()


def raw_message(text: str | None = None, *, spec: bool = False, **fields: Any) -> dict[str, Any]:
    """A message as JSON (v1 parts by default, v0.3 `kind` parts with `spec`)."""
    parts = [{"kind": "text", "text": text} if spec else {"text": text}] if text is not None else []
    role = "user" if spec else "ROLE_USER"
    return {"role": role, "messageId": str(uuid.uuid4()), "parts": parts, **fields}


# ---------------------------------------------------------------------------------------------- cards


def test_agent_card_paths_and_fields(http: httpx.Client, base_url: str) -> None:
    card = http.get(f"/a2a/{CHAT}/.well-known/agent-card.json").json()
    assert http.get("/.well-known/agent-card.json", params={"assistant_id": CHAT}).json() == card
    assert http.get(f"/a2a/{CHAT}").json() == card
    assert card["name"] == "chat"
    assert card["description"] == "Chat agent with a scripted fake model and a get_weather tool"
    assert card["url"] == f"{base_url}/a2a/{CHAT}"
    assert {i["protocolVersion"] for i in card["supportedInterfaces"]} == {"1.0", "0.3"}
    assert card["capabilities"]["streaming"] is True
    assert card["defaultInputModes"] == card["defaultOutputModes"] == ["application/json", "text/plain"]
    skill = card["skills"][0]
    assert skill["id"] == f"{CHAT}-main" and skill["name"] == "chat Capabilities"
    assert skill["metadata"]["inputSchema"] == {
        "required": ["messages"],
        "properties": ["messages"],
        "supportsA2A": True,
    }


def test_agent_card_errors_and_auth(http: httpx.Client, http_bob: httpx.Client, anon_http) -> None:
    missing = http.get("/.well-known/agent-card.json")
    assert missing.status_code == 400 and missing.json()["error"]["code"] == -32602
    assert http.get(f"/a2a/{uuid.uuid4()}/.well-known/agent-card.json").status_code == 400
    assert http.get("/a2a/not-a-uuid").json()["error"]["message"] == "Invalid assistant ID: must be a UUID"
    assert anon_http.get(f"/a2a/{CHAT}/.well-known/agent-card.json").status_code == 401
    own = http.post("/assistants", json={"graph_id": "chat", "name": "alice card"}).json()["assistant_id"]
    assert http.get(f"/a2a/{own}").json()["name"] == "alice card"
    assert http_bob.get(f"/a2a/{own}").status_code == 400


# ---------------------------------------------------------------------------------------------- SDK, v1.0


async def test_sdk_v1_send_follow_up_get_and_list(alice_http: httpx.AsyncClient) -> None:
    client = await sdk_client(alice_http, CHAT, streaming=False)
    [first] = await events(client, text_message("what is the weather in Rome"))
    task = first.task
    context = task.context_id
    assert task.id == f"{context}:{task.id.split(':')[-1]}"
    assert task.status.state == TaskState.TASK_STATE_COMPLETED
    assert texts(task.artifacts[0].parts) == ["Tool said: It is always sunny in Rome. Anything else?"]
    roles = [m.role for m in task.history]
    assert roles == [Role.ROLE_USER, Role.ROLE_AGENT, Role.ROLE_AGENT]
    tool_data = MessageToDict(task.history[1].parts[0].data)
    assert tool_data["tool_results"][0]["content"] == "It is always sunny in Rome"

    [second] = await events(client, text_message("hello again", context_id=context))
    follow = second.task
    assert follow.context_id == context and follow.id != task.id
    assert [m.task_id for m in follow.history] == [task.id] * 3 + [follow.id] * 2
    assert texts(follow.history[-1].parts) == ["You said: hello again. This is a deterministic fake reply."]

    got = await client.get_task(GetTaskRequest(id=task.id, history_length=2))
    assert got.status.state == TaskState.TASK_STATE_COMPLETED
    assert len(got.history) == 2 and texts(got.artifacts[0].parts) == texts(task.artifacts[0].parts)
    listed = await client.list_tasks(ListTasksRequest(context_id=context))
    assert [t.id for t in listed.tasks] == [follow.id, task.id] and listed.total_size == 2
    with pytest.raises(TaskNotFoundError):
        await client.get_task(GetTaskRequest(id=f"{context}:{uuid.uuid4()}"))
    await client.close()


async def test_sdk_v1_stream(alice_http: httpx.AsyncClient) -> None:
    client = await sdk_client(alice_http, CHAT, streaming=True)
    got = await events(client, text_message("hi there"))
    kinds = [e.WhichOneof("payload") for e in got]
    assert kinds[0] == "task" and got[0].task.status.state == TaskState.TASK_STATE_SUBMITTED
    assert kinds[-2:] == ["artifact_update", "status_update"]
    updates = [e.status_update for e in got[1:-2]]
    assert updates and {u.status.state for u in updates} == {TaskState.TASK_STATE_WORKING}
    answer = "You said: hi there. This is a deterministic fake reply."
    streamed = [texts(u.status.message.parts)[0] for u in updates if u.status.message.parts]
    assert len(streamed) > 3 and streamed[-1] == answer  # accumulated text, token by token
    assert all(answer.startswith(chunk) for chunk in streamed)
    assert texts(got[-2].artifact_update.artifact.parts) == [answer]
    assert got[-1].status_update.status.state == TaskState.TASK_STATE_COMPLETED
    await client.close()


async def test_sdk_v1_stream_interrupt_and_data_only_runs(alice_http: httpx.AsyncClient) -> None:
    hitl = await sdk_client(alice_http, HITL, streaming=True)
    got = await events(hitl, text_message("stream it"))
    assert got[-2].artifact_update.artifact.name == "Interrupt"
    assert got[-1].status_update.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
    task_id, context_id = got[0].task.id, got[0].task.context_id
    resumed = await events(hitl, data_message({"resume": "yes"}, task_id=task_id, context_id=context_id))
    assert resumed[0].task.id == task_id
    assert texts(resumed[-2].artifact_update.artifact.parts) == ['Decision recorded: "yes"']
    assert resumed[-1].status_update.status.state == TaskState.TASK_STATE_COMPLETED

    # Longer than the server's keep-alive interval: comment frames must not disturb the client.
    slow = await sdk_client(alice_http, SLOW, streaming=True)
    got = await events(slow, data_message({"seconds": 1.2, "steps": 2}))
    assert [e.WhichOneof("payload") for e in got] == [
        "task",
        "status_update",
        "artifact_update",
        "status_update",
    ]
    answer = json.loads(texts(got[2].artifact_update.artifact.parts)[0])
    assert answer["log"] == ["slept 1.200s in 2 steps"]
    for client in (hitl, slow):
        await client.close()


async def test_sdk_interrupt_then_resume_with_data_part(alice_http: httpx.AsyncClient) -> None:
    client = await sdk_client(alice_http, HITL, streaming=False)
    [first] = await events(client, text_message("ship it"))
    task = first.task
    assert task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
    interrupt = task.artifacts[0]
    assert interrupt.name == "Interrupt"
    assert MessageToDict(interrupt.parts[0].data)["value"] == {
        "question": "Approve the draft?",
        "draft": "Plan for: ship it",
    }
    waiting = await client.get_task(GetTaskRequest(id=task.id))
    assert waiting.status.state == TaskState.TASK_STATE_INPUT_REQUIRED

    resume = data_message({"resume": {"approved": True}}, task_id=task.id, context_id=task.context_id)
    [second] = await events(client, resume)
    assert second.task.id == task.id  # the same task continues
    assert second.task.status.state == TaskState.TASK_STATE_COMPLETED
    assert texts(second.task.artifacts[0].parts) == ['Decision recorded: {"approved": true}']
    done = await client.get_task(GetTaskRequest(id=task.id))
    assert done.status.state == TaskState.TASK_STATE_COMPLETED
    await client.close()


async def test_sdk_cancel_really_stops_the_run(alice_http: httpx.AsyncClient) -> None:
    client = await sdk_client(alice_http, SLOW, streaming=False)
    [first] = await events(client, data_message({"seconds": 20, "steps": 200}, wait=False))
    task = first.task
    assert task.status.state == TaskState.TASK_STATE_SUBMITTED
    canceled = await client.cancel_task(CancelTaskRequest(id=task.id))
    assert canceled.status.state == TaskState.TASK_STATE_CANCELED
    assert (await client.get_task(GetTaskRequest(id=task.id))).status.state == TaskState.TASK_STATE_CANCELED
    run_id = task.id.rsplit(":", 1)[1]
    run = (await alice_http.get(f"/threads/{task.context_id}/runs/{run_id}")).json()
    assert run["status"] == "interrupted"
    with pytest.raises(TaskNotCancelableError):
        await client.cancel_task(CancelTaskRequest(id=task.id))
    await client.close()


# ---------------------------------------------------------------------------------------------- SDK, v0.3


async def test_sdk_v03_send_stream_get_cancel(alice_http: httpx.AsyncClient) -> None:
    client = await sdk_client(alice_http, CHAT, streaming=False, version="0.3")
    assert type(client._transport).__name__ == "CompatJsonRpcTransport"
    [sent] = await events(client, text_message("hello", context_id="any string, not a uuid"))
    task = sent.task
    assert task.context_id == "any string, not a uuid"
    assert task.status.state == TaskState.TASK_STATE_COMPLETED
    got = await client.get_task(GetTaskRequest(id=task.id))
    assert got.id == task.id and texts(got.artifacts[0].parts) == texts(task.artifacts[0].parts)
    with pytest.raises(TaskNotCancelableError):
        await client.cancel_task(CancelTaskRequest(id=task.id))

    streaming = await sdk_client(alice_http, CHAT, streaming=True, version="0.3")
    got_events = await events(streaming, text_message("weather in Oslo", context_id=task.context_id))
    assert got_events[0].task.status.state == TaskState.TASK_STATE_SUBMITTED
    final = got_events[-1].status_update
    assert final.status.state == TaskState.TASK_STATE_COMPLETED
    tool_updates = [
        e
        for e in got_events
        if e.status_update.status.message.parts and e.status_update.status.message.parts[0].data
    ]
    assert tool_updates  # the tool result arrives as a data part while the agent works
    assert texts(got_events[-2].artifact_update.artifact.parts) == [
        "Tool said: It is always sunny in Oslo. Anything else?"
    ]

    slow = await sdk_client(alice_http, SLOW, streaming=False, version="0.3")
    [started] = await events(slow, data_message({"seconds": 20, "steps": 200}, wait=False))
    canceled = await slow.cancel_task(CancelTaskRequest(id=started.task.id))
    assert canceled.status.state == TaskState.TASK_STATE_CANCELED
    for c in (client, streaming, slow):
        await c.close()


def test_spec_and_v1_formats_on_the_wire(http: httpx.Client) -> None:
    v1 = rpc(http, CHAT, "SendMessage", {"message": raw_message("format check")})["result"]
    assert list(v1) == ["task"]
    assert v1["task"]["status"]["state"] == "TASK_STATE_COMPLETED"
    assert {m["role"] for m in v1["task"]["history"]} == {"ROLE_USER", "ROLE_AGENT"}
    spec = rpc(http, CHAT, "message/send", {"message": raw_message("format check", spec=True)})["result"]
    assert spec["kind"] == "task" and spec["status"]["state"] == "completed"
    assert {m["role"] for m in spec["history"]} == {"user", "agent"}
    got = rpc(http, CHAT, "tasks/get", {"id": spec["id"], "historyLength": 0})["result"]
    assert got["status"]["state"] == "completed" and "history" not in got


def test_text_resume_and_cancel_of_an_input_required_task(http: httpx.Client) -> None:
    first = rpc(http, HITL, "message/send", {"message": raw_message("plan A", spec=True)})["result"]
    assert first["status"]["state"] == "input-required"
    resumed = rpc(http, HITL, "message/send", {"message": raw_message("ok", spec=True, taskId=first["id"])})[
        "result"
    ]
    assert resumed["status"]["state"] == "completed"
    assert resumed["artifacts"][0]["parts"][0]["text"] == 'Decision recorded: "ok"'

    waiting = rpc(http, HITL, "SendMessage", {"message": raw_message("plan B")})["result"]["task"]
    canceled = rpc(http, HITL, "CancelTask", {"id": waiting["id"]})["result"]
    assert canceled["status"]["state"] == "TASK_STATE_CANCELED"
    assert rpc(http, HITL, "GetTask", {"id": waiting["id"]})["result"]["status"]["state"] == (
        "TASK_STATE_CANCELED"
    )
    again = rpc(http, HITL, "SendMessage", {"message": raw_message("more", taskId=waiting["id"])})
    assert again["error"]["code"] == -32004


# ---------------------------------------------------------------------------------------------- isolation


def test_owner_isolation(http: httpx.Client, http_bob: httpx.Client) -> None:
    shared = "team-room"
    alice_task = rpc(http, CHAT, "SendMessage", {"message": raw_message("alice secret", contextId=shared)})
    alice_task = alice_task["result"]["task"]
    bob_task = rpc(http_bob, CHAT, "SendMessage", {"message": raw_message("bob here", contextId=shared)})
    bob_task = bob_task["result"]["task"]
    assert bob_task["contextId"] == shared
    assert [p["text"] for m in bob_task["history"] for p in m["parts"] if "alice" in p.get("text", "")] == []
    assert rpc(http_bob, CHAT, "GetTask", {"id": alice_task["id"]})["error"]["code"] == -32001
    assert rpc(http_bob, CHAT, "CancelTask", {"id": alice_task["id"]})["error"]["code"] == -32001
    listed = rpc(http_bob, CHAT, "ListTasks", {"contextId": shared})["result"]["tasks"]
    assert [t["id"] for t in listed] == [bob_task["id"]]
    continuing = raw_message("hi", taskId=alice_task["id"])
    assert rpc(http_bob, CHAT, "SendMessage", {"message": continuing})["error"]["code"] == -32001

    # A UUID contextId is the thread id: bob cannot post into alice's thread.
    uuid_context = rpc(http, CHAT, "SendMessage", {"message": raw_message("mine")})["result"]["task"][
        "contextId"
    ]
    intruder = rpc(http_bob, CHAT, "SendMessage", {"message": raw_message("hi", contextId=uuid_context)})
    assert intruder["error"]["code"] == -32602
    state = http.get(f"/threads/{uuid_context}/state").json()
    assert [m["content"] for m in state["values"]["messages"] if m["type"] == "human"] == ["mine"]

    own = http.post("/assistants", json={"graph_id": "chat", "name": "alice a2a"}).json()["assistant_id"]
    assert rpc(http, own, "SendMessage", {"message": raw_message("x")})["result"]["task"]["status"]
    assert rpc(http_bob, own, "SendMessage", {"message": raw_message("x")})["error"]["code"] == -32602


# ---------------------------------------------------------------------------------------------- errors


def _post(http: httpx.Client, content: bytes | str, accept: str = "application/json") -> httpx.Response:
    return http.post(
        f"/a2a/{CHAT}", content=content, headers={"Accept": accept, "Content-Type": "application/json"}
    )


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("{bad", -32700),
        ("[]", -32600),
        ('{"id": 1, "method": "GetTask"}', -32600),
        ('{"jsonrpc": "2.0", "id": {"x": 1}, "method": "GetTask"}', -32600),
        ('{"jsonrpc": "2.0", "id": 1}', -32600),
        ('{"jsonrpc": "2.0", "method": "GetTask", "params": {"id": "x"}}', -32600),
        ('{"jsonrpc": "2.0", "id": 1, "method": "Nope"}', -32601),
        ('{"jsonrpc": "2.0", "id": 1, "method": 5}', -32601),
        ('{"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {}}', -32602),
        ('{"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": []}', -32602),
        ('{"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {}}', -32602),
        (
            '{"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "x", "historyLength": -1}}',
            -32602,
        ),
        ('{"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "nope"}}', -32001),
    ],
)
def test_jsonrpc_envelope_errors(http: httpx.Client, body: str, code: int) -> None:
    response = _post(http, body)
    assert response.status_code == 200
    payload = response.json()
    assert payload["jsonrpc"] == "2.0" and payload["error"]["code"] == code
    assert isinstance(payload["error"]["message"], str)


def test_method_level_error_codes(http: httpx.Client) -> None:
    no_messages = rpc(http, SLOW, "SendMessage", {"message": raw_message("x")})["error"]
    assert (
        no_messages["code"] == -32602
        and "does not support A2A conversational messages" in no_messages["message"]
    )
    assert rpc(http, "not-a-uuid", "GetTask", {"id": "x"})["error"]["code"] == -32602
    assert rpc(http, str(uuid.uuid4()), "GetTask", {"id": "x"})["error"]["code"] == -32602
    no_id = {"role": "ROLE_USER", "parts": [{"text": "x"}]}
    assert rpc(http, CHAT, "SendMessage", {"message": no_id})["error"]["code"] == -32602
    bad_part = raw_message(None)
    bad_part["parts"] = [{"text": "a", "data": {}}]
    assert rpc(http, CHAT, "SendMessage", {"message": bad_part})["error"]["code"] == -32005
    stray_resume = raw_message(None)
    stray_resume["parts"] = [{"data": {"resume": 1}}]
    assert rpc(http, CHAT, "SendMessage", {"message": stray_resume})["error"]["code"] == -32602
    done = rpc(http, CHAT, "SendMessage", {"message": raw_message("hi")})["result"]["task"]
    assert rpc(http, CHAT, "CancelTask", {"id": done["id"]})["error"] == {
        "code": -32002,
        "message": "Task is not cancelable in its current state",
    }
    terminal = rpc(http, CHAT, "SendMessage", {"message": raw_message("again", taskId=done["id"])})
    assert terminal["error"]["code"] == -32004
    assert rpc(http, CHAT, "ListTasks", {"pageSize": 0})["error"]["code"] == -32602
    assert rpc(http, CHAT, "ListTasks", {"pageToken": "abc"})["error"]["code"] == -32602


def test_accept_header_rules(http: httpx.Client, anon_http) -> None:
    body = '{"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "nope"}}'
    refused = _post(http, body, accept="text/html")
    assert refused.status_code == 400
    assert refused.json() == {"error": "Accept header must include application/json"}
    assert _post(http, body, accept="*/*").json()["error"]["code"] == -32001
    assert _post(http, body, accept="application/*;q=0.9").json()["error"]["code"] == -32001
    stream = '{"jsonrpc": "2.0", "id": 1, "method": "SendStreamingMessage", "params": {"message": {}}}'
    refused_stream = _post(http, stream, accept="application/json")
    assert refused_stream.status_code == 400
    assert refused_stream.json() == {"error": "Accept header must include text/event-stream for streaming"}
    assert anon_http.post(f"/a2a/{CHAT}", content=body, headers=JSON_ACCEPT).status_code == 401


def test_stream_errors_before_streaming_are_plain_jsonrpc(http: httpx.Client) -> None:
    body = {
        "jsonrpc": "2.0",
        "id": 3,
        "method": "message/stream",
        "params": {"message": raw_message("x", spec=True)},
    }
    response = http.post(f"/a2a/{SLOW}", json=body, headers={"Accept": "text/event-stream"})
    assert response.status_code == 200 and response.json()["error"]["code"] == -32602
