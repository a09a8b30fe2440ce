"""In-memory cron records."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

from robyn_server.errors import Conflict, InvalidInput, NotFound
from robyn_server.storage.base import Cron, CronFilter, Page, SearchResult
from robyn_server.storage.filters import json_contains
from robyn_server.storage.memory_records import MultiIndex, clone, owned_metadata, sort_and_page, utcnow

CRON_SORT_FIELDS = frozenset(
    {"cron_id", "assistant_id", "thread_id", "next_run_date", "end_time", "created_at", "updated_at"}
)
# Identity and provenance: `update` may not change these.
_FIXED_CRON_FIELDS = frozenset({"cron_id", "owner", "created_at"})
_CRON_FIELDS = frozenset(Cron.__annotations__)


def pending_run_date(cron: Cron) -> datetime | None:
    """The cron's next run date, or None if it will not fire again.

    It will not when disabled, without a `next_run_date`, or when `next_run_date` lies
    past its `end_time`; the scheduler neither runs such a cron nor wakes up for it.
    """
    next_run = cron["next_run_date"]
    if not cron["enabled"] or next_run is None:
        return None
    if cron["end_time"] is not None and next_run > cron["end_time"]:
        return None
    return next_run


class InMemoryCronRepository:
    """Crons keyed by id, indexed by owner.

    The scheduler queries (`due`, `next_due_time`) scan every cron: crons are few,
    and a heap would need re-keying on every `update`.
    """

    def __init__(self) -> None:
        self._crons: dict[str, Cron] = {}
        # owner (None for the service's) -> cron ids
        self._by_owner = MultiIndex()

    def __len__(self) -> int:
        return len(self._crons)

    def _visible_or_404(self, cron_id: str, owner: str | None) -> Cron:
        cron = self._crons.get(cron_id)
        if cron is None or (owner is not None and cron["owner"] != owner):
            raise NotFound()
        return cron

    async def create(self, cron: Cron, *, owner: str | None) -> Cron:
        """Store a new cron. A user always creates a cron they own.

        Raises:
            Conflict: the cron id exists already.
        """
        if cron["cron_id"] in self._crons:
            raise Conflict(f"Cron {cron['cron_id']} already exists")
        record: Cron = clone(cron)
        if owner is not None:
            record["owner"] = owner
        record["metadata"] = owned_metadata(record["metadata"], record["owner"])
        self._crons[record["cron_id"]] = record
        self._by_owner.add(record["owner"], record["cron_id"])
        return clone(record)

    async def get(self, cron_id: str, *, owner: str | None) -> Cron:
        """Return the cron. Raises NotFound."""
        return clone(self._visible_or_404(cron_id, owner))

    async def update(self, cron_id: str, changes: dict[str, Any], *, owner: str | None) -> Cron:
        """Replace the given fields (metadata too: it is not merged) and bump `updated_at`.

        `updated_at` may be given explicitly; `metadata["owner"]` is re-stamped.

        Raises:
            NotFound: unknown or another user's cron.
            InvalidInput: a field that is not a cron field, or one of cron_id/owner/created_at.
        """
        cron = self._visible_or_404(cron_id, owner)
        bad = (set(changes) - _CRON_FIELDS) | (set(changes) & _FIXED_CRON_FIELDS)
        if bad:
            raise InvalidInput(f"Cannot update cron field(s): {', '.join(sorted(bad))}")
        # Field names were checked above, so the merge is still a Cron.
        record = cast(Cron, {**clone(cron), "updated_at": utcnow(), **clone(changes)})
        record["metadata"] = owned_metadata(record["metadata"], record["owner"])
        self._crons[cron_id] = record
        return clone(record)

    async def delete(self, cron_id: str, *, owner: str | None) -> None:
        """Delete the cron. Raises NotFound."""
        cron = self._visible_or_404(cron_id, owner)
        del self._crons[cron_id]
        self._by_owner.discard(cron["owner"], cron_id)

    def _matching(self, filters: CronFilter, owner: str | None) -> Iterable[Cron]:
        candidates = (
            self._crons.values() if owner is None else (self._crons[i] for i in self._by_owner.get(owner))
        )
        for cron in candidates:
            if filters.assistant_id is not None and cron["assistant_id"] != filters.assistant_id:
                continue
            if filters.thread_id is not None and cron["thread_id"] != filters.thread_id:
                continue
            if filters.enabled is not None and cron["enabled"] != filters.enabled:
                continue
            if filters.metadata is not None and not json_contains(cron["metadata"], filters.metadata):
                continue
            yield cron

    async def search(self, filters: CronFilter, page: Page, *, owner: str | None) -> SearchResult[Cron]:
        """Crons visible to `owner` that match, ordered and paged.

        Raises:
            InvalidInput: unknown `sort_by`.
        """
        return sort_and_page(
            self._matching(filters, owner), page, sortable=CRON_SORT_FIELDS, id_field="cron_id"
        )

    async def count(self, filters: CronFilter, *, owner: str | None) -> int:
        """How many visible crons match."""
        return sum(1 for _ in self._matching(filters, owner))

    async def due(self, now: datetime) -> list[Cron]:
        """Scheduler-only: enabled crons with `next_run_date <= now`, earliest first.

        A cron whose `next_run_date` is past its `end_time` is never due (see
        `pending_run_date`); one whose run fell due before its `end_time` still is, even
        when the scheduler only gets to it after `end_time`.
        """
        found = [
            (run_date, cron_id)
            for cron_id, cron in self._crons.items()
            if (run_date := pending_run_date(cron)) is not None and run_date <= now
        ]
        found.sort()
        return [clone(self._crons[cron_id]) for _, cron_id in found]

    async def next_due_time(self) -> datetime | None:
        """Scheduler-only: the earliest `next_run_date` among crons that `due` can return."""
        dates = [d for cron in self._crons.values() if (d := pending_run_date(cron)) is not None]
        return min(dates, default=None)
