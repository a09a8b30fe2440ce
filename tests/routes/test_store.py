"""Store API through the SDK and raw HTTP: shapes, owner isolation, graph round trips, TTL."""

from __future__ import annotations

import re
import time
import uuid

import httpx
import pytest
from langgraph_sdk.errors import PermissionDeniedError

ITEM_KEYS = ["namespace", "key", "value", "created_at", "updated_at"]
ISO_MICROS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")


def unique() -> str:
    return uuid.uuid4().hex


async def test_put_get_delete_round_trip(sdk, alice) -> None:
    namespace, key = [alice.user_id, "prefs", unique()], "theme"
    await sdk.store.put_item(namespace, key, {"theme": "dark", "n": 1})
    item = await sdk.store.get_item(namespace, key)
    assert list(item) == ITEM_KEYS
    assert (
        item["namespace"] == namespace and item["key"] == key and item["value"] == {"theme": "dark", "n": 1}
    )
    assert ISO_MICROS.match(item["created_at"]) and ISO_MICROS.match(item["updated_at"])
    await sdk.store.put_item(namespace, key, {"theme": "light"})
    assert (await sdk.store.get_item(namespace, key))["value"] == {"theme": "light"}
    await sdk.store.delete_item(namespace, key)
    await sdk.store.delete_item(namespace, key)  # deleting a missing item is fine
    assert await sdk.store.get_item(namespace, key) is None


def test_wire_details_and_validation(http: httpx.Client, alice) -> None:
    ns = f"{alice.user_id}.wire"
    put = http.put("/store/items", json={"namespace": [alice.user_id, "wire"], "key": "k", "value": {}})
    assert put.status_code == 204 and put.content == b""
    missing = http.get("/store/items", params={"namespace": ns, "key": "nope"})
    assert missing.status_code == 200 and missing.content == b"null"
    # The reference: 400 {"error": "Key is required"}; we keep the status and our error body.
    assert http.get("/store/items", params={"namespace": ns}).json() == {"detail": "Key is required"}
    assert http.get("/store/items", params={"namespace": ns}).status_code == 400
    no_ns = http.get("/store/items", params={"key": "k"})
    assert no_ns.status_code == 422
    assert no_ns.json() == {"detail": "Namespace label '' must be a non-empty string without periods"}
    dotted = http.put("/store/items", json={"namespace": ["a.b"], "key": "x", "value": {}})
    assert dotted.status_code == 422
    assert dotted.json() == {"detail": "Namespace label 'a.b' must be a non-empty string without periods"}
    not_object = http.put("/store/items", json={"namespace": [alice.user_id], "key": "x", "value": "s"})
    assert not_object.status_code == 422 and "object" in not_object.json()["detail"]
    bad_ttl = http.put(
        "/store/items", json={"namespace": [alice.user_id], "key": "x", "value": {}, "ttl": -1}
    )
    assert bad_ttl.status_code == 422
    assert http.delete("/store/items", params={"namespace": ns, "key": "k"}).status_code == 422  # body needed
    deleted = http.request("DELETE", "/store/items", json={"namespace": [alice.user_id, "wire"], "key": "k"})
    assert deleted.status_code == 204


def test_owner_isolation_on_every_endpoint(
    http: httpx.Client, http_bob: httpx.Client, service_http: httpx.Client, alice, bob
) -> None:
    tag = unique()
    secret = {"namespace": [bob.user_id, tag], "key": "secret", "value": {"tag": tag}}
    mine = {"namespace": [alice.user_id, tag], "key": "mine", "value": {"tag": tag}}
    assert http_bob.put("/store/items", json=secret).status_code == 204
    assert http.put("/store/items", json=mine).status_code == 204

    foreign = [
        http.put("/store/items", json={**secret, "value": {"stolen": True}}),
        http.get("/store/items", params={"namespace": f"{bob.user_id}.{tag}", "key": "secret"}),
        http.request("DELETE", "/store/items", json={"namespace": [bob.user_id, tag], "key": "secret"}),
        http.post("/store/items/search", json={"namespace_prefix": [bob.user_id]}),
        http.post("/store/namespaces", json={"prefix": [bob.user_id]}),
        http.put("/store/items", json={"namespace": ["shared", tag], "key": "k", "value": {}}),
        http.post("/store/items/search", json={"namespace_prefix": ["*"]}),
    ]
    for response in foreign:
        assert response.status_code == 403, response.request.url
        assert "must start with your user id" in response.json()["detail"]

    everything = http.post("/store/items/search", json={"filter": {"tag": tag}}).json()["items"]
    assert [i["key"] for i in everything] == ["mine"]
    assert all(ns[0] == alice.user_id for ns in http.post("/store/namespaces", json={}).json()["namespaces"])
    assert [alice.user_id, tag] in http.post("/store/namespaces", json={}).json()["namespaces"]

    # Bob's item is untouched, and the service identity sees (and may touch) both users' items.
    kept = http_bob.get("/store/items", params={"namespace": f"{bob.user_id}.{tag}", "key": "secret"})
    assert kept.json()["value"] == {"tag": tag}
    both = service_http.post("/store/items/search", json={"filter": {"tag": tag}, "limit": 100}).json()
    assert sorted(i["key"] for i in both["items"]) == ["mine", "secret"]
    spaces = service_http.post("/store/namespaces", json={"suffix": [tag]}).json()["namespaces"]
    assert sorted(spaces) == sorted([[alice.user_id, tag], [bob.user_id, tag]])
    shared = {"namespace": ["shared", tag], "key": "k", "value": {}}
    assert service_http.put("/store/items", json=shared).status_code == 204


