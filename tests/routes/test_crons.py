"""Cron API and scheduler through the real server: CRUD, owner isolation, and real firing.

Firing tests use six-field schedules (seconds last, croniter's convention): `* * * * * *`
fires every second, so nothing waits for minutes. Every cron is deleted by the test that
made it, so none keeps firing into later tests.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest
from langgraph_sdk.errors import NotFoundError

T = TypeVar("T")

CRON_KEYS = [
    "cron_id",
    "assistant_id",
    "thread_id",
    "user_id",
    "end_time",
    "schedule",
    "timezone",
    "payload",
    "next_run_date",
    "metadata",
    "on_run_completed",
    "enabled",
    "created_at",
    "updated_at",
]
NOTES_ID = str(uuid.uuid5(uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8"), "notes"))
YEARLY = "0 0 1 1 *"
EVERY_SECOND = "* * * * * *"
SECONDS_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$")


def unique() -> str:
    return uuid.uuid4().hex


async def eventually(probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], timeout: float = 5.0) -> T:
    """Poll `probe` until `done(value)`; fail with the last value after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last value: {value!r}")
        await asyncio.sleep(0.1)


async def get_cron(sdk, cron_id: str) -> dict[str, Any]:
    """GET /runs/crons/{id} (the SDK has no method for it)."""
    return await sdk.http.get(f"/runs/crons/{cron_id}")


async def logged_threads(sdk, owner: str, key: str) -> list[str]:
    """Thread ids the `notes` graph logged under `key` (one per run)."""
    item = await sdk.store.get_item([owner, "notes"], key)
    return item["value"]["threads"] if item else []


async def test_create_get_delete_shapes(sdk, alice) -> None:
    cron = await sdk.crons.create(
        "notes", schedule=YEARLY, input={"key": "k"}, metadata={"c": 1}, timezone="Europe/Rome"
    )
    try:
        assert list(cron) == CRON_KEYS
        cid = cron["cron_id"]
        assert uuid.UUID(cid).version == 7
        assert cron["assistant_id"] == NOTES_ID and cron["thread_id"] is None
        assert cron["user_id"] == alice.user_id and cron["on_run_completed"] == "delete"
        assert cron["enabled"] is True and cron["end_time"] is None and cron["timezone"] == "Europe/Rome"
        assert cron["metadata"] == {"c": 1, "owner": alice.user_id}
        assert cron["payload"] == {
            "assistant_id": NOTES_ID,
            "schedule": YEARLY,
            "input": {"key": "k"},
            "metadata": {"c": 1},
            "timezone": "Europe/Rome",
            "config": {"configurable": {"cron_id": cid}},
        }
        # Midnight of 1 January in Rome is 23:00 UTC the day before.
        assert SECONDS_DATE.match(cron["next_run_date"]) and cron["next_run_date"].endswith(
            "-12-31T23:00:00+00:00"
        )
        assert await get_cron(sdk, cid) == cron
    finally:
        await sdk.crons.delete(cron["cron_id"])
    with pytest.raises(NotFoundError):
        await sdk.crons.delete(cron["cron_id"])


def test_get_and_delete_over_http(http: httpx.Client) -> None:
    created = http.post("/runs/crons", json={"assistant_id": "notes", "schedule": YEARLY}).json()
    cid = created["cron_id"]
    assert http.get(f"/runs/crons/{cid}").json() == created
    assert http.delete(f"/runs/crons/{cid}").status_code == 204
    assert http.get(f"/runs/crons/{cid}").json() == {"detail": "Not Found"}
    assert http.delete(f"/runs/crons/{cid}").status_code == 404
    assert http.get("/runs/crons/not-a-uuid").status_code == 422


