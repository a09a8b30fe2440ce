"""The storage conformance suite: what every `Storage` backend must do.

A backend is tested by subclassing `StorageConformance` in `tests/storage/test_<backend>.py`
and implementing `make_storage`; pytest then collects every test below for it. The suite
pins the contract of `robyn_server/storage/base.py`: ownership (another user's record is
simply not found), error texts, search semantics (JSON containment, ordering, paging) and
copy-in/copy-out.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.store.base import BaseStore

from robyn_server.errors import Conflict, Forbidden, InvalidInput, NotFound
from robyn_server.storage.base import (
    Assistant,
    AssistantFilter,
    AssistantPatch,
    Cron,
    CronFilter,
    Page,
    Run,
    RunStatus,
    SortOrder,
    Storage,
    Thread,
    ThreadFilter,
    ThreadPatch,
    ThreadStatus,
)

# Far in the past, so that "now" stamped by the backend is always later.
T0 = datetime(2024, 1, 1, tzinfo=UTC)
ALL = Page(limit=None)


def at(seconds: float) -> datetime:
    """T0 plus `seconds`."""
    return T0 + timedelta(seconds=seconds)


def new_id() -> str:
    """A fresh UUID string."""
    return str(uuid.uuid4())


def assistant_record(
    *,
    owner: str | None,
    assistant_id: str | None = None,
    graph_id: str = "chat",
    name: str = "agent",
    metadata: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
    description: str | None = None,
    created_at: datetime = T0,
    updated_at: datetime | None = None,
) -> Assistant:
    """A full assistant record as routes would build it."""
    return Assistant(
        assistant_id=assistant_id or new_id(),
        graph_id=graph_id,
        config=config if config is not None else {"configurable": {"k": 1}},
        context={"k": 1},
        metadata=metadata if metadata is not None else {},
        name=name,
        created_at=created_at,
        updated_at=updated_at or created_at,
        version=1,
        description=description,
        owner=owner,
    )


def system_assistant(graph_id: str = "chat") -> Assistant:
    """A system assistant: ownerless, `created_by: system`, named after its graph."""
    return assistant_record(owner=None, graph_id=graph_id, name=graph_id, metadata={"created_by": "system"})


def thread_record(
    *,
    owner: str | None,
    thread_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    status: ThreadStatus = "idle",
    created_at: datetime = T0,
    updated_at: datetime | None = None,
    state_updated_at: datetime | None = None,
) -> Thread:
    """A full thread record."""
    return Thread(
        thread_id=thread_id or new_id(),
        created_at=created_at,
        updated_at=updated_at or created_at,
        state_updated_at=state_updated_at or created_at,
        metadata=metadata if metadata is not None else {},
        config={},
        status=status,
        error=None,
        ttl=None,
        has_run=False,
        owner=owner,
    )


def run_record(
    thread_id: str, *, owner: str | None, status: RunStatus = "pending", created_at: datetime = T0
) -> Run:
    """A full run record."""
    return Run(
        run_id=new_id(),
        thread_id=thread_id,
        assistant_id=new_id(),
        metadata={"m": 1},
        status=status,
        kwargs={"input": {"messages": [{"role": "user", "content": "hi"}]}},
        multitask_strategy="enqueue",
        created_at=created_at,
        updated_at=created_at,
        owner=owner,
    )


def cron_record(
    *,
    owner: str | None,
    assistant_id: str | None = None,
    thread_id: str | None = None,
    next_run_date: datetime | None = None,
    end_time: datetime | None = None,
    enabled: bool = True,
    metadata: dict[str, Any] | None = None,
    created_at: datetime = T0,
) -> Cron:
    """A full cron record."""
    return Cron(
        cron_id=new_id(),
        assistant_id=assistant_id or new_id(),
        thread_id=thread_id,
        user_id=owner,
        end_time=end_time,
        schedule="*/5 * * * *",
        timezone=None,
        payload={"input": {"x": 1}},
        next_run_date=next_run_date,
        metadata=metadata if metadata is not None else {},
        on_run_completed=None,
        enabled=enabled,
        created_at=created_at,
        updated_at=created_at,
        owner=owner,
    )


def expected_order(
    records: Sequence[Mapping[str, Any]], field: str, id_field: str, order: SortOrder
) -> list[str]:
    """Ids in the contract's order: by field (missing values last ascending), then by id."""
    ordered = sorted(
        records, key=lambda r: (r[field] is None, r[field], r[id_field]), reverse=order == "desc"
    )
    return [r[id_field] for r in ordered]


