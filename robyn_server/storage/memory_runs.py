"""In-memory runs, indexed by thread and by status."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence

from robyn_server.errors import Conflict, NotFound
from robyn_server.storage.base import Run, RunStatus
from robyn_server.storage.memory_records import MultiIndex, clone, owned_metadata, utcnow

ACTIVE_RUN_STATUSES: tuple[RunStatus, ...] = ("pending", "running")


def _age(run: Run) -> tuple[object, str]:
    return (run["created_at"], run["run_id"])


class InMemoryRunRepository:
    """Runs keyed by id, with thread and status indexes so no lookup scans every run.

    The class defines a `list` method, so its annotations spell the builtin `builtins.list`.
    """

    def __init__(self) -> None:
        self._runs: dict[str, Run] = {}
        # thread_id -> run ids
        self._by_thread = MultiIndex()
        # status -> run ids
        self._by_status = MultiIndex()

    def __len__(self) -> int:
        return len(self._runs)

    def _thread_runs(self, thread_id: str) -> Iterable[Run]:
        return (self._runs[i] for i in self._by_thread.get(thread_id))

    def _forget(self, run: Run) -> None:
        del self._runs[run["run_id"]]
        self._by_thread.discard(run["thread_id"], run["run_id"])
        self._by_status.discard(run["status"], run["run_id"])

    async def create(self, run: Run, *, owner: str | None) -> Run:
        """Store a new run.

        The thread is not checked: the engine creates runs only on threads it has
        resolved (including temporary ones for stateless runs). A user always creates
        a run they own; the service keeps the record's `owner`.

        Raises:
            Conflict: the run id exists already.
        """
        if run["run_id"] in self._runs:
            raise Conflict(f"Run {run['run_id']} already exists")
        record: Run = clone(run)
        if owner is not None:
            record["owner"] = owner
        record["metadata"] = owned_metadata(record["metadata"], record["owner"])
        self._runs[record["run_id"]] = record
        self._by_thread.add(record["thread_id"], record["run_id"])
        self._by_status.add(record["status"], record["run_id"])
        return clone(record)

    async def get(self, thread_id: str, run_id: str, *, owner: str | None) -> Run:
        """Return the run if it belongs to `thread_id` and is visible. Raises NotFound."""
        run = self._runs.get(run_id)
        if run is None or run["thread_id"] != thread_id or (owner is not None and run["owner"] != owner):
            raise NotFound()
        return clone(run)

    async def set_status(self, run_id: str, status: RunStatus) -> Run | None:
        """Engine-only: move a run to `status` and bump `updated_at`. None if the run is gone."""
        run = self._runs.get(run_id)
        if run is None:
            return None
        self._by_status.move(run["status"], status, run_id)
        run["status"] = status
        run["updated_at"] = utcnow()
        return clone(run)

    async def delete(self, thread_id: str, run_id: str, *, owner: str | None) -> None:
        """Delete the run. Raises NotFound (`Run not found`)."""
        run = self._runs.get(run_id)
        if run is None or run["thread_id"] != thread_id or (owner is not None and run["owner"] != owner):
            raise NotFound("Run not found")
        self._forget(run)

    def delete_for_thread(self, thread_id: str) -> int:
        """Backend-internal: drop every run of a deleted thread. Returns how many went."""
        runs = list(self._thread_runs(thread_id))
        for run in runs:
            self._forget(run)
        return len(runs)

    async def active_for_thread(self, thread_id: str) -> builtins.list[Run]:
        """Engine-only: the thread's pending and running runs, oldest first."""
        active = [r for r in self._thread_runs(thread_id) if r["status"] in ACTIVE_RUN_STATUSES]
        return [clone(r) for r in sorted(active, key=_age)]

    async def by_status(self, statuses: Sequence[str], *, owner: str | None) -> builtins.list[Run]:
        """Runs with one of these statuses visible to `owner`, oldest first."""
        found = [
            self._runs[run_id]
            for status in set(statuses)
            for run_id in self._by_status.get(status)
            if owner is None or self._runs[run_id]["owner"] == owner
        ]
        return [clone(r) for r in sorted(found, key=_age)]

    async def list(
        self, thread_id: str, *, limit: int, offset: int, status: str | None, owner: str | None
    ) -> builtins.list[Run]:
        """The thread's runs visible to `owner`, newest first (created_at, then run_id)."""
        runs = [
            r
            for r in self._thread_runs(thread_id)
            if (owner is None or r["owner"] == owner) and (status is None or r["status"] == status)
        ]
        runs.sort(key=_age, reverse=True)
        return [clone(r) for r in runs[offset : offset + limit]]
