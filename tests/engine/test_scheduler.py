"""`CronScheduler` with a fake clock over the in-memory cron repository."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from robyn_server.engine.scheduler import (
    CronScheduler,
    SystemClock,
    check_schedule,
    check_timezone,
    next_run_after,
)
from robyn_server.errors import InvalidInput, NotFound
from robyn_server.storage.base import Cron
from robyn_server.storage.memory_crons import InMemoryCronRepository

T0 = datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC)


class FakeClock:
    """Time moves only in `advance`; `waits` counts every time the scheduler starts waiting."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._moved = asyncio.Event()
        self.waits = 0
        self.deadlines: list[datetime | None] = []

    def now(self) -> datetime:
        return self._now

    async def sleep_until(self, deadline: datetime | None, wake: asyncio.Event) -> None:
        self.deadlines.append(deadline)
        while not wake.is_set() and (deadline is None or self._now < deadline):
            self._moved.clear()
            self.waits += 1
            moved = asyncio.ensure_future(self._moved.wait())
            woken = asyncio.ensure_future(wake.wait())
            try:
                await asyncio.wait({moved, woken}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                moved.cancel()
                woken.cancel()

    async def idle_after(self, waits: int) -> None:
        """Let the scheduler run until it waits again (fails instead of hanging)."""
        for _ in range(1000):
            if self.waits > waits:
                return
            await asyncio.sleep(0)
        raise AssertionError("scheduler never went back to sleep")

    async def advance(self, seconds: float) -> None:
        waits = self.waits
        self._now += timedelta(seconds=seconds)
        self._moved.set()
        await self.idle_after(waits)


def cron(
    schedule: str = "*/5 * * * *",
    *,
    next_run: datetime | None = None,
    enabled: bool = True,
    end_time: datetime | None = None,
) -> Cron:
    return Cron(
        cron_id=str(uuid.uuid4()),
        assistant_id=str(uuid.uuid4()),
        thread_id=None,
        user_id="u1",
        end_time=end_time,
        schedule=schedule,
        timezone=None,
        payload={},
        next_run_date=next_run or next_run_after(schedule, None, T0),
        metadata={},
        on_run_completed="delete",
        enabled=enabled,
        created_at=T0,
        updated_at=T0,
        owner="u1",
    )


class Harness:
    """A scheduler, its repository, its fake clock and the crons it fired."""

    def __init__(self) -> None:
        self.repo = InMemoryCronRepository()
        self.clock = FakeClock(T0)
        self.fired: list[str] = []
        self.failures: dict[str, Exception] = {}
        self.scheduler = CronScheduler(self.repo, self.fire, clock=self.clock)

    async def fire(self, record: Cron) -> None:
        self.fired.append(record["cron_id"])
        await asyncio.sleep(0)
        if record["cron_id"] in self.failures:
            raise self.failures[record["cron_id"]]

    async def add(self, record: Cron) -> Cron:
        return await self.repo.create(record, owner=record["owner"])

    async def start(self) -> None:
        waits = self.clock.waits
        await self.scheduler.start()
        await self.clock.idle_after(waits)

    async def next_run(self, cron_id: str) -> datetime | None:
        return (await self.repo.get(cron_id, owner=None))["next_run_date"]


@pytest.fixture()
async def harness():
    h = Harness()
    yield h
    await h.scheduler.stop()


async def test_sleeps_until_due_then_fires_once_and_advances(harness: Harness) -> None:
    record = await harness.add(cron())
    await harness.start()
    assert harness.fired == [] and harness.clock.deadlines == [datetime(2026, 1, 1, 12, 5, tzinfo=UTC)]
    await harness.clock.advance(269)  # 12:04:59: woken by the clock, still not due
    assert harness.fired == []
    await harness.clock.advance(1)
    assert harness.fired == [record["cron_id"]]
    assert await harness.next_run(record["cron_id"]) == datetime(2026, 1, 1, 12, 10, tzinfo=UTC)
    assert harness.clock.deadlines[-1] == datetime(2026, 1, 1, 12, 10, tzinfo=UTC)
    # Firing does not count as the owner changing the cron.
    assert (await harness.repo.get(record["cron_id"], owner=None))["updated_at"] == T0


async def test_one_due_time_never_fires_twice(harness: Harness) -> None:
    record = await harness.add(cron(next_run=T0))
    results = await asyncio.gather(harness.scheduler.run_due(), harness.scheduler.run_due())
    assert sorted(results) == [0, 1]
    assert await harness.scheduler.run_due() == 0
    assert harness.fired == [record["cron_id"]]


async def test_no_busy_loop_while_idle_or_waiting(harness: Harness) -> None:
    await harness.start()
    await asyncio.sleep(0.05)
    assert harness.scheduler.wakeups == 1 and harness.clock.deadlines == [None]
    far = await harness.add(cron("0 0 1 1 *"))
    harness.scheduler.wake()
    await harness.clock.idle_after(harness.clock.waits)
    await asyncio.sleep(0.05)
    assert harness.scheduler.wakeups == 2
    assert harness.clock.deadlines == [None, far["next_run_date"]]


async def test_wakes_on_change_and_fires_a_cron_due_now(harness: Harness) -> None:
    await harness.start()
    record = await harness.add(cron(next_run=T0))
    waits = harness.clock.waits
    harness.scheduler.wake()
    await harness.clock.idle_after(waits)
    assert harness.fired == [record["cron_id"]]


async def test_disabled_and_expired_crons_never_fire(harness: Harness) -> None:
    await harness.add(cron(next_run=T0, enabled=False))
    await harness.add(cron(next_run=T0 + timedelta(minutes=1), end_time=T0))
    await harness.start()
    await harness.clock.advance(3600)
    assert harness.fired == [] and harness.clock.deadlines == [None]
    assert harness.scheduler.wakeups == 1


async def test_cron_that_expires_after_firing_stops(harness: Harness) -> None:
    record = await harness.add(cron("* * * * *", end_time=T0 + timedelta(seconds=80)))
    await harness.start()
    await harness.clock.advance(30)  # 12:01 fires; 12:02 is past the end
    await harness.clock.advance(300)
    assert harness.fired == [record["cron_id"]]
    assert harness.clock.deadlines[-1] is None


async def test_failing_fires_are_survived_and_still_advance(harness: Harness) -> None:
    broken = await harness.add(cron("* * * * *"))
    gone = await harness.add(cron("* * * * *"))
    healthy = await harness.add(cron("* * * * *"))
    harness.failures = {broken["cron_id"]: RuntimeError("boom"), gone["cron_id"]: NotFound("no assistant")}
    await harness.start()
    await harness.clock.advance(30)
    await harness.clock.advance(60)
    assert sorted(harness.fired) == sorted([broken["cron_id"], gone["cron_id"], healthy["cron_id"]] * 2)
    assert await harness.next_run(broken["cron_id"]) == datetime(2026, 1, 1, 12, 3, tzinfo=UTC)


async def test_overslept_scheduler_fires_once_not_per_missed_time(harness: Harness) -> None:
    record = await harness.add(cron("* * * * *"))
    await harness.scheduler.start()
    harness.clock._now += timedelta(minutes=10, seconds=5)  # e.g. the machine was suspended
    await harness.clock.advance(0)
    assert harness.fired == [record["cron_id"]]
    assert await harness.next_run(record["cron_id"]) == datetime(2026, 1, 1, 12, 11, tzinfo=UTC)


async def test_cron_changed_after_due_was_read_is_skipped(harness: Harness) -> None:
    first = await harness.add(cron(next_run=T0))
    second = await harness.add(cron(next_run=T0 + timedelta(seconds=1)))

    async def fire_and_disable(record: Cron) -> None:
        harness.fired.append(record["cron_id"])
        await harness.repo.update(second["cron_id"], {"enabled": False}, owner=None)

    harness.scheduler._fire = fire_and_disable
    harness.clock._now = T0 + timedelta(seconds=2)
    assert await harness.scheduler.run_due() == 1
    assert harness.fired == [first["cron_id"]]


async def test_stop_is_clean_and_idempotent(harness: Harness) -> None:
    await harness.start()
    assert harness.scheduler.running
    await harness.scheduler.stop()
    await harness.scheduler.stop()
    assert not harness.scheduler.running


async def test_system_clock_sleeps_until_deadline_or_wake() -> None:
    clock, wake = SystemClock(), asyncio.Event()
    loop = asyncio.get_running_loop()
    started = loop.time()
    await clock.sleep_until(clock.now() + timedelta(seconds=0.05), wake)
    assert 0.04 <= loop.time() - started < 0.5
    loop.call_later(0.02, wake.set)
    started = loop.time()
    await clock.sleep_until(None, wake)
    assert loop.time() - started < 0.5


def test_schedule_and_timezone_validation() -> None:
    with pytest.raises(InvalidInput) as bad:
        check_schedule("not a cron")
    assert bad.value.detail.startswith("Invalid cron schedule: 'not a cron'. Reason: Invalid cron schedule.")
    with pytest.raises(InvalidInput) as zone:
        check_timezone("Mars/Olympus")
    assert zone.value.detail == (
        "Invalid timezone: 'Mars/Olympus'. Use IANA timezone format (e.g. 'America/New_York')."
    )
    # Six fields: seconds come last (croniter's convention).
    assert next_run_after("* * * * * */10", None, T0) == T0 + timedelta(seconds=10)
    assert next_run_after("0 9 * * *", "America/New_York", T0) == datetime(2026, 1, 1, 14, tzinfo=UTC)
