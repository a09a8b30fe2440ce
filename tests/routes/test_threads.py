"""Threads API through the official SDK and raw HTTP, with two users."""

from __future__ import annotations

import uuid

import httpx
import pytest
from langgraph_sdk.errors import NotFoundError

FRESH_KEYS = [
    "thread_id",
    "created_at",
    "updated_at",
    "state_updated_at",
    "metadata",
    "status",
    "config",
    "values",
]


async def test_create_get_patch_delete(sdk, alice) -> None:
    thread = await sdk.threads.create(metadata={"user": "u1"})
    assert list(thread.keys()) == FRESH_KEYS
    assert thread["status"] == "idle" and thread["values"] is None and thread["config"] == {}
    assert thread["metadata"] == {"user": "u1", "owner": alice.user_id}
    assert uuid.UUID(thread["thread_id"]).version == 7
    tid = thread["thread_id"]
    assert (await sdk.threads.get(tid))["thread_id"] == tid
    patched = await sdk.threads.update(tid, metadata={"b": 2})
    assert patched["metadata"] == {"user": "u1", "owner": alice.user_id, "b": 2}
    assert patched["updated_at"] > thread["updated_at"]
    await sdk.threads.delete(tid)
    with pytest.raises(NotFoundError):
        await sdk.threads.get(tid)


def test_create_with_id_conflict_and_errors(http: httpx.Client) -> None:
    tid = str(uuid.uuid4())
    assert http.post("/threads", json={"thread_id": tid}).status_code == 200
    dup = http.post("/threads", json={"thread_id": tid})
    assert dup.status_code == 409 and dup.json() == {"detail": f"Thread with ID {tid} already exists"}
    same = http.post("/threads", json={"thread_id": tid, "if_exists": "do_nothing"})
    assert same.status_code == 200 and same.json()["thread_id"] == tid
    assert http.post("/threads", json={"thread_id": "abc"}).json() == {
        "detail": "Invalid thread ID: must be a UUID"
    }
    no_body = http.post("/threads")
    assert no_body.status_code == 422 and no_body.json() == {"detail": "Invalid JSON in request body"}
    assert http.get("/threads/xyz").status_code == 422
    missing = uuid.uuid4()
    assert http.get(f"/threads/{missing}").json() == {"detail": f"Thread with ID {missing} not found"}
    assert http.delete(f"/threads/{missing}").status_code == 404
    assert http.post("/threads/search", json={"status": "bogus"}).status_code == 422
    assert http.post("/threads/search", json={"ids": ["nope"]}).status_code == 400
    ttl = http.post("/threads", json={"metadata": {"k": 1}, "ttl": {"strategy": "delete", "ttl": 5}})
    assert ttl.status_code == 200 and "ttl" not in ttl.json()


def test_supersteps_without_graph_id_is_201_and_keeps_thread(http: httpx.Client) -> None:
    body = {"supersteps": [{"updates": [{"values": {"messages": []}, "as_node": "__input__"}]}]}
    response = http.post("/threads", json=body)
    assert response.status_code == 201
    assert "has no assigned graph ID" in response.json()["detail"]


async def test_search_count_select_pagination(sdk) -> None:
    tag = str(uuid.uuid4())
    ids = [(await sdk.threads.create(metadata={"tag": tag, "i": i}))["thread_id"] for i in range(3)]
    found = await sdk.threads.search(metadata={"tag": tag}, limit=10)
    assert [t["thread_id"] for t in found] == list(reversed(ids))
    asc = await sdk.threads.search(metadata={"tag": tag}, sort_by="created_at", sort_order="asc", limit=2)
    assert [t["thread_id"] for t in asc] == ids[:2]
    selected = await sdk.threads.search(metadata={"tag": tag}, select=["thread_id", "status"])
    assert [list(t) for t in selected] == [["thread_id", "status"]] * 3
    assert [t["thread_id"] for t in await sdk.threads.search(ids=[ids[1]])] == [ids[1]]
    assert await sdk.threads.count(metadata={"tag": tag}) == 3
    assert await sdk.threads.count(metadata={"tag": tag}, status="idle") == 3
    assert await sdk.threads.count(metadata={"tag": tag}, status="busy") == 0
    assert await sdk.threads.search(metadata={"tag": tag}, status="error") == []