async def test_thread_cron_shape(sdk, http: httpx.Client, alice) -> None:
    thread = await sdk.threads.create()
    tid = thread["thread_id"]
    body = {"assistant_id": "notes", "schedule": YEARLY, "on_run_completed": "keep"}
    cron = http.post(f"/threads/{tid}/runs/crons", json=body).json()
    try:
        # A thread cron never deletes its thread, whatever the body says.
        assert cron["thread_id"] == tid and cron["on_run_completed"] is None
        assert cron["user_id"] == alice.user_id and cron["metadata"] == {"owner": alice.user_id}
    finally:
        await sdk.crons.delete(cron["cron_id"])


def test_validation(http: httpx.Client) -> None:
    bad = http.post("/runs/crons", json={"assistant_id": "notes", "schedule": "not a cron"})
    assert bad.status_code == 422
    assert bad.json() == {
        "detail": "Invalid cron schedule: 'not a cron'. Reason: Invalid cron schedule. Ensure the schedule "
        "uses the standard cron format (minute hour day_of_month month day_of_week). Example: '*/5 * * * *' "
        "for every 5 minutes."
    }
    zone = http.post(
        "/runs/crons", json={"assistant_id": "notes", "schedule": "* * * * *", "timezone": "Mars/Olympus"}
    )
    assert zone.status_code == 422
    assert zone.json() == {
        "detail": "Invalid timezone: 'Mars/Olympus'. Use IANA timezone format (e.g. 'America/New_York')."
    }
    assert http.post("/runs/crons", json={"assistant_id": "notes"}).status_code == 422
    assert http.post("/runs/crons", json={"assistant_id": "nope", "schedule": YEARLY}).status_code == 404
    assert (
        http.post(
            f"/threads/{uuid.uuid4()}/runs/crons", json={"assistant_id": "notes", "schedule": YEARLY}
        ).status_code
        == 404
    )
    both = {
        "assistant_id": "notes",
        "schedule": YEARLY,
        "config": {"configurable": {"a": 1}},
        "context": {"b": 2},
    }
    assert http.post("/runs/crons", json=both).status_code == 400
    assert http.post("/runs/crons/search", json={"select": ["bogus"]}).status_code == 422
    assert http.post("/runs/crons/search", json={"sort_by": "schedule"}).status_code == 422
    created = http.post("/runs/crons", json={"assistant_id": "notes", "schedule": YEARLY}).json()
    try:
        assert http.patch(f"/runs/crons/{created['cron_id']}", json={}).status_code == 400
        with_context = {"context": {"b": 2}, "config": {"configurable": {"a": 1}}}
        assert http.patch(f"/runs/crons/{created['cron_id']}", json=with_context).status_code == 400
        assert (
            http.patch(f"/runs/crons/{created['cron_id']}", json={"schedule": "61 * * * *"}).status_code
            == 422
        )
        assert (
            http.patch(f"/runs/crons/{created['cron_id']}", json={"timezone": "Nowhere/City"}).status_code
            == 422
        )
    finally:
        http.delete(f"/runs/crons/{created['cron_id']}")


def test_patch(http: httpx.Client, alice) -> None:
    end = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    created = http.post(
        "/runs/crons",
        json={"assistant_id": "notes", "schedule": YEARLY, "end_time": end, "metadata": {"a": 1}},
    ).json()
    cid = created["cron_id"]
    try:
        patched = http.patch(f"/runs/crons/{cid}", json={"schedule": "0 12 * * *", "enabled": False}).json()
        assert patched["schedule"] == "0 12 * * *" and patched["enabled"] is False
        # Deliberate difference: the reference keeps the old next_run_date here.
        assert patched["next_run_date"] != created["next_run_date"]
        assert patched["next_run_date"].endswith("T12:00:00+00:00")
        assert patched["payload"]["schedule"] == "0 12 * * *" and patched["payload"]["enabled"] is False
        assert patched["payload"]["config"] == {"configurable": {"cron_id": cid}}
        assert (
            patched["updated_at"] > created["updated_at"] and patched["created_at"] == created["created_at"]
        )
        zoned = http.patch(f"/runs/crons/{cid}", json={"timezone": "Asia/Tokyo", "metadata": {"b": 2}}).json()
        assert zoned["next_run_date"].endswith("T03:00:00+00:00")
        assert zoned["metadata"] == {"b": 2, "owner": alice.user_id}
        config = {"configurable": {"x": 1}}
        rerun = http.patch(f"/runs/crons/{cid}", json={"input": {"key": "z"}, "config": config}).json()
        assert rerun["payload"]["input"] == {"key": "z"}
        assert rerun["payload"]["config"] == {"configurable": {"x": 1, "cron_id": cid}}
        assert rerun["next_run_date"] == zoned["next_run_date"]
        cleared = http.patch(f"/runs/crons/{cid}", json={"end_time": None}).json()
        assert created["end_time"] is not None and cleared["end_time"] is None
    finally:
        http.delete(f"/runs/crons/{cid}")


