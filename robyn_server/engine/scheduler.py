"""`CronScheduler`: fires due crons from inside the server process.

Rules:
- No polling. The loop sleeps until the earliest `next_run_date` (or indefinitely when
  nothing is scheduled) and `wake()` cuts the sleep short whenever crons change.
- A due cron is claimed before it fires: its `next_run_date` is first advanced to the
  next schedule time strictly after now, so one due time fires at most once, even if
  firing fails or hangs, and a scheduler that overslept fires once, not once per missed
  time. Schedule times are absolute (croniter), so nothing drifts.
- Disabled crons and crons past their `end_time` are never due (the repository's `due`).
- A failing fire (deleted assistant or thread, a run that cannot be created) is logged and
  the loop carries on.

Schedules are croniter expressions: five fields, or six with *seconds as the last field*
(`* * * * * */10` = every ten seconds), evaluated in the cron's IANA timezone (UTC when
unset).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from robyn_server.clock import utcnow
from robyn_server.errors import InvalidInput, NotFound, ServerError
from robyn_server.storage.base import Cron, CronRepository

logger = logging.getLogger(__name__)

FireCron = Callable[[Cron], Awaitable[None]]
# After the repository itself fails, wait this long rather than spin.
RETRY_AFTER = timedelta(seconds=5)


def check_timezone(name: str | None) -> ZoneInfo:
    """The zone for an IANA name (UTC for None). Raises InvalidInput with the reference's words."""
    if name is None:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"Invalid timezone: '{name}'. Use IANA timezone format (e.g. 'America/New_York')."
        ) from None


def check_schedule(schedule: str) -> str:
    """Validate a cron expression. Raises InvalidInput with the reference's words."""
    if not croniter.is_valid(schedule):
        raise InvalidInput(
            f"Invalid cron schedule: '{schedule}'. Reason: Invalid cron schedule. Ensure the schedule uses "
            "the standard cron format (minute hour day_of_month month day_of_week). "
            "Example: '*/5 * * * *' for every 5 minutes."
        )
    return schedule


def next_run_after(schedule: str, timezone: str | None, after: datetime) -> datetime:
    """The first schedule time strictly after `after`, in UTC. Raises InvalidInput."""
    zone = check_timezone(timezone)
    local = croniter(check_schedule(schedule), after.astimezone(zone)).get_next(datetime)
    return local.astimezone(UTC)


class SchedulerClock(Protocol):
    """Where the scheduler gets the time and how it sleeps; a fake one drives the tests."""

    def now(self) -> datetime:
        """The current time (aware, UTC)."""
        ...

    async def sleep_until(self, deadline: datetime | None, wake: asyncio.Event) -> None:
        """Return at `deadline` (never, if None) or as soon as `wake` is set."""
        ...


class SystemClock:
    """Wall-clock time; sleeps on the event loop."""

    def now(self) -> datetime:
        """The current UTC time."""
        return utcnow()

    async def sleep_until(self, deadline: datetime | None, wake: asyncio.Event) -> None:
        """Sleep on `wake` with a timeout reaching `deadline`."""
        timeout = None if deadline is None else max(0.0, (deadline - self.now()).total_seconds())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout)


class CronScheduler:
    """Fires due crons through `fire` and advances their `next_run_date`.

    Args:
        crons: the cron repository (`due`, `next_due_time`, `get`, `update` as the service).
        fire: creates the cron's run; exceptions are logged, never propagated.
        clock: time and sleeping (SystemClock by default).

    Attributes:
        wakeups: loop iterations so far (each ends in one sleep), to prove there is no busy loop.
        fired: crons fired so far.
    """

    def __init__(self, crons: CronRepository, fire: FireCron, *, clock: SchedulerClock | None = None) -> None:
        self._crons = crons
        self._fire = fire
        self._clock = clock or SystemClock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.wakeups = 0
        self.fired = 0

    @property
    def running(self) -> bool:
        """Whether the loop is running."""
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Start the loop (a startup hook; idempotent)."""
        if not self.running:
            self._wake = asyncio.Event()
            self._task = asyncio.create_task(self._loop(), name="cron-scheduler")

    async def stop(self) -> None:
        """Stop the loop and wait for it (a shutdown hook). A fire in progress is cancelled."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    def wake(self) -> None:
        """Crons changed: recompute the next due time now."""
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            # Cleared before reading the crons, so a change made while we read wakes us again.
            self._wake.clear()
            self.wakeups += 1
            try:
                await self.run_due()
                deadline = await self._crons.next_due_time()
            except Exception:
                logger.exception("cron scheduler: reading crons failed")
                deadline = self._clock.now() + RETRY_AFTER
            await self._clock.sleep_until(deadline, self._wake)

    async def run_due(self) -> int:
        """Fire every cron due now. Returns how many fired."""
        now = self._clock.now()
        fired = 0
        for cron in await self._crons.due(now):
            claimed = await self._claim(cron, now)
            if claimed is None:
                continue
            fired += 1
            self.fired += 1
            try:
                await self._fire(claimed)
            except ServerError as error:
                logger.warning("cron %s: run not created: %s", claimed["cron_id"], error.detail)
            except Exception:
                logger.exception("cron %s: run not created", claimed["cron_id"])
        return fired

    async def _claim(self, due: Cron, now: datetime) -> Cron | None:
        """Advance the cron past `now`; return it as stored, or None if it changed meanwhile."""
        cron_id = due["cron_id"]
        try:
            cron = await self._crons.get(cron_id, owner=None)
        except NotFound:
            return None
        if not cron["enabled"] or cron["next_run_date"] != due["next_run_date"]:
            return None  # disabled, deleted or rescheduled while earlier crons fired
        scheduled = cron["next_run_date"]
        assert scheduled is not None
        try:
            following: datetime | None = next_run_after(
                cron["schedule"], cron["timezone"], max(scheduled, now)
            )
        except InvalidInput:
            logger.error("cron %s: unusable schedule %r; it will not run again", cron_id, cron["schedule"])
            following = None
        # `updated_at` stays the time of the owner's last change, not of the last firing.
        changes = {"next_run_date": following, "updated_at": cron["updated_at"]}
        try:
            await self._crons.update(cron_id, changes, owner=None)
        except NotFound:
            return None
        return cron
