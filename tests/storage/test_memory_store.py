"""`TTLInMemoryStore`: LangGraph's in-memory store plus TTLs, on a fake monotonic clock."""

from __future__ import annotations

import asyncio

import pytest
from langgraph.store.base import BaseStore
from langgraph.store.memory import InMemoryStore

from robyn_server.storage.memory_store import TTLInMemoryStore

NS = ("u1", "notes")


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def clock() -> FakeMonotonic:
    return FakeMonotonic()


@pytest.fixture()
def store(clock: FakeMonotonic) -> TTLInMemoryStore:
    return TTLInMemoryStore(ttl={"refresh_on_read": True}, clock=clock)


def test_is_langgraphs_store_with_ttl_support(store: TTLInMemoryStore) -> None:
    assert isinstance(store, InMemoryStore) and isinstance(store, BaseStore)
    assert store.supports_ttl
    store.put(NS, "sync", {"a": 1}, ttl=1)  # the sync API graphs may use works too
    item = store.get(NS, "sync")
    assert item is not None and item.value == {"a": 1}


async def test_item_expires_after_its_ttl(store: TTLInMemoryStore, clock: FakeMonotonic) -> None:
    await store.aput(NS, "k", {"v": 1}, ttl=1)
    await store.aput(NS, "forever", {"v": 2})
    clock.now += 59
    assert (await store.aget(NS, "k", refresh_ttl=False)) is not None
    clock.now += 2
    assert await store.aget(NS, "k") is None
    assert [i.key for i in await store.asearch(NS)] == ["forever"]
    assert store.stats() == {"namespaces": 1, "items": 1, "items_with_ttl": 0}


async def test_reads_refresh_the_ttl_unless_told_not_to(
    store: TTLInMemoryStore, clock: FakeMonotonic
) -> None:
    await store.aput(NS, "got", {"v": 1}, ttl=1)
    await store.aput(NS, "found", {"v": 2}, ttl=1)
    await store.aput(NS, "untouched", {"v": 3}, ttl=1)
    clock.now += 50
    await store.aget(NS, "got")  # default: refresh_on_read
    await store.asearch(NS, filter={"v": 2})
    await store.aget(NS, "untouched", refresh_ttl=False)
    clock.now += 20
    assert {i.key for i in await store.asearch(NS, refresh_ttl=False)} == {"got", "found"}
    clock.now += 41
    assert await store.asearch(NS) == []


async def test_put_without_ttl_and_delete_clear_the_deadline(
    store: TTLInMemoryStore, clock: FakeMonotonic
) -> None:
    await store.aput(NS, "k", {"v": 1}, ttl=1)
    await store.aput(NS, "k", {"v": 2})
    clock.now += 120
    item = await store.aget(NS, "k")
    assert item is not None and item.value == {"v": 2}
    await store.aput(NS, "gone", {"v": 1}, ttl=1)
    await store.adelete(NS, "gone")
    await store.aput(NS, "gone", {"v": 3})
    clock.now += 120
    assert await store.aget(NS, "gone") is not None


async def test_empty_namespaces_are_never_listed(store: TTLInMemoryStore, clock: FakeMonotonic) -> None:
    assert await store.aget(("u1", "never"), "missing") is None
    await store.aput(("u1", "deleted"), "k", {})
    await store.adelete(("u1", "deleted"), "k")
    await store.aput(("u1", "expired"), "k", {}, ttl=0.5)
    await store.aput(("u1", "kept"), "k", {})
    clock.now += 31
    assert await store.alist_namespaces(prefix=("u1",)) == [("u1", "kept")]


async def test_sweep_frees_expired_items_without_reads(store: TTLInMemoryStore, clock: FakeMonotonic) -> None:
    for key in "abc":
        await store.aput(NS, key, {}, ttl=1)
    await store.aget(NS, "a")  # a refresh leaves a stale heap entry behind; the sweep skips it
    clock.now += 61
    assert store.sweep() == 3
    assert store.stats() == {"namespaces": 0, "items": 0, "items_with_ttl": 0}


async def test_background_sweeper_runs_and_stops(clock: FakeMonotonic) -> None:
    store = TTLInMemoryStore(ttl={"sweep_interval_minutes": 0.0005}, clock=clock)  # every 30 ms
    await store.aput(NS, "k", {}, ttl=1)
    clock.now += 61
    await store.start_ttl_sweeper()
    await store.start_ttl_sweeper()  # idempotent
    for _ in range(100):
        if store.stats()["items"] == 0:
            break
        await asyncio.sleep(0.01)
    assert store.stats()["items"] == 0
    await store.stop_ttl_sweeper()
    await store.stop_ttl_sweeper()
