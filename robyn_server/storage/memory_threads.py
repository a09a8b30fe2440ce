"""In-memory thread records, indexed by owner and by status."""

from __future__ import annotations

from collections.abc import Iterable

from robyn_server.errors import Conflict, InvalidInput, NotFound
from robyn_server.storage.base import Page, SearchResult, Thread, ThreadFilter, ThreadPatch
from robyn_server.storage.filters import json_contains
from robyn_server.storage.memory_records import MultiIndex, clone, owned_metadata, sort_and_page, utcnow
from robyn_server.storage.memory_runs import InMemoryRunRepository

THREAD_SORT_FIELDS = frozenset({"thread_id", "status", "created_at", "updated_at", "state_updated_at"})


def _not_found(thread_id: str) -> NotFound:
    return NotFound(f"Thread with ID {thread_id} not found")


class InMemoryThreadRepository:
    """Threads keyed by id; deleting one also deletes its runs from `runs`."""

    def __init__(self, runs: InMemoryRunRepository) -> None:
        self._threads: dict[str, Thread] = {}
        self._runs = runs
        # owner (None for the service's) -> thread ids
        self._by_owner = MultiIndex()
        # status -> thread ids
        self._by_status = MultiIndex()

    def __len__(self) -> int:
        return len(self._threads)

    def _visible_or_404(self, thread_id: str, owner: str | None) -> Thread:
        thread = self._threads.get(thread_id)
        if thread is None or (owner is not None and thread["owner"] != owner):
            raise _not_found(thread_id)
        return thread

    async def create(self, thread: Thread, *, owner: str | None, if_exists: str = "raise") -> Thread:
        """Store a new thread.

        A user always creates a thread they own; the service keeps the record's `owner`.

        Raises:
            Conflict: the id exists and `if_exists` is `raise`, or it exists but is not
                visible to the caller (another user's record is never returned).
            InvalidInput: `if_exists` is neither `raise` nor `do_nothing`.
        """
        if if_exists not in ("raise", "do_nothing"):
            raise InvalidInput(f"Invalid if_exists: {if_exists!r}")
        tid = thread["thread_id"]
        existing = self._threads.get(tid)
        if existing is not None:
            if if_exists == "do_nothing" and (owner is None or existing["owner"] == owner):
                return clone(existing)
            raise Conflict(f"Thread with ID {tid} already exists")
        record: Thread = clone(thread)
        if owner is not None:
            record["owner"] = owner
        record["metadata"] = owned_metadata(record["metadata"], record["owner"])
        self._threads[tid] = record
        self._by_owner.add(record["owner"], tid)
        self._by_status.add(record["status"], tid)
        return clone(record)

    async def get(self, thread_id: str, *, owner: str | None) -> Thread:
        """Return the thread. Raises NotFound (`Thread with ID … not found`)."""
        return clone(self._visible_or_404(thread_id, owner))

    async def update(self, thread_id: str, patch: ThreadPatch, *, owner: str | None) -> Thread:
        """Apply a patch and bump `updated_at` (and `state_updated_at` with `touch_state`).

        Metadata is merged and `metadata["owner"]` re-stamped; config, ttl, status and
        has_run are replaced when given. `clear_error` wins over a given `error`.

        Raises:
            NotFound: unknown or another user's thread.
        """
        thread = self._visible_or_404(thread_id, owner)
        record: Thread = clone(thread)
        if patch.metadata is not None:
            record["metadata"] = {**record["metadata"], **clone(patch.metadata)}
        record["metadata"] = owned_metadata(record["metadata"], record["owner"])
        if patch.config is not None:
            record["config"] = clone(patch.config)
        if patch.ttl is not None:
            record["ttl"] = clone(patch.ttl)
        if patch.status is not None:
            record["status"] = patch.status
        if patch.clear_error:
            record["error"] = None
        elif patch.error is not None:
            record["error"] = clone(patch.error)
        if patch.has_run is not None:
            record["has_run"] = patch.has_run
        now = utcnow()
        record["updated_at"] = now
        if patch.touch_state:
            record["state_updated_at"] = now
        self._by_status.move(thread["status"], record["status"], thread_id)
        self._threads[thread_id] = record
        return clone(record)

    async def delete(self, thread_id: str, *, owner: str | None) -> None:
        """Delete the thread and its runs (not its checkpoints). Raises NotFound."""
        thread = self._visible_or_404(thread_id, owner)
        del self._threads[thread_id]
        self._by_owner.discard(thread["owner"], thread_id)
        self._by_status.discard(thread["status"], thread_id)
        self._runs.delete_for_thread(thread_id)

    def _candidates(self, filters: ThreadFilter, owner: str | None) -> Iterable[Thread]:
        if filters.ids is not None:
            found = (self._threads.get(tid) for tid in dict.fromkeys(filters.ids))
            return (t for t in found if t is not None and (owner is None or t["owner"] == owner))
        mine = None if owner is None else self._by_owner.get(owner)
        if filters.status is not None:
            with_status = self._by_status.get(filters.status)
            if mine is None or len(with_status) <= len(mine):
                return (
                    self._threads[tid]
                    for tid in with_status
                    if owner is None or self._threads[tid]["owner"] == owner
                )
        if mine is None:
            return self._threads.values()
        return (self._threads[tid] for tid in mine)

    def _matching(self, filters: ThreadFilter, owner: str | None) -> Iterable[Thread]:
        for thread in self._candidates(filters, owner):
            if filters.status is not None and thread["status"] != filters.status:
                continue
            if filters.metadata is not None and not json_contains(thread["metadata"], filters.metadata):
                continue
            yield thread

    async def search(self, filters: ThreadFilter, page: Page, *, owner: str | None) -> SearchResult[Thread]:
        """Threads visible to `owner` that match, ordered and paged.

        `ids` is an exact set (an empty one matches nothing), `status` exact, `metadata`
        containment.

        Raises:
            InvalidInput: unknown `sort_by`.
        """
        return sort_and_page(
            self._matching(filters, owner), page, sortable=THREAD_SORT_FIELDS, id_field="thread_id"
        )

    async def count(self, filters: ThreadFilter, *, owner: str | None) -> int:
        """How many visible threads match."""
        return sum(1 for _ in self._matching(filters, owner))