async def test_search_count_select_sort_pagination(sdk, http: httpx.Client) -> None:
    tag = unique()
    thread = await sdk.threads.create()
    made = [
        await sdk.crons.create("notes", schedule=YEARLY, metadata={"tag": tag, "i": 0}),
        await sdk.crons.create_for_thread(
            thread["thread_id"], "notes", schedule=YEARLY, metadata={"tag": tag, "i": 1}
        ),
        await sdk.crons.create("slow", schedule="0 0 1 6 *", metadata={"tag": tag, "i": 2}, enabled=False),
    ]
    ids = [c["cron_id"] for c in made]
    try:
        found = await sdk.crons.search(metadata={"tag": tag})
        assert [c["cron_id"] for c in found] == list(reversed(ids))  # newest first
        asc = await sdk.crons.search(metadata={"tag": tag}, sort_by="created_at", sort_order="asc")
        assert [c["cron_id"] for c in asc] == ids
        by_next = await sdk.crons.search(metadata={"tag": tag}, sort_by="next_run_date", sort_order="desc")
        assert by_next[0]["cron_id"] == ids[2]
        assert [
            c["cron_id"] for c in await sdk.crons.search(assistant_id="notes", metadata={"tag": tag})
        ] == [
            ids[1],
            ids[0],
        ]
        assert [c["cron_id"] for c in await sdk.crons.search(thread_id=thread["thread_id"])] == [ids[1]]
        assert [c["cron_id"] for c in await sdk.crons.search(enabled=False, metadata={"tag": tag})] == [
            ids[2]
        ]
        selected = await sdk.crons.search(
            metadata={"tag": tag}, select=["cron_id", "schedule", "next_run_date"]
        )
        assert [list(c) for c in selected] == [["cron_id", "schedule", "next_run_date"]] * 3
        page = http.post("/runs/crons/search", json={"metadata": {"tag": tag}, "limit": 1, "offset": 1})
        assert [c["cron_id"] for c in page.json()] == [ids[1]]
        assert page.headers["x-pagination-total"] == "3" and page.headers["x-pagination-next"] == "2"
        last = http.post("/runs/crons/search", json={"metadata": {"tag": tag}, "limit": 5, "offset": 2})
        assert last.headers["x-pagination-total"] == "3" and "x-pagination-next" not in last.headers
        assert await sdk.crons.count(metadata={"tag": tag}) == 3
        assert await sdk.crons.count(assistant_id=NOTES_ID, metadata={"tag": tag}) == 2
        assert await sdk.crons.count(thread_id=thread["thread_id"]) == 1
    finally:
        for cid in ids:
            await sdk.crons.delete(cid)


