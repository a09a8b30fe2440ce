"""Assistants API through the official SDK and raw HTTP, with two users."""

from __future__ import annotations

import uuid

import httpx
import pytest
from langgraph_sdk.errors import NotFoundError

CHAT_SYSTEM_ID = "eb6db400-e3c8-5d06-a834-015cb89efe69"
SYSTEM_IDS = {
    "chat": CHAT_SYSTEM_ID,
    "hitl": "d2a02ed8-fb92-5e43-81ea-cb78d82caa2f",
    "nested": "0813419b-f0e6-579e-bdee-18d9fdf48632",
    "slow": "cad1b5ad-d177-59d1-ab39-5e327188ed3a",
}
ASSISTANT_KEYS = [
    "assistant_id",
    "graph_id",
    "config",
    "context",
    "metadata",
    "name",
    "created_at",
    "updated_at",
    "version",
    "description",
]


async def test_system_assistants_exist_with_reference_ids(sdk) -> None:
    found = await sdk.assistants.search(metadata={"created_by": "system"}, limit=100)
    by_graph = {a["graph_id"]: a for a in found}
    for graph_id, assistant_id in SYSTEM_IDS.items():
        assert by_graph[graph_id]["assistant_id"] == assistant_id
        assert by_graph[graph_id]["name"] == graph_id
        assert by_graph[graph_id]["version"] == 1
    assert by_graph["chat"]["description"] == "Chat agent with a scripted fake model and a get_weather tool"
    assert list(by_graph["chat"].keys()) == ASSISTANT_KEYS


async def test_create_get_patch_versions_latest_delete(sdk, alice) -> None:
    created = await sdk.assistants.create(
        "chat",
        config={"configurable": {"token_delay": 0}},
        metadata={"team": "a"},
        name="my-chat",
        description="desc",
    )
    assert list(created.keys()) == ASSISTANT_KEYS
    assert created["context"] == {"token_delay": 0}
    assert created["metadata"] == {"team": "a", "owner": alice.user_id}
    assert created["created_at"].endswith("+00:00") and "." in created["created_at"]
    aid = created["assistant_id"]
    assert uuid.UUID(aid).version == 4

    patched = await sdk.assistants.update(aid, metadata={"extra": 1}, name="renamed")
    assert patched["version"] == 2
    assert patched["metadata"] == {"team": "a", "owner": alice.user_id, "extra": 1}
    assert patched["config"] == {"configurable": {"token_delay": 0}}

    patched = await sdk.assistants.update(aid, context={"token_delay": 1})
    assert patched["version"] == 3 and patched["config"] == {"configurable": {"token_delay": 1}}

    versions = await sdk.assistants.get_versions(aid)
    assert [v["version"] for v in versions] == [3, 2, 1]
    assert "updated_at" not in versions[0]

    latest = await sdk.assistants.set_latest(aid, 1)
    assert latest["version"] == 1 and latest["name"] == "my-chat"
    assert (await sdk.assistants.get(aid))["name"] == "my-chat"

    await sdk.assistants.delete(aid)
    with pytest.raises(NotFoundError):
        await sdk.assistants.get(aid)


def test_create_errors_match_reference(http: httpx.Client) -> None:
    aid = str(uuid.uuid4())
    assert http.post("/assistants", json={"graph_id": "chat", "assistant_id": aid}).status_code == 200
    dup = http.post("/assistants", json={"graph_id": "chat", "assistant_id": aid})
    assert dup.status_code == 409
    assert dup.json() == {"detail": f"Assistant {aid} already exists"}
    same = http.post("/assistants", json={"graph_id": "chat", "assistant_id": aid, "if_exists": "do_nothing"})
    assert same.status_code == 200 and same.json()["assistant_id"] == aid

    unknown = http.post("/assistants", json={"graph_id": "nope"})
    assert unknown.status_code == 404
    assert unknown.json()["detail"].startswith("Graph 'nope' not found. Expected one of: [")

    missing = http.post("/assistants", json={"graph": "chat"})
    assert missing.status_code == 422 and '"graph_id" is a required property' in missing.json()["detail"]

    bad_json = http.post("/assistants", content=b"{not json")
    assert bad_json.status_code == 422 and bad_json.json() == {"detail": "Invalid JSON in request body"}

    both = http.post(
        "/assistants", json={"graph_id": "chat", "config": {"configurable": {"a": 1}}, "context": {"b": 2}}
    )
    assert both.status_code == 400 and both.json()["detail"].startswith("Cannot specify both configurable")

    default_name = http.post("/assistants", json={"graph_id": "chat", "unknown_field": 1})
    assert default_name.status_code == 200 and default_name.json()["name"] == "Untitled"