def test_search_pagination_headers(http: httpx.Client) -> None:
    tag = str(uuid.uuid4())
    for _ in range(3):
        http.post("/threads", json={"metadata": {"tag": tag}})
    page = http.post("/threads/search", json={"metadata": {"tag": tag}, "limit": 2})
    assert page.headers["x-pagination-total"] == "3" and page.headers["x-pagination-next"] == "2"
    rest = http.post("/threads/search", json={"metadata": {"tag": tag}, "limit": 2, "offset": 2})
    assert rest.headers["x-pagination-total"] == "3" and "x-pagination-next" not in rest.headers


async def test_copy_and_prune(sdk, http: httpx.Client) -> None:
    thread = await sdk.threads.create(metadata={"a": 1})
    copy = http.post(f"/threads/{thread['thread_id']}/copy")
    assert copy.status_code == 200
    body = copy.json()
    assert "values" not in body and body["metadata"]["a"] == 1
    assert uuid.UUID(body["thread_id"]).version == 4
    pruned = await sdk.threads.prune([thread["thread_id"], body["thread_id"], str(uuid.uuid4())])
    assert pruned == {"pruned_count": 2}
    with pytest.raises(NotFoundError):
        await sdk.threads.get(body["thread_id"])


def test_empty_thread_state_and_history(http: httpx.Client) -> None:
    tid = http.post("/threads", json={}).json()["thread_id"]
    state = http.get(f"/threads/{tid}/state")
    assert state.status_code == 200
    assert state.json() == {
        "values": {},
        "next": [],
        "tasks": [],
        "metadata": None,
        "created_at": None,
        "checkpoint": None,
        "parent_checkpoint": None,
        "interrupts": [],
        "checkpoint_id": None,
        "parent_checkpoint_id": None,
    }
    assert http.get(f"/threads/{tid}/history").json() == []
    assert http.post(f"/threads/{tid}/history", json={"limit": 1000}).json() == []
    assert http.get(f"/threads/{tid}/runs").json() == []


async def test_isolation_between_users(sdk, sdk_bob, http_bob: httpx.Client, alice) -> None:
    thread = await sdk.threads.create(metadata={"secret": "alice"})
    tid = thread["thread_id"]
    for call in (
        lambda: sdk_bob.threads.get(tid),
        lambda: sdk_bob.threads.update(tid, metadata={"x": 1}),
        lambda: sdk_bob.threads.delete(tid),
        lambda: sdk_bob.threads.copy(tid),
        lambda: sdk_bob.threads.get_state(tid),
        lambda: sdk_bob.threads.get_history(tid),
    ):
        with pytest.raises(NotFoundError):
            await call()
    assert await sdk_bob.threads.search(metadata={"secret": "alice"}) == []
    assert await sdk_bob.threads.search(ids=[tid]) == []
    assert await sdk_bob.threads.count(metadata={"secret": "alice"}) == 0
    assert (await sdk_bob.threads.prune([tid])) == {"pruned_count": 0}
    dup = http_bob.post("/threads", json={"thread_id": tid, "if_exists": "do_nothing"})
    assert dup.status_code == 409
    await sdk.threads.update(tid, metadata={"owner": "someone-else"})
    assert (await sdk.threads.get(tid))["metadata"]["owner"] == alice.user_id


def test_supersteps_with_graph_id_in_metadata_seed_the_state(http: httpx.Client) -> None:
    seeded = [{"type": "human", "content": "seeded"}, {"type": "ai", "content": "hello"}]
    body = {
        "metadata": {"graph_id": "chat"},
        "supersteps": [
            {"updates": [{"values": {"messages": seeded[:1]}, "as_node": "agent"}]},
            {"updates": [{"values": {"messages": seeded[1:]}, "as_node": "agent"}]},
        ],
    }
    created = http.post("/threads", json=body)
    assert created.status_code == 200, created.text
    thread = created.json()
    assert [m["content"] for m in thread["values"]["messages"]] == ["seeded", "hello"]
    history = http.post(f"/threads/{thread['thread_id']}/history", json={"limit": 10}).json()
    assert len(history) == 2
    # The seeded thread continues like any other.
    run = http.post(
        f"/threads/{thread['thread_id']}/runs/wait",
        json={"assistant_id": "chat", "input": {"messages": [{"role": "user", "content": "next"}]}},
    ).json()
    assert [m["content"] for m in run["messages"]][:3] == ["seeded", "hello", "next"]


def test_supersteps_that_cannot_apply_keep_the_thread_and_answer_201(http: httpx.Client) -> None:
    body = {
        "metadata": {"graph_id": "chat"},
        "supersteps": [{"updates": [{"values": {"messages": []}, "as_node": "nonexistent"}]}],
    }
    created = http.post("/threads", json=body)
    assert created.status_code == 201
    assert "there were problems updating the state" in created.json()["detail"]