async def test_sdk_surfaces_forbidden(sdk, bob) -> None:
    with pytest.raises(PermissionDeniedError):
        await sdk.store.put_item([bob.user_id, "x"], "k", {"a": 1})
    with pytest.raises(PermissionDeniedError):
        await sdk.store.get_item([bob.user_id, "x"], "k")
    with pytest.raises(PermissionDeniedError):
        await sdk.store.search_items([bob.user_id])


async def test_search_and_list_namespaces(sdk, alice) -> None:
    root = [alice.user_id, "docs", unique()]
    for sub, key, value in [
        ("a", "1", {"kind": "x", "n": 1}),
        ("a", "2", {"kind": "y"}),
        ("b", "3", {"kind": "x"}),
    ]:
        await sdk.store.put_item([*root, sub], key, value)
    found = (await sdk.store.search_items(root, filter={"kind": "x"}))["items"]
    assert sorted(i["key"] for i in found) == ["1", "3"]
    assert all(list(i) == [*ITEM_KEYS, "score"] and i["score"] is None for i in found)
    page = (await sdk.store.search_items(root, limit=1, offset=1))["items"]
    assert len(page) == 1
    assert (await sdk.store.search_items(root, query="anything", limit=10))["items"]  # no index: all match
    listed = (await sdk.store.list_namespaces(prefix=root))["namespaces"]
    assert listed == [[*root, "a"], [*root, "b"]]
    assert (await sdk.store.list_namespaces(prefix=root, suffix=["b"]))["namespaces"] == [[*root, "b"]]
    shallow = (await sdk.store.list_namespaces(prefix=[alice.user_id, "docs"], max_depth=3))["namespaces"]
    assert root in shallow and all(len(ns) <= 3 for ns in shallow)


async def test_http_write_is_read_by_a_graph(sdk, sdk_bob, alice) -> None:
    key = unique()
    await sdk.store.put_item([alice.user_id, "notes"], key, {"text": "from http"})
    assert (await sdk.runs.wait(None, "notes", input={"key": key}))["found"] == {"text": "from http"}
    # Bob's run works in his own namespace and does not see alice's note.
    assert (await sdk_bob.runs.wait(None, "notes", input={"key": key}))["found"] is None


async def test_graph_write_is_read_over_http(sdk, sdk_bob, alice) -> None:
    key = unique()
    thread = await sdk.threads.create()
    await sdk.runs.wait(thread["thread_id"], "notes", input={"key": key, "note": {"text": "from graph"}})
    item = await sdk.store.get_item([alice.user_id, "notes"], key)
    assert item["value"] == {"text": "from graph"}
    with pytest.raises(PermissionDeniedError):
        await sdk_bob.store.get_item([alice.user_id, "notes"], key)


async def test_graph_namespace_without_owner_label_is_service_only(sdk, service_http: httpx.Client) -> None:
    marker = unique()
    await sdk.runs.wait(None, "factory", input={}, config={"configurable": {"marker": marker}})
    with pytest.raises(PermissionDeniedError):
        await sdk.store.get_item(["factory", "calls"], marker)
    item = service_http.get("/store/items", params={"namespace": "factory.calls", "key": marker}).json()
    assert item["value"] == {"marker": marker}


def test_ttl_expires_items(http: httpx.Client, alice) -> None:
    namespace = [alice.user_id, "ttl", unique()]
    dotted = ".".join(namespace)
    # TTLs are minutes; 0.02 min = 1.2 s.
    body = {"namespace": namespace, "key": "short", "value": {"v": 1}, "ttl": 0.02}
    assert http.put("/store/items", json=body).status_code == 204
    assert http.put("/store/items", json={**body, "key": "long", "ttl": 10}).status_code == 204
    assert http.get(
        "/store/items", params={"namespace": dotted, "key": "short", "refresh_ttl": "false"}
    ).json()
    time.sleep(1.4)
    assert http.get("/store/items", params={"namespace": dotted, "key": "short"}).json() is None
    left = http.post("/store/items/search", json={"namespace_prefix": namespace}).json()["items"]
    assert [i["key"] for i in left] == ["long"]