@pytest.mark.parametrize(
    "body",
    [
        {"limit": "x"},
        {"limit": 5000},
        {"limit": 0},
        {"offset": -1},
        {"sort_by": "bogus"},
        {"metadata": []},
        [1, 2],
        "string",
    ],
)
def test_search_rejects_bad_input(http: httpx.Client, body) -> None:
    response = http.post("/assistants/search", json=body)
    assert response.status_code == 422, response.text
    assert isinstance(response.json()["detail"], str)


def test_bad_ids_and_unknown_ids(http: httpx.Client) -> None:
    assert http.get("/assistants/not-a-uuid").json() == {"detail": "Invalid assistant ID: must be a UUID"}
    assert http.get("/assistants/chat").status_code == 422
    missing = http.get(f"/assistants/{uuid.uuid4()}")
    assert missing.status_code == 404 and missing.json() == {"detail": "Not Found"}
    gone = uuid.uuid4()
    deleted = http.delete(f"/assistants/{gone}")
    assert deleted.status_code == 404 and deleted.json() == {"detail": f"Assistant with ID {gone} not found"}
    own = http.post("/assistants", json={"graph_id": "chat"}).json()["assistant_id"]
    version = http.post(f"/assistants/{own}/latest", json={"version": 7})
    assert version.status_code == 404
    assert version.json() == {"detail": f"Version 7 not found for assistant {own}"}


def test_search_pagination_sort_select_count(http: httpx.Client) -> None:
    tag = str(uuid.uuid4())
    ids = [
        http.post("/assistants", json={"graph_id": "hitl", "metadata": {"tag": tag}, "name": f"n{i}"}).json()[
            "assistant_id"
        ]
        for i in range(3)
    ]
    page = http.post("/assistants/search", json={"metadata": {"tag": tag}, "limit": 2, "sort_order": "asc"})
    assert page.status_code == 200
    assert [a["assistant_id"] for a in page.json()] == ids[:2]
    assert page.headers["x-pagination-total"] == "3" and page.headers["x-pagination-next"] == "2"
    last = http.post("/assistants/search", json={"metadata": {"tag": tag}, "limit": 2, "offset": 2})
    assert len(last.json()) == 1 and "x-pagination-next" not in last.headers
    selected = http.post(
        "/assistants/search",
        json={"metadata": {"tag": tag}, "select": ["assistant_id", "name"], "sort_by": "name"},
    )
    assert [list(a) for a in selected.json()] == [["assistant_id", "name"]] * 3
    assert [a["name"] for a in selected.json()] == ["n2", "n1", "n0"]
    by_name = http.post("/assistants/search", json={"metadata": {"tag": tag}, "name": "N1"}).json()
    assert [a["name"] for a in by_name] == ["n1"]
    assert http.post("/assistants/count", json={"metadata": {"tag": tag}}).json() == 3
    assert http.post("/assistants/count", json={"graph_id": "zzz"}).status_code == 404