async def test_owner_isolation_on_every_endpoint(
    sdk, http_bob: httpx.Client, service_http: httpx.Client, alice
) -> None:
    tag = unique()
    thread = await sdk.threads.create()
    cron = await sdk.crons.create_for_thread(
        thread["thread_id"], "notes", schedule=YEARLY, metadata={"tag": tag}
    )
    cid = cron["cron_id"]
    try:
        assert http_bob.get(f"/runs/crons/{cid}").status_code == 404
        assert http_bob.patch(f"/runs/crons/{cid}", json={"enabled": False}).status_code == 404
        assert http_bob.delete(f"/runs/crons/{cid}").status_code == 404
        assert http_bob.post("/runs/crons/search", json={"metadata": {"tag": tag}}).json() == []
        assert http_bob.post("/runs/crons/count", json={"metadata": {"tag": tag}}).json() == 0
        on_alices_thread = {"assistant_id": "notes", "schedule": YEARLY}
        assert (
            http_bob.post(f"/threads/{thread['thread_id']}/runs/crons", json=on_alices_thread).status_code
            == 404
        )
        # Metadata cannot move a cron to someone else.
        bob_made = http_bob.post(
            "/runs/crons",
            json={"assistant_id": "notes", "schedule": YEARLY, "metadata": {"owner": alice.user_id}},
        ).json()
        assert bob_made["metadata"]["owner"] != alice.user_id
        assert await sdk.crons.search(metadata={"owner": alice.user_id, "tag": tag}) == [cron]
        # The service identity sees and manages everyone's crons.
        assert service_http.get(f"/runs/crons/{cid}").json()["cron_id"] == cid
        assert service_http.post("/runs/crons/count", json={"metadata": {"tag": tag}}).json() == 1
        assert service_http.delete(f"/runs/crons/{bob_made['cron_id']}").status_code == 204
        assert (await get_cron(sdk, cid))["enabled"] is True
    finally:
        await sdk.crons.delete(cid)


# ---------------------------------------------------------------------------------------------- firing


async def test_thread_cron_fires_on_its_thread_advances_and_stops_when_disabled(sdk, alice) -> None:
    key = unique()
    thread = await sdk.threads.create()
    tid = thread["thread_id"]
    cron = await sdk.crons.create_for_thread(
        tid, "notes", schedule=EVERY_SECOND, input={"key": key, "log_thread": True}
    )
    try:
        runs = await eventually(lambda: sdk.runs.list(tid), lambda rs: len(rs) >= 2)
        assert {r["assistant_id"] for r in runs} == {NOTES_ID}
        assert all(r["metadata"]["owner"] == alice.user_id for r in runs)
        assert all(r["kwargs"]["config"]["configurable"]["cron_id"] == cron["cron_id"] for r in runs)
        await eventually(lambda: sdk.runs.list(tid), lambda rs: all(r["status"] == "success" for r in rs))
        assert set(await logged_threads(sdk, alice.user_id, key)) == {tid}
        advanced = await get_cron(sdk, cron["cron_id"])
        assert advanced["next_run_date"] > cron["next_run_date"]
        await sdk.crons.update(cron["cron_id"], enabled=False)
        stopped = len(await sdk.runs.list(tid, limit=100))
        await asyncio.sleep(1.5)
        assert len(await sdk.runs.list(tid, limit=100)) == stopped
    finally:
        await sdk.crons.delete(cron["cron_id"])


async def test_cron_with_context_carries_its_id_in_run_metadata(sdk) -> None:
    thread = await sdk.threads.create()
    tid = thread["thread_id"]
    cron = await sdk.crons.create_for_thread(
        tid, "ctx", schedule=EVERY_SECOND, input={"name": "cron"}, context={"greeting": "Hi"}
    )
    try:
        runs = await eventually(
            lambda: sdk.runs.list(tid), lambda rs: any(r["status"] == "success" for r in rs)
        )
    finally:
        await sdk.crons.delete(cron["cron_id"])
    run = next(r for r in runs if r["status"] == "success")
    assert run["metadata"]["cron_id"] == cron["cron_id"] and run["kwargs"]["context"] == {"greeting": "Hi"}
    assert (await sdk.threads.get_state(tid))["values"]["reply"] == "Hi, cron!"