class StorageConformance(ABC):
    """The spec. Subclass it and implement `make_storage` to test a backend."""

    @abstractmethod
    async def make_storage(self) -> Storage:
        """Return a new, empty storage (not set up yet)."""

    @pytest.fixture
    async def storage(self) -> AsyncIterator[Storage]:
        """A set-up, empty storage, closed after the test."""
        storage = await self.make_storage()
        await storage.setup()
        try:
            yield storage
        finally:
            await storage.aclose()

    # ---------------------------------------------------------------- storage

    async def test_storage_surface(self, storage: Storage) -> None:
        assert isinstance(storage.checkpointer, BaseCheckpointSaver)
        assert isinstance(storage.store, BaseStore)
        assert isinstance(storage.multi_process_safe, bool)
        assert await storage.stats() == {"assistants": 0, "threads": 0, "runs": 0, "crons": 0}

    async def test_stats_counts_records(self, storage: Storage) -> None:
        await storage.assistants.create(assistant_record(owner="u1"), owner="u1")
        a = await storage.assistants.create(assistant_record(owner="u1"), owner="u1")
        await storage.assistants.patch(a["assistant_id"], AssistantPatch(name="x"), owner="u1")
        t = await storage.threads.create(thread_record(owner="u1"), owner="u1")
        for _ in range(3):
            await storage.runs.create(run_record(t["thread_id"], owner="u1"), owner="u1")
        await storage.crons.create(cron_record(owner="u1"), owner="u1")
        assert await storage.stats() == {"assistants": 2, "threads": 1, "runs": 3, "crons": 1}

    # ------------------------------------------------------------- assistants

    async def test_assistant_create_and_get(self, storage: Storage) -> None:
        record = assistant_record(owner="u1", metadata={"team": "a"}, description="d")
        created = await storage.assistants.create(record, owner="u1")
        assert created["version"] == 1
        assert created["owner"] == "u1"
        assert created["metadata"] == {"team": "a", "owner": "u1"}
        assert created["description"] == "d"
        assert await storage.assistants.get(record["assistant_id"], owner="u1") == created
        with pytest.raises(NotFound) as missing:
            await storage.assistants.get(new_id(), owner="u1")
        assert missing.value.detail == "Not Found"

    async def test_assistant_user_always_creates_their_own(self, storage: Storage) -> None:
        created = await storage.assistants.create(assistant_record(owner="u2"), owner="u1")
        assert created["owner"] == "u1"
        assert created["metadata"]["owner"] == "u1"
        with pytest.raises(NotFound):
            await storage.assistants.get(created["assistant_id"], owner="u2")

    async def test_assistant_duplicate_conflicts(self, storage: Storage) -> None:
        record = assistant_record(owner="u1")
        await storage.assistants.create(record, owner="u1")
        with pytest.raises(Conflict) as dup:
            await storage.assistants.create(record, owner="u1")
        assert dup.value.detail == f"Assistant {record['assistant_id']} already exists"

    async def test_assistant_if_exists_do_nothing_returns_existing(self, storage: Storage) -> None:
        record = assistant_record(owner="u1", name="first")
        created = await storage.assistants.create(record, owner="u1")
        again = assistant_record(owner="u1", assistant_id=record["assistant_id"], name="second")
        assert await storage.assistants.create(again, owner="u1", if_exists="do_nothing") == created
        assert (await storage.assistants.get(record["assistant_id"], owner="u1"))["name"] == "first"

    async def test_assistant_if_exists_never_returns_a_foreign_record(self, storage: Storage) -> None:
        record = assistant_record(owner="u1")
        await storage.assistants.create(record, owner="u1")
        for if_exists in ("raise", "do_nothing"):
            with pytest.raises(Conflict):
                await storage.assistants.create(record, owner="u2", if_exists=if_exists)
        system = await storage.assistants.create(system_assistant(), owner=None)
        clash = assistant_record(owner="u2", assistant_id=system["assistant_id"])
        assert await storage.assistants.create(clash, owner="u2", if_exists="do_nothing") == system

    async def test_assistant_isolation_between_users(self, storage: Storage) -> None:
        mine = await storage.assistants.create(assistant_record(owner="u1"), owner="u1")
        aid = mine["assistant_id"]
        for call in (
            storage.assistants.get(aid, owner="u2"),
            storage.assistants.patch(aid, AssistantPatch(name="x"), owner="u2"),
            storage.assistants.versions(aid, metadata=None, limit=10, offset=0, owner="u2"),
            storage.assistants.set_latest(aid, 1, owner="u2"),
        ):
            with pytest.raises(NotFound):
                await call
        with pytest.raises(NotFound) as deleting:
            await storage.assistants.delete(aid, owner="u2")
        assert deleting.value.detail == f"Assistant with ID {aid} not found"
        assert (await storage.assistants.search(AssistantFilter(), ALL, owner="u2")).total == 0
        assert await storage.assistants.count(AssistantFilter(), owner="u2") == 0
        assert await storage.assistants.count(AssistantFilter(), owner="u1") == 1
        assert (await storage.assistants.get(aid, owner="u1"))["name"] == "agent"

    async def test_system_assistants_are_shared_and_read_only(self, storage: Storage) -> None:
        system = await storage.assistants.create(system_assistant(), owner=None)
        sid = system["assistant_id"]
        assert system["owner"] is None
        assert system["metadata"] == {"created_by": "system"}
        for user in ("u1", "u2"):
            assert await storage.assistants.get(sid, owner=user) == system
            found = await storage.assistants.search(AssistantFilter(), ALL, owner=user)
            assert [a["assistant_id"] for a in found.items] == [sid]
            assert await storage.assistants.count(AssistantFilter(), owner=user) == 1
            versions = await storage.assistants.versions(sid, metadata=None, limit=10, offset=0, owner=user)
            assert [v["version"] for v in versions] == [1]
            for call in (
                storage.assistants.patch(sid, AssistantPatch(name="mine"), owner=user),
                storage.assistants.delete(sid, owner=user),
                storage.assistants.set_latest(sid, 1, owner=user),
            ):
                with pytest.raises(Forbidden) as forbidden:
                    await call
                assert forbidden.value.detail == "System assistants cannot be modified"
        assert await storage.assistants.get(sid, owner=None) == system
        patched = await storage.assistants.patch(sid, AssistantPatch(description="by service"), owner=None)
        assert patched["version"] == 2
        assert patched["metadata"] == {"created_by": "system"}
        assert (await storage.assistants.get(sid, owner="u1"))["description"] == "by service"
        await storage.assistants.delete(sid, owner=None)
        with pytest.raises(NotFound):
            await storage.assistants.get(sid, owner="u1")

    async def test_user_claiming_created_by_system_does_not_publish(self, storage: Storage) -> None:
        record = assistant_record(owner="u1", metadata={"created_by": "system"})
        await storage.assistants.create(record, owner="u1")
        with pytest.raises(NotFound):
            await storage.assistants.get(record["assistant_id"], owner="u2")
        patched = await storage.assistants.patch(record["assistant_id"], AssistantPatch(name="n"), owner="u1")
        assert patched["owner"] == "u1"

    async def test_service_sees_every_assistant(self, storage: Storage) -> None:
        ids = set()
        for owner in ("u1", "u2", None):
            created = await storage.assistants.create(assistant_record(owner=owner), owner=owner)
            ids.add(created["assistant_id"])
        ids.add((await storage.assistants.create(system_assistant(), owner=None))["assistant_id"])
        found = await storage.assistants.search(AssistantFilter(), ALL, owner=None)
        assert {a["assistant_id"] for a in found.items} == ids
        assert await storage.assistants.count(AssistantFilter(), owner=None) == 4
        # A user sees their own plus the system one, not the service's private one.
        assert await storage.assistants.count(AssistantFilter(), owner="u1") == 2

    async def test_assistant_patch_makes_a_new_latest_version(self, storage: Storage) -> None:
        record = assistant_record(owner="u1", metadata={"team": "a", "keep": True}, description="d")
        created = await storage.assistants.create(record, owner="u1")
        aid = record["assistant_id"]
        patched = await storage.assistants.patch(
            aid,
            AssistantPatch(metadata={"team": "b", "new": 1}, name="renamed", config={"configurable": {}}),
            owner="u1",
        )
        assert patched["version"] == 2
        assert patched["name"] == "renamed"
        assert patched["graph_id"] == "chat"
        assert patched["description"] == "d"
        assert patched["config"] == {"configurable": {}}
        assert patched["context"] == {"k": 1}
        assert patched["metadata"] == {"team": "b", "keep": True, "new": 1, "owner": "u1"}
        assert patched["created_at"] == created["created_at"]
        assert patched["updated_at"] > created["updated_at"]
        assert await storage.assistants.get(aid, owner="u1") == patched
        versions = await storage.assistants.versions(aid, metadata=None, limit=10, offset=0, owner="u1")
        assert [v["version"] for v in versions] == [2, 1]
        assert versions[0]["name"] == "renamed"
        assert versions[0]["created_at"] == patched["updated_at"]
        assert versions[1]["name"] == "agent"
        assert versions[1]["metadata"] == {"team": "a", "keep": True, "owner": "u1"}
        assert versions[1]["created_at"] == created["created_at"]
        assert set(versions[0]) == {
            "assistant_id",
            "version",
            "graph_id",
            "config",
            "context",
            "metadata",
            "created_at",
            "name",
            "description",
        }

    async def test_assistant_patch_cannot_transfer_ownership(self, storage: Storage) -> None:
        created = await storage.assistants.create(assistant_record(owner="u1"), owner="u1")
        aid = created["assistant_id"]
        patched = await storage.assistants.patch(aid, AssistantPatch(metadata={"owner": "u2"}), owner="u1")
        assert patched["owner"] == "u1"
        assert patched["metadata"]["owner"] == "u1"
        with pytest.raises(NotFound):
            await storage.assistants.get(aid, owner="u2")

    async def test_assistant_set_latest(self, storage: Storage) -> None:
        created = await storage.assistants.create(assistant_record(owner="u1", name="v1"), owner="u1")
        aid = created["assistant_id"]
        await storage.assistants.patch(aid, AssistantPatch(name="v2", metadata={"x": 2}), owner="u1")
        v3 = await storage.assistants.patch(aid, AssistantPatch(name="v3"), owner="u1")
        latest = await storage.assistants.set_latest(aid, 1, owner="u1")
        assert latest["version"] == 1
        assert latest["name"] == "v1"
        assert latest["metadata"] == {"owner": "u1"}
        assert latest["created_at"] == created["created_at"]
        assert latest["updated_at"] > v3["updated_at"]
        assert await storage.assistants.get(aid, owner="u1") == latest
        # The next patch starts from the now-latest version 1 and numbers after the highest.
        v4 = await storage.assistants.patch(aid, AssistantPatch(description="four"), owner="u1")
        assert (v4["version"], v4["name"], v4["metadata"]) == (4, "v1", {"owner": "u1"})
        with pytest.raises(NotFound):
            await storage.assistants.set_latest(aid, 99, owner="u1")
        with pytest.raises(NotFound):
            await storage.assistants.set_latest(new_id(), 1, owner="u1")

    async def test_assistant_versions_filter_and_window(self, storage: Storage) -> None:
        created = await storage.assistants.create(assistant_record(owner="u1"), owner="u1")
        aid = created["assistant_id"]
        for n in range(2, 6):
            await storage.assistants.patch(aid, AssistantPatch(metadata={"even": n % 2 == 0}), owner="u1")

        async def versions(**kwargs: Any) -> list[int]:
            args: dict[str, Any] = {"metadata": None, "limit": 10, "offset": 0, **kwargs}
            found = await storage.assistants.versions(aid, owner="u1", **args)
            return [v["version"] for v in found]

        assert await versions() == [5, 4, 3, 2, 1]
        assert await versions(limit=2, offset=1) == [4, 3]
        assert await versions(metadata={"even": True}) == [4, 2]
        assert await versions(metadata={"even": False}) == [5, 3]
        with pytest.raises(NotFound):
            await storage.assistants.versions(new_id(), metadata=None, limit=10, offset=0, owner="u1")

    async def test_assistant_delete(self, storage: Storage) -> None:
        created = await storage.assistants.create(assistant_record(owner="u1"), owner="u1")
        aid = created["assistant_id"]
        await storage.assistants.patch(aid, AssistantPatch(name="v2"), owner="u1")
        await storage.assistants.delete(aid, owner="u1")
        with pytest.raises(NotFound):
            await storage.assistants.get(aid, owner="u1")
        with pytest.raises(NotFound):
            await storage.assistants.versions(aid, metadata=None, limit=10, offset=0, owner="u1")
        with pytest.raises(NotFound) as again:
            await storage.assistants.delete(aid, owner="u1")
        assert again.value.detail == f"Assistant with ID {aid} not found"
        assert await storage.assistants.count(AssistantFilter(), owner=None) == 0
        # The id is free again, starting over at version 1.
        recreated = await storage.assistants.create(
            assistant_record(owner="u1", assistant_id=aid), owner="u1"
        )
        assert recreated["version"] == 1

    async def test_assistant_search_filters(self, storage: Storage) -> None:
        specs: list[tuple[str, str, dict[str, Any]]] = [
            ("chat", "My-Chat Bot", {"team": "a", "tags": ["x", "y"]}),
            ("chat", "other", {"team": "b"}),
            ("hitl", "chatty", {"team": "a", "tags": ["y"]}),
        ]
        ids = []
        for i, (graph_id, name, metadata) in enumerate(specs):
            record = assistant_record(
                owner="u1", graph_id=graph_id, name=name, metadata=metadata, created_at=at(i)
            )
            ids.append((await storage.assistants.create(record, owner="u1"))["assistant_id"])

        async def search(**filters: Any) -> list[str]:
            result = await storage.assistants.search(
                AssistantFilter(**filters), Page(limit=None, sort_order="asc"), owner="u1"
            )
            assert await storage.assistants.count(AssistantFilter(**filters), owner="u1") == result.total
            return [a["assistant_id"] for a in result.items]

        assert await search(graph_id="chat") == ids[:2]
        assert await search(graph_id="cha") == []
        assert await search(name="CHAT") == [ids[0], ids[2]]
        assert await search(name="bot") == [ids[0]]
        assert await search(metadata={"team": "a"}) == [ids[0], ids[2]]
        assert await search(metadata={"tags": ["y"]}) == [ids[0], ids[2]]
        assert await search(metadata={"tags": ["x"]}, name="chat") == [ids[0]]
        assert await search(metadata={"owner": "u1"}) == ids
        assert await search(graph_id="hitl", metadata={"team": "b"}) == []

    @pytest.mark.parametrize("sort_by", ["assistant_id", "graph_id", "name", "created_at", "updated_at"])
    @pytest.mark.parametrize("sort_order", ["asc", "desc"])
    async def test_assistant_sort(self, storage: Storage, sort_by: str, sort_order: SortOrder) -> None:
        records = [
            assistant_record(owner="u1", graph_id=g, name=n, created_at=at(c), updated_at=at(u))
            for g, n, c, u in [
                ("b", "delta", 3, 10),
                ("a", "alpha", 1, 30),
                ("d", "charlie", 2, 20),
                ("c", "bravo", 4, 5),
            ]
        ]
        for record in records:
            await storage.assistants.create(record, owner="u1")
        page = Page(limit=None, sort_by=sort_by, sort_order=sort_order)
        found = await storage.assistants.search(AssistantFilter(), page, owner="u1")
        want = expected_order(records, sort_by, "assistant_id", sort_order)
        assert [a["assistant_id"] for a in found.items] == want

    async def test_assistant_search_defaults_and_window(self, storage: Storage) -> None:
        ids = []
        for i in range(12):
            record = assistant_record(owner="u1", created_at=at(i))
            ids.append((await storage.assistants.create(record, owner="u1"))["assistant_id"])
        newest_first = ids[::-1]
        default = await storage.assistants.search(AssistantFilter(), Page(), owner="u1")
        assert [a["assistant_id"] for a in default.items] == newest_first[:10]
        assert default.total == 12
        window = await storage.assistants.search(AssistantFilter(), Page(limit=3, offset=4), owner="u1")
        assert [a["assistant_id"] for a in window.items] == newest_first[4:7]
        assert window.total == 12
        tail = await storage.assistants.search(AssistantFilter(), Page(limit=5, offset=10), owner="u1")
        assert [a["assistant_id"] for a in tail.items] == newest_first[10:]
        beyond = await storage.assistants.search(AssistantFilter(), Page(limit=5, offset=20), owner="u1")
        assert (beyond.items, beyond.total) == ([], 12)
        every = await storage.assistants.search(AssistantFilter(), Page(limit=None), owner="u1")
        assert len(every.items) == 12

    async def test_ties_are_broken_by_id(self, storage: Storage) -> None:
        records = [assistant_record(owner="u1", created_at=T0) for _ in range(5)]
        for record in records:
            await storage.assistants.create(record, owner="u1")
        by_id = sorted(r["assistant_id"] for r in records)
        orders: list[tuple[SortOrder, list[str]]] = [("asc", by_id), ("desc", by_id[::-1])]
        for order, want in orders:
            page = Page(limit=None, sort_by="created_at", sort_order=order)
            found = await storage.assistants.search(AssistantFilter(), page, owner="u1")
            assert [a["assistant_id"] for a in found.items] == want

    async def test_unknown_sort_by_is_invalid_input(self, storage: Storage) -> None:
        page = Page(sort_by="metadata")
        with pytest.raises(InvalidInput):
            await storage.assistants.search(AssistantFilter(), page, owner="u1")
        with pytest.raises(InvalidInput):
            await storage.threads.search(ThreadFilter(), Page(sort_by="name"), owner="u1")
        with pytest.raises(InvalidInput):
            await storage.crons.search(CronFilter(), Page(sort_by="schedule"), owner="u1")

    # ------------------------------------------------------ metadata filters

    async def test_metadata_filter_is_json_containment(self, storage: Storage) -> None:
        metadata = {
            "nested": {"a": {"b": 1, "c": [1, 2]}, "d": "x"},
            "tags": ["red", {"k": "v", "w": 2}],
            "flag": True,
            "n": 1,
            "f": 2.5,
            "none": None,
        }
        created = await storage.threads.create(thread_record(owner="u1", metadata=metadata), owner="u1")
        await storage.threads.create(thread_record(owner="u1", metadata={"n": 2}), owner="u1")
        tid = created["thread_id"]
        matching: list[dict[str, Any]] = [
            {},
            {"nested": {}},
            {"nested": {"a": {"b": 1}}},
            {"nested": {"a": {"c": [2]}}},
            {"nested": {"a": {"c": [2, 1, 1]}}},
            {"tags": ["red"]},
            {"tags": [{"k": "v"}]},
            {"tags": []},
            {"flag": True},
            {"n": 1},
            {"n": 1.0},
            {"f": 2.5},
            {"none": None},
            {"nested": {"d": "x"}, "flag": True},
        ]
        not_matching: list[dict[str, Any]] = [
            {"nested": {"a": {"b": 2}}},
            {"nested": {"a": {"c": [3]}}},
            {"nested": {"a": {"c": 1}}},
            {"nested": "x"},
            {"tags": ["blue"]},
            {"tags": [{"k": "other"}]},
            {"tags": "red"},
            {"flag": 1},
            {"n": True},
            {"flag": "true"},
            {"n": "1"},
            {"none": False},
            {"missing": None},
            {"flag": True, "n": 2},
        ]
        for wanted in matching:
            found = await storage.threads.search(ThreadFilter(metadata=wanted), ALL, owner="u1")
            assert tid in [t["thread_id"] for t in found.items], wanted
        for wanted in not_matching:
            found = await storage.threads.search(ThreadFilter(metadata=wanted), ALL, owner="u1")
            assert tid not in [t["thread_id"] for t in found.items], wanted
        assert await storage.threads.count(ThreadFilter(metadata={"n": 2}), owner="u1") == 1
        assert await storage.threads.count(ThreadFilter(metadata={}), owner="u1") == 2

    # ---------------------------------------------------------------- threads

    async def test_thread_create_and_get(self, storage: Storage) -> None:
        record = thread_record(owner="u1", metadata={"user": "x"})
        created = await storage.threads.create(record, owner="u1")
        assert created["metadata"] == {"user": "x", "owner": "u1"}
        assert created["owner"] == "u1"
        assert created["status"] == "idle"
        assert await storage.threads.get(record["thread_id"], owner="u1") == created
        unknown = new_id()
        with pytest.raises(NotFound) as missing:
            await storage.threads.get(unknown, owner="u1")
        assert missing.value.detail == f"Thread with ID {unknown} not found"

    async def test_thread_duplicate_and_if_exists(self, storage: Storage) -> None:
        record = thread_record(owner="u1", metadata={"v": 1})
        created = await storage.threads.create(record, owner="u1")
        tid = record["thread_id"]
        with pytest.raises(Conflict) as dup:
            await storage.threads.create(record, owner="u1")
        assert dup.value.detail == f"Thread with ID {tid} already exists"
        again = thread_record(owner="u1", thread_id=tid, metadata={"v": 2})
        assert await storage.threads.create(again, owner="u1", if_exists="do_nothing") == created
        for if_exists in ("raise", "do_nothing"):
            with pytest.raises(Conflict):
                await storage.threads.create(again, owner="u2", if_exists=if_exists)
        assert await storage.threads.create(again, owner=None, if_exists="do_nothing") == created

    async def test_thread_isolation_between_users(self, storage: Storage) -> None:
        created = await storage.threads.create(thread_record(owner="u1"), owner="u1")
        tid = created["thread_id"]
        for call in (
            storage.threads.get(tid, owner="u2"),
            storage.threads.update(tid, ThreadPatch(metadata={"x": 1}), owner="u2"),
            storage.threads.delete(tid, owner="u2"),
        ):
            with pytest.raises(NotFound) as missing:
                await call
            assert missing.value.detail == f"Thread with ID {tid} not found"
        assert (await storage.threads.search(ThreadFilter(), ALL, owner="u2")).total == 0
        assert (await storage.threads.search(ThreadFilter(ids=[tid]), ALL, owner="u2")).total == 0
        assert await storage.threads.count(ThreadFilter(), owner="u2") == 0
        assert await storage.threads.count(ThreadFilter(), owner="u1") == 1
        assert await storage.threads.count(ThreadFilter(), owner=None) == 1
        assert await storage.threads.get(tid, owner=None) == created

    async def test_thread_update(self, storage: Storage) -> None:
        record = thread_record(owner="u1", metadata={"a": 1, "b": 1})
        created = await storage.threads.create(record, owner="u1")
        tid = record["thread_id"]
        updated = await storage.threads.update(
            tid,
            ThreadPatch(metadata={"b": 2, "c": 3}, config={"configurable": {}}, ttl={"ttl": 5}),
            owner="u1",
        )
        assert updated["metadata"] == {"a": 1, "b": 2, "c": 3, "owner": "u1"}
        assert updated["config"] == {"configurable": {}}
        assert updated["ttl"] == {"ttl": 5}
        assert updated["updated_at"] > created["updated_at"]
        assert updated["state_updated_at"] == created["state_updated_at"]
        assert updated["created_at"] == created["created_at"]
        assert (updated["status"], updated["error"], updated["has_run"]) == ("idle", None, False)
        assert await storage.threads.get(tid, owner="u1") == updated

        failed = await storage.threads.update(
            tid,
            ThreadPatch(status="error", error={"error": "RuntimeError", "message": "boom"}, has_run=True),
            owner=None,
        )
        assert failed["status"] == "error"
        assert failed["error"] == {"error": "RuntimeError", "message": "boom"}
        assert failed["has_run"] is True
        assert failed["config"] == {"configurable": {}}
        touched = await storage.threads.update(
            tid, ThreadPatch(status="idle", clear_error=True, touch_state=True), owner=None
        )
        assert (touched["status"], touched["error"], touched["has_run"]) == ("idle", None, True)
        assert touched["state_updated_at"] == touched["updated_at"]
        assert touched["state_updated_at"] > created["state_updated_at"]
        plain = await storage.threads.update(tid, ThreadPatch(), owner="u1")
        assert plain["updated_at"] > touched["updated_at"]
        assert plain["metadata"] == updated["metadata"]

    async def test_thread_update_cannot_transfer_ownership(self, storage: Storage) -> None:
        created = await storage.threads.create(thread_record(owner="u1"), owner="u1")
        tid = created["thread_id"]
        updated = await storage.threads.update(tid, ThreadPatch(metadata={"owner": "u2"}), owner="u1")
        assert updated["owner"] == "u1"
        assert updated["metadata"]["owner"] == "u1"
        with pytest.raises(NotFound):
            await storage.threads.get(tid, owner="u2")
        assert await storage.threads.count(ThreadFilter(metadata={"owner": "u2"}), owner=None) == 0

    async def test_thread_search_by_ids_status_metadata(self, storage: Storage) -> None:
        statuses: list[ThreadStatus] = ["idle", "busy", "idle", "error"]
        ids = []
        for i, status in enumerate(statuses):
            record = thread_record(
                owner="u1", status=status, metadata={"i": i, "even": i % 2 == 0}, created_at=at(i)
            )
            ids.append((await storage.threads.create(record, owner="u1"))["thread_id"])
        foreign = await storage.threads.create(thread_record(owner="u2", status="idle"), owner="u2")

        async def search(**filters: Any) -> list[str]:
            page = Page(limit=None, sort_order="asc")
            result = await storage.threads.search(ThreadFilter(**filters), page, owner="u1")
            assert await storage.threads.count(ThreadFilter(**filters), owner="u1") == result.total
            return [t["thread_id"] for t in result.items]

        assert await search() == ids
        assert await search(ids=[ids[2], ids[0], new_id(), foreign["thread_id"]]) == [ids[0], ids[2]]
        assert await search(ids=[ids[1], ids[1]]) == [ids[1]]
        assert await search(ids=[]) == []
        assert await search(status="idle") == [ids[0], ids[2]]
        assert await search(status="interrupted") == []
        assert await search(status="idle", metadata={"i": 2}) == [ids[2]]
        assert await search(ids=ids[:2], status="busy") == [ids[1]]
        assert await search(metadata={"even": False}) == [ids[1], ids[3]]

        # The status filter follows updates.
        await storage.threads.update(ids[0], ThreadPatch(status="busy"), owner=None)
        assert await search(status="idle") == [ids[2]]
        assert await search(status="busy") == [ids[0], ids[1]]
        assert await storage.threads.count(ThreadFilter(status="idle"), owner=None) == 2

    @pytest.mark.parametrize(
        "sort_by", ["thread_id", "status", "created_at", "updated_at", "state_updated_at"]
    )
    @pytest.mark.parametrize("sort_order", ["asc", "desc"])
    async def test_thread_sort(self, storage: Storage, sort_by: str, sort_order: SortOrder) -> None:
        specs: list[tuple[ThreadStatus, int, int, int]] = [
            ("idle", 3, 9, 1),
            ("busy", 1, 7, 4),
            ("interrupted", 2, 8, 3),
            ("error", 4, 6, 2),
        ]
        records = [
            thread_record(owner="u1", status=s, created_at=at(c), updated_at=at(u), state_updated_at=at(su))
            for s, c, u, su in specs
        ]
        for record in records:
            await storage.threads.create(record, owner="u1")
        page = Page(limit=None, sort_by=sort_by, sort_order=sort_order)
        found = await storage.threads.search(ThreadFilter(), page, owner="u1")
        want = expected_order(records, sort_by, "thread_id", sort_order)
        assert [t["thread_id"] for t in found.items] == want

    async def test_thread_search_window(self, storage: Storage) -> None:
        ids = []
        for i in range(5):
            record = thread_record(owner="u1", created_at=at(i))
            ids.append((await storage.threads.create(record, owner="u1"))["thread_id"])
        page = await storage.threads.search(ThreadFilter(), Page(limit=2, offset=1), owner="u1")
        assert [t["thread_id"] for t in page.items] == [ids[3], ids[2]]
        assert page.total == 5
        asc = await storage.threads.search(
            ThreadFilter(), Page(limit=2, offset=3, sort_order="asc"), owner="u1"
        )
        assert [t["thread_id"] for t in asc.items] == [ids[3], ids[4]]

    async def test_thread_delete_cascades_runs(self, storage: Storage) -> None:
        doomed = await storage.threads.create(thread_record(owner="u1"), owner="u1")
        kept = await storage.threads.create(thread_record(owner="u1"), owner="u1")
        tid = doomed["thread_id"]
        doomed_run = await storage.runs.create(run_record(tid, owner="u1"), owner="u1")
        await storage.runs.create(run_record(tid, owner="u1", status="running"), owner="u1")
        kept_run = await storage.runs.create(run_record(kept["thread_id"], owner="u1"), owner="u1")
        await storage.threads.delete(tid, owner="u1")
        with pytest.raises(NotFound):
            await storage.threads.get(tid, owner="u1")
        with pytest.raises(NotFound) as again:
            await storage.threads.delete(tid, owner="u1")
        assert again.value.detail == f"Thread with ID {tid} not found"
        with pytest.raises(NotFound):
            await storage.runs.get(tid, doomed_run["run_id"], owner="u1")
        assert await storage.runs.list(tid, limit=10, offset=0, status=None, owner=None) == []
        assert await storage.runs.active_for_thread(tid) == []
        assert [r["run_id"] for r in await storage.runs.by_status(["pending", "running"], owner=None)] == [
            kept_run["run_id"]
        ]
        assert await storage.runs.set_status(doomed_run["run_id"], "success") is None
        assert await storage.threads.count(ThreadFilter(), owner="u1") == 1
        assert (await storage.stats())["runs"] == 1

    # ------------------------------------------------------------------- runs

    async def test_run_create_and_get(self, storage: Storage) -> None:
        thread = await storage.threads.create(thread_record(owner="u1"), owner="u1")
        tid = thread["thread_id"]
        record = run_record(tid, owner="u1")
        created = await storage.runs.create(record, owner="u1")
        assert created["status"] == "pending"
        assert created["metadata"] == {"m": 1, "owner": "u1"}
        assert created["kwargs"] == record["kwargs"]
        assert await storage.runs.get(tid, record["run_id"], owner="u1") == created
        assert await storage.runs.get(tid, record["run_id"], owner=None) == created
        other = await storage.threads.create(thread_record(owner="u1"), owner="u1")
        for thread_id, run_id, owner in (
            (other["thread_id"], record["run_id"], "u1"),
            (tid, record["run_id"], "u2"),
            (tid, new_id(), "u1"),
        ):
            with pytest.raises(NotFound) as missing:
                await storage.runs.get(thread_id, run_id, owner=owner)
            assert missing.value.detail == "Not Found"

    async def test_run_list(self, storage: Storage) -> None:
        tid = (await storage.threads.create(thread_record(owner="u1"), owner="u1"))["thread_id"]
        statuses: list[RunStatus] = ["success", "error", "success", "pending"]
        ids = []
        for i, status in enumerate(statuses):
            run = await storage.runs.create(
                run_record(tid, owner="u1", status=status, created_at=at(i)), owner="u1"
            )
            ids.append(run["run_id"])
        other_tid = (await storage.threads.create(thread_record(owner="u1"), owner="u1"))["thread_id"]
        await storage.runs.create(run_record(other_tid, owner="u1"), owner="u1")

        async def listed(**kwargs: Any) -> list[str]:
            args: dict[str, Any] = {"limit": 10, "offset": 0, "status": None, "owner": "u1", **kwargs}
            return [r["run_id"] for r in await storage.runs.list(tid, **args)]

        assert await listed() == ids[::-1]
        assert await listed(limit=2, offset=1) == [ids[2], ids[1]]
        assert await listed(status="success") == [ids[2], ids[0]]
        assert await listed(status="timeout") == []
        assert await listed(owner="u2") == []
        assert await listed(owner=None) == ids[::-1]
        assert await storage.runs.list(new_id(), limit=10, offset=0, status=None, owner="u1") == []

    async def test_run_list_ties_newest_first_by_id(self, storage: Storage) -> None:
        tid = (await storage.threads.create(thread_record(owner="u1"), owner="u1"))["thread_id"]
        ids = [
            (await storage.runs.create(run_record(tid, owner="u1"), owner="u1"))["run_id"] for _ in range(4)
        ]
        listed = await storage.runs.list(tid, limit=10, offset=0, status=None, owner="u1")
        assert [r["run_id"] for r in listed] == sorted(ids, reverse=True)

    async def test_run_set_status(self, storage: Storage) -> None:
        tid = (await storage.threads.create(thread_record(owner="u1"), owner="u1"))["thread_id"]
        created = await storage.runs.create(run_record(tid, owner="u1"), owner="u1")
        rid = created["run_id"]
        running = await storage.runs.set_status(rid, "running")
        assert running is not None
        assert running["status"] == "running"
        assert running["updated_at"] > created["updated_at"]
        assert running["created_at"] == created["created_at"]
        assert await storage.runs.get(tid, rid, owner="u1") == running
        assert [r["run_id"] for r in await storage.runs.by_status(["running"], owner="u1")] == [rid]
        assert await storage.runs.by_status(["pending"], owner="u1") == []
        done = await storage.runs.set_status(rid, "success")
        assert done is not None
        assert done["status"] == "success"
        assert await storage.runs.by_status(["running"], owner="u1") == []
        assert await storage.runs.set_status(new_id(), "success") is None

    async def test_run_active_for_thread(self, storage: Storage) -> None:
        tid = (await storage.threads.create(thread_record(owner="u1"), owner="u1"))["thread_id"]
        other = (await storage.threads.create(thread_record(owner="u1"), owner="u1"))["thread_id"]
        specs: list[tuple[RunStatus, int]] = [
            ("pending", 3),
            ("success", 0),
            ("running", 1),
            ("interrupted", 2),
            ("pending", 4),
        ]
        created = {}
        for status, t in specs:
            run = await storage.runs.create(
                run_record(tid, owner="u1", status=status, created_at=at(t)), owner="u1"
            )
            created[t] = run["run_id"]
        await storage.runs.create(run_record(other, owner="u1", status="running"), owner="u1")
        active = await storage.runs.active_for_thread(tid)
        assert [r["run_id"] for r in active] == [created[1], created[3], created[4]]
        assert await storage.runs.active_for_thread(new_id()) == []

    async def test_run_by_status(self, storage: Storage) -> None:
        t1 = (await storage.threads.create(thread_record(owner="u1"), owner="u1"))["thread_id"]
        t2 = (await storage.threads.create(thread_record(owner="u2"), owner="u2"))["thread_id"]
        a = await storage.runs.create(
            run_record(t1, owner="u1", status="pending", created_at=at(2)), owner="u1"
        )
        b = await storage.runs.create(
            run_record(t2, owner="u2", status="running", created_at=at(1)), owner="u2"
        )
        c = await storage.runs.create(
            run_record(t1, owner="u1", status="running", created_at=at(0)), owner="u1"
        )
        await storage.runs.create(run_record(t1, owner="u1", status="success", created_at=at(3)), owner="u1")

        async def ids(statuses: list[str], owner: str | None) -> list[str]:
            return [r["run_id"] for r in await storage.runs.by_status(statuses, owner=owner)]

        assert await ids(["pending", "running"], None) == [c["run_id"], b["run_id"], a["run_id"]]
        assert await ids(["pending", "running"], "u1") == [c["run_id"], a["run_id"]]
        assert await ids(["running"], "u2") == [b["run_id"]]
        assert await ids(["timeout"], None) == []
        assert await ids([], None) == []

    async def test_run_delete(self, storage: Storage) -> None:
        tid = (await storage.threads.create(thread_record(owner="u1"), owner="u1"))["thread_id"]
        other = (await storage.threads.create(thread_record(owner="u1"), owner="u1"))["thread_id"]
        run = await storage.runs.create(run_record(tid, owner="u1"), owner="u1")
        rid = run["run_id"]
        for thread_id, owner in ((other, "u1"), (tid, "u2")):
            with pytest.raises(NotFound) as refused:
                await storage.runs.delete(thread_id, rid, owner=owner)
            assert refused.value.detail == "Run not found"
        await storage.runs.delete(tid, rid, owner="u1")
        with pytest.raises(NotFound):
            await storage.runs.get(tid, rid, owner="u1")
        with pytest.raises(NotFound) as again:
            await storage.runs.delete(tid, rid, owner="u1")
        assert again.value.detail == "Run not found"
        assert await storage.runs.active_for_thread(tid) == []
        assert await storage.runs.by_status(["pending"], owner=None) == []

    # ------------------------------------------------------------------ crons

    async def test_cron_crud(self, storage: Storage) -> None:
        record = cron_record(owner="u1", metadata={"k": "v"}, next_run_date=at(60))
        created = await storage.crons.create(record, owner="u1")
        cid = record["cron_id"]
        assert created["metadata"] == {"k": "v", "owner": "u1"}
        assert created["payload"] == {"input": {"x": 1}}
        assert await storage.crons.get(cid, owner="u1") == created
        updated = await storage.crons.update(
            cid, {"enabled": False, "end_time": at(600), "metadata": {"k2": 1, "owner": "u2"}}, owner="u1"
        )
        assert updated["enabled"] is False
        assert updated["end_time"] == at(600)
        assert updated["metadata"] == {"k2": 1, "owner": "u1"}
        assert updated["owner"] == "u1"
        assert updated["schedule"] == created["schedule"]
        assert updated["updated_at"] > created["updated_at"]
        assert updated["created_at"] == created["created_at"]
        assert await storage.crons.get(cid, owner="u1") == updated
        cleared = await storage.crons.update(cid, {"end_time": None}, owner="u1")
        assert cleared["end_time"] is None
        await storage.crons.delete(cid, owner="u1")
        for call in (
            storage.crons.get(cid, owner="u1"),
            storage.crons.delete(cid, owner="u1"),
            storage.crons.update(cid, {"enabled": True}, owner="u1"),
        ):
            with pytest.raises(NotFound) as missing:
                await call
            assert missing.value.detail == "Not Found"

    async def test_cron_update_rejects_identity_fields(self, storage: Storage) -> None:
        created = await storage.crons.create(cron_record(owner="u1"), owner="u1")
        for changes in ({"cron_id": new_id()}, {"owner": "u2"}, {"bogus": 1}):
            with pytest.raises(InvalidInput):
                await storage.crons.update(created["cron_id"], changes, owner="u1")
        assert await storage.crons.get(created["cron_id"], owner="u1") == created

    async def test_cron_isolation_between_users(self, storage: Storage) -> None:
        created = await storage.crons.create(cron_record(owner="u2"), owner="u1")
        assert created["owner"] == "u1"
        cid = created["cron_id"]
        for call in (
            storage.crons.get(cid, owner="u2"),
            storage.crons.update(cid, {"enabled": False}, owner="u2"),
            storage.crons.delete(cid, owner="u2"),
        ):
            with pytest.raises(NotFound):
                await call
        assert (await storage.crons.search(CronFilter(), ALL, owner="u2")).total == 0
        assert await storage.crons.count(CronFilter(), owner="u2") == 0
        assert await storage.crons.count(CronFilter(), owner=None) == 1
        assert await storage.crons.get(cid, owner=None) == created

    async def test_cron_search_filters(self, storage: Storage) -> None:
        assistant, thread = new_id(), new_id()
        specs: list[tuple[str | None, str | None, bool, dict[str, Any]]] = [
            (assistant, thread, True, {"team": "a"}),
            (assistant, None, False, {"team": "b"}),
            (None, thread, True, {"team": "a", "extra": [1]}),
        ]
        ids = []
        for i, (aid, tid, enabled, metadata) in enumerate(specs):
            record = cron_record(
                owner="u1",
                assistant_id=aid,
                thread_id=tid,
                enabled=enabled,
                metadata=metadata,
                created_at=at(i),
            )
            ids.append((await storage.crons.create(record, owner="u1"))["cron_id"])

        async def search(**filters: Any) -> list[str]:
            page = Page(limit=None, sort_order="asc")
            result = await storage.crons.search(CronFilter(**filters), page, owner="u1")
            assert await storage.crons.count(CronFilter(**filters), owner="u1") == result.total
            return [c["cron_id"] for c in result.items]

        assert await search() == ids
        assert await search(assistant_id=assistant) == ids[:2]
        assert await search(thread_id=thread) == [ids[0], ids[2]]
        assert await search(enabled=True) == [ids[0], ids[2]]
        assert await search(enabled=False) == [ids[1]]
        assert await search(metadata={"team": "a"}) == [ids[0], ids[2]]
        assert await search(metadata={"extra": [1]}, enabled=True) == [ids[2]]
        assert await search(assistant_id=assistant, thread_id=thread, enabled=False) == []
        window = await storage.crons.search(CronFilter(), Page(limit=1, offset=1), owner="u1")
        assert ([c["cron_id"] for c in window.items], window.total) == ([ids[1]], 3)

    @pytest.mark.parametrize(
        "sort_by",
        ["cron_id", "assistant_id", "thread_id", "next_run_date", "end_time", "created_at", "updated_at"],
    )
    @pytest.mark.parametrize("sort_order", ["asc", "desc"])
    async def test_cron_sort(self, storage: Storage, sort_by: str, sort_order: SortOrder) -> None:
        records = [
            cron_record(
                owner="u1", thread_id=new_id(), next_run_date=at(30), end_time=None, created_at=at(2)
            ),
            cron_record(owner="u1", thread_id=None, next_run_date=at(10), end_time=at(99), created_at=at(1)),
            cron_record(
                owner="u1", thread_id=new_id(), next_run_date=None, end_time=at(50), created_at=at(4)
            ),
            cron_record(
                owner="u1", thread_id=new_id(), next_run_date=at(20), end_time=at(70), created_at=at(3)
            ),
        ]
        for record in records:
            await storage.crons.create(record, owner="u1")
        page = Page(limit=None, sort_by=sort_by, sort_order=sort_order)
        found = await storage.crons.search(CronFilter(), page, owner="u1")
        want = expected_order(records, sort_by, "cron_id", sort_order)
        assert [c["cron_id"] for c in found.items] == want

    async def test_cron_due_and_next_due_time(self, storage: Storage) -> None:
        now = at(1000)
        assert await storage.crons.due(now) == []
        assert await storage.crons.next_due_time() is None

        async def make(**kwargs: Any) -> str:
            owner = kwargs.pop("owner", "u1")
            return (await storage.crons.create(cron_record(owner=owner, **kwargs), owner=owner))["cron_id"]

        late = await make(next_run_date=at(900))
        exact = await make(next_run_date=now, owner="u2")
        early = await make(next_run_date=at(100), end_time=at(500))
        await make(next_run_date=at(950), enabled=False)
        await make(next_run_date=None)
        await make(next_run_date=at(800), end_time=at(700))
        future = await make(next_run_date=at(1200))
        await make(next_run_date=at(1100), enabled=False)

        due = await storage.crons.due(now)
        assert [c["cron_id"] for c in due] == [early, late, exact]
        assert await storage.crons.next_due_time() == at(100)
        assert [c["cron_id"] for c in await storage.crons.due(at(1200))] == [early, late, exact, future]

        # The scheduler advances what it ran; the next wake-up follows.
        await storage.crons.update(early, {"next_run_date": at(600)}, owner=None)
        await storage.crons.update(late, {"next_run_date": at(1300)}, owner=None)
        await storage.crons.delete(exact, owner=None)
        assert await storage.crons.due(now) == []
        assert await storage.crons.next_due_time() == at(1200)
        await storage.crons.update(future, {"enabled": False}, owner=None)
        assert await storage.crons.next_due_time() == at(1300)

    # ----------------------------------------------------------------- copies

    async def test_assistant_copies_in_and_out(self, storage: Storage) -> None:
        record = assistant_record(owner="u1", metadata={"tags": ["a"]}, config={"configurable": {"k": [1]}})
        created = await storage.assistants.create(record, owner="u1")
        aid = record["assistant_id"]
        snapshot = await storage.assistants.get(aid, owner="u1")
        record["metadata"]["tags"].append("input")
        record["config"]["configurable"]["k"].append(2)
        record["name"] = "mutated"
        created["metadata"]["tags"].append("output")
        created["config"]["configurable"]["k"].append(3)
        fetched = await storage.assistants.get(aid, owner="u1")
        fetched["context"]["k"] = 99
        found = await storage.assistants.search(AssistantFilter(), ALL, owner="u1")
        found.items[0]["metadata"]["tags"].clear()
        versions = await storage.assistants.versions(aid, metadata=None, limit=10, offset=0, owner="u1")
        versions[0]["metadata"]["tags"].clear()
        patch_metadata: dict[str, Any] = {"nested": {"x": 1}}
        patched = await storage.assistants.patch(aid, AssistantPatch(metadata=patch_metadata), owner="u1")
        patch_metadata["nested"]["x"] = 2
        patched["metadata"]["nested"]["x"] = 3
        assert (await storage.assistants.get(aid, owner="u1"))["metadata"]["nested"] == {"x": 1}
        latest = await storage.assistants.set_latest(aid, 1, owner="u1")
        assert latest["metadata"] == snapshot["metadata"]
        assert latest["config"] == snapshot["config"]
        assert latest["context"] == snapshot["context"]
        assert latest["name"] == snapshot["name"]

    async def test_thread_and_run_copies_in_and_out(self, storage: Storage) -> None:
        record = thread_record(owner="u1", metadata={"deep": {"list": [1]}})
        created = await storage.threads.create(record, owner="u1")
        tid = record["thread_id"]
        snapshot = await storage.threads.get(tid, owner="u1")
        record["metadata"]["deep"]["list"].append(2)
        created["metadata"]["deep"]["list"].append(3)
        error = {"error": "E", "message": "m"}
        updated = await storage.threads.update(tid, ThreadPatch(error=error), owner=None)
        error["message"] = "changed"
        assert updated["error"] is not None
        updated["error"]["message"] = "changed too"
        searched = await storage.threads.search(ThreadFilter(), ALL, owner="u1")
        searched.items[0]["metadata"]["deep"]["list"].clear()
        stored = await storage.threads.get(tid, owner="u1")
        assert stored["metadata"] == snapshot["metadata"]
        assert stored["error"] == {"error": "E", "message": "m"}

        run = run_record(tid, owner="u1")
        created_run = await storage.runs.create(run, owner="u1")
        run["kwargs"]["input"]["messages"].append("input")
        created_run["kwargs"]["input"]["messages"].append("output")
        for listed in (
            await storage.runs.list(tid, limit=10, offset=0, status=None, owner="u1"),
            await storage.runs.active_for_thread(tid),
            await storage.runs.by_status(["pending"], owner="u1"),
        ):
            listed[0]["kwargs"]["input"]["messages"].clear()
        moved = await storage.runs.set_status(run["run_id"], "running")
        assert moved is not None
        moved["metadata"]["m"] = 2
        stored_run = await storage.runs.get(tid, run["run_id"], owner="u1")
        assert stored_run["kwargs"]["input"]["messages"] == [{"role": "user", "content": "hi"}]
        assert stored_run["metadata"] == {"m": 1, "owner": "u1"}

    async def test_cron_copies_in_and_out(self, storage: Storage) -> None:
        record = cron_record(owner="u1", next_run_date=at(5))
        created = await storage.crons.create(record, owner="u1")
        cid = record["cron_id"]
        record["payload"]["input"]["x"] = 2
        created["payload"]["input"]["x"] = 3
        changes: dict[str, Any] = {"payload": {"input": {"y": [1]}}}
        updated = await storage.crons.update(cid, changes, owner="u1")
        changes["payload"]["input"]["y"].append(2)
        updated["payload"]["input"]["y"].append(3)
        (await storage.crons.due(at(10)))[0]["payload"]["input"].clear()
        (await storage.crons.search(CronFilter(), ALL, owner="u1")).items[0]["payload"].clear()
        assert (await storage.crons.get(cid, owner="u1"))["payload"] == {"input": {"y": [1]}}