async def test_schemas_graph_subgraphs(sdk) -> None:
    schemas = await sdk.assistants.get_schemas(CHAT_SYSTEM_ID)
    assert set(schemas) == {
        "graph_id",
        "input_schema",
        "output_schema",
        "state_schema",
        "config_schema",
        "context_schema",
    }
    assert schemas["graph_id"] == "chat"
    assert "messages" in schemas["input_schema"]["properties"]
    drawn = await sdk.assistants.get_graph(CHAT_SYSTEM_ID)
    assert [n["id"] for n in drawn["nodes"]] == ["__start__", "agent", "tools", "__end__"]
    assert {"source": "tools", "target": "agent"} in drawn["edges"]
    assert await sdk.assistants.get_subgraphs(CHAT_SYSTEM_ID) == {}
    nested = await sdk.assistants.get_subgraphs(SYSTEM_IDS["nested"], recurse=True)
    assert list(nested) == ["child"]
    assert nested["child"]["state_schema"]["title"] == "LangGraphState"
    one = await sdk.assistants.get_subgraphs(SYSTEM_IDS["nested"], namespace="child")
    assert list(one) == ["child"]


async def test_isolation_between_users(sdk, sdk_bob, http_bob: httpx.Client, alice, bob) -> None:
    mine = await sdk.assistants.create("chat", metadata={"secret": "alice"})
    aid = mine["assistant_id"]
    for call in (
        lambda: sdk_bob.assistants.get(aid),
        lambda: sdk_bob.assistants.update(aid, name="stolen"),
        lambda: sdk_bob.assistants.delete(aid),
        lambda: sdk_bob.assistants.get_versions(aid),
        lambda: sdk_bob.assistants.set_latest(aid, 1),
        lambda: sdk_bob.assistants.get_schemas(aid),
        lambda: sdk_bob.assistants.get_graph(aid),
        lambda: sdk_bob.assistants.get_subgraphs(aid),
    ):
        with pytest.raises(NotFoundError):
            await call()
    bobs = await sdk_bob.assistants.search(metadata={"secret": "alice"})
    assert bobs == []
    assert await sdk_bob.assistants.count(metadata={"secret": "alice"}) == 0
    assert all(
        a["metadata"].get("owner") in (None, bob.user_id) for a in await sdk_bob.assistants.search(limit=1000)
    )
    # Bob cannot claim alice's id either, even with do_nothing.
    claim = http_bob.post(
        "/assistants", json={"graph_id": "chat", "assistant_id": aid, "if_exists": "do_nothing"}
    )
    assert claim.status_code == 409
    # Patching metadata.owner never transfers ownership.
    await sdk.assistants.update(aid, metadata={"owner": bob.user_id})
    assert (await sdk.assistants.get(aid))["metadata"]["owner"] == alice.user_id
    with pytest.raises(NotFoundError):
        await sdk_bob.assistants.get(aid)
    assert (await sdk.assistants.get(aid))["assistant_id"] == aid


def test_system_assistants_are_read_only_for_users(http: httpx.Client) -> None:
    assert http.get(f"/assistants/{CHAT_SYSTEM_ID}").status_code == 200
    assert http.patch(f"/assistants/{CHAT_SYSTEM_ID}", json={"name": "x"}).status_code == 403
    assert http.delete(f"/assistants/{CHAT_SYSTEM_ID}").status_code == 403
    assert http.get(f"/assistants/{CHAT_SYSTEM_ID}").json()["version"] == 1


def test_service_identity_lists_system_assistants(service_http: httpx.Client) -> None:
    found = service_http.post(
        "/assistants/search", json={"limit": 100, "offset": 0, "metadata": {"created_by": "system"}}
    )
    assert found.status_code == 200
    assert {a["graph_id"] for a in found.json()} >= set(SYSTEM_IDS)


async def test_delete_threads_with_assistant(sdk) -> None:
    assistant = await sdk.assistants.create("chat")
    thread = await sdk.threads.create(metadata={"assistant_id": assistant["assistant_id"]})
    other = await sdk.threads.create(metadata={"assistant_id": "someone-else"})
    await sdk.assistants.delete(assistant["assistant_id"], delete_threads=True)
    with pytest.raises(NotFoundError):
        await sdk.threads.get(thread["thread_id"])
    assert (await sdk.threads.get(other["thread_id"]))["thread_id"] == other["thread_id"]