async def test_stateless_cron_makes_a_thread_per_run_deleted_or_kept(sdk, sdk_bob, alice) -> None:
    kept_key, deleted_key = unique(), unique()
    keep = await sdk.crons.create(
        "notes", schedule=EVERY_SECOND, input={"key": kept_key, "log_thread": True}, on_run_completed="keep"
    )
    delete = await sdk.crons.create(
        "notes", schedule=EVERY_SECOND, input={"key": deleted_key, "log_thread": True}
    )
    try:
        kept = await eventually(lambda: logged_threads(sdk, alice.user_id, kept_key), lambda ts: len(ts) >= 2)
        deleted = await eventually(
            lambda: logged_threads(sdk, alice.user_id, deleted_key), lambda ts: len(ts) >= 2
        )
    finally:
        await sdk.crons.delete(keep["cron_id"])
        await sdk.crons.delete(delete["cron_id"])
    assert len(set(kept)) == len(kept) and len(set(deleted)) == len(deleted)
    for tid in kept:
        thread = await eventually(lambda tid=tid: sdk.threads.get(tid), lambda t: t["status"] == "idle")
        assert thread["metadata"]["owner"] == alice.user_id
        with pytest.raises(NotFoundError):
            await sdk_bob.threads.get(tid)

    async def missing(tid: str) -> bool:
        try:
            await sdk.threads.get(tid)
        except NotFoundError:
            return True
        return False

    for tid in deleted:
        await eventually(lambda tid=tid: missing(tid), bool)


async def test_failing_or_orphaned_crons_keep_firing_while_disabled_and_expired_never_do(
    sdk, http: httpx.Client, alice
) -> None:
    failing_key, expired_key, disabled_key = unique(), unique(), unique()
    thread = await sdk.threads.create()
    tid = thread["thread_id"]
    failing = await sdk.crons.create_for_thread(
        tid, "notes", schedule=EVERY_SECOND, input={"key": failing_key, "log_thread": True, "fail": True}
    )
    expired = await sdk.crons.create(
        "notes",
        schedule=EVERY_SECOND,
        input={"key": expired_key, "log_thread": True},
        end_time=datetime.now(UTC) - timedelta(minutes=1),
    )
    disabled = await sdk.crons.create(
        "notes", schedule=EVERY_SECOND, input={"key": disabled_key, "log_thread": True}, enabled=False
    )
    assistant = await sdk.assistants.create("notes")
    orphan = await sdk.crons.create(assistant["assistant_id"], schedule=EVERY_SECOND, input={"key": unique()})
    await sdk.assistants.delete(assistant["assistant_id"])
    made = [failing, expired, disabled, orphan]
    try:
        runs = await eventually(
            lambda: sdk.runs.list(tid), lambda rs: sum(r["status"] == "error" for r in rs) >= 2
        )
        assert {r["status"] for r in runs} <= {"error", "pending", "running"}
        # Each failed run logged its (one, shared) thread before raising: the cron kept firing.
        assert set(await logged_threads(sdk, alice.user_id, failing_key)) == {tid}
        orphan_now = await get_cron(sdk, orphan["cron_id"])
        assert orphan_now["next_run_date"] > orphan["next_run_date"]
        assert await logged_threads(sdk, alice.user_id, expired_key) == []
        assert await logged_threads(sdk, alice.user_id, disabled_key) == []
        assert (await get_cron(sdk, expired["cron_id"]))["next_run_date"] == expired["next_run_date"]
        assert http.get(f"/runs/crons/{failing['cron_id']}").json()["enabled"] is True
    finally:
        for cron in made:
            await sdk.crons.delete(cron["cron_id"])


def test_deleting_a_thread_deletes_its_crons(http) -> None:
    thread_id = http.post("/threads", json={}).json()["thread_id"]
    cron = http.post(
        f"/threads/{thread_id}/runs/crons", json={"assistant_id": "chat", "schedule": "0 0 1 1 *"}
    ).json()
    assert http.get(f"/runs/crons/{cron['cron_id']}").status_code == 200
    assert http.delete(f"/threads/{thread_id}").status_code == 204
    assert http.get(f"/runs/crons/{cron['cron_id']}").status_code == 404
