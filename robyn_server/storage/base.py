"""The storage contract: record types and the async protocol every backend implements.

Ownership lives here, not in routes. Every method that touches user data takes a
required keyword `owner`:

- a user id: the caller sees only records whose internal `owner` equals it (plus,
  for assistants, read-only access to system assistants);
- `None`: the service identity, which sees and may change everything.

Another user's record is simply not found (`NotFound`), so existence never leaks.
The internal `owner` field is the truth; `metadata["owner"]` is a copy kept for wire
compatibility and re-stamped on every write, so a client cannot move a record to
someone else by patching metadata.

Backends copy data on the way in and out: callers never alias stored state.
LangGraph's own persistence (checkpoints, the long-term store) is not re-invented
here; a backend hands out a checkpointer and a `BaseStore` that fit it.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Literal, Protocol, TypedDict, TypeVar

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.store.base import BaseStore

SYSTEM_CREATOR = "system"

T = TypeVar("T")

ThreadStatus = Literal["idle", "busy", "interrupted", "error"]
RunStatus = Literal["pending", "running", "success", "error", "interrupted", "timeout"]
SortOrder = Literal["asc", "desc"]


class Assistant(TypedDict):
    """The latest version of an assistant, as stored."""

    assistant_id: str
    graph_id: str
    config: dict[str, Any]
    context: dict[str, Any]
    metadata: dict[str, Any]
    name: str
    created_at: datetime
    updated_at: datetime
    version: int
    description: str | None
    owner: str | None


class AssistantVersion(TypedDict):
    """One immutable version of an assistant."""

    assistant_id: str
    version: int
    graph_id: str
    config: dict[str, Any]
    context: dict[str, Any]
    metadata: dict[str, Any]
    created_at: datetime
    name: str
    description: str | None


class Thread(TypedDict):
    """A thread record. `values` and `interrupts` are not stored: they come from the checkpointer.

    `status` and `error` record the outcome of the thread's runs (busy while one is
    active, error after a failed run); the engine keeps them current.
    """

    thread_id: str
    created_at: datetime
    updated_at: datetime
    state_updated_at: datetime
    metadata: dict[str, Any]
    config: dict[str, Any]
    status: ThreadStatus
    error: dict[str, Any] | None
    ttl: dict[str, Any] | None
    has_run: bool
    owner: str | None


class Run(TypedDict):
    """A run record."""

    run_id: str
    thread_id: str
    assistant_id: str
    metadata: dict[str, Any]
    status: RunStatus
    kwargs: dict[str, Any]
    multitask_strategy: str
    created_at: datetime
    updated_at: datetime
    owner: str | None


class Cron(TypedDict):
    """A cron record."""

    cron_id: str
    assistant_id: str
    thread_id: str | None
    user_id: str | None
    end_time: datetime | None
    schedule: str
    timezone: str | None
    payload: dict[str, Any]
    next_run_date: datetime | None
    metadata: dict[str, Any]
    on_run_completed: str | None
    enabled: bool
    created_at: datetime
    updated_at: datetime
    owner: str | None


@dataclass(frozen=True)
class Page:
    """Pagination and ordering for searches. `limit=None` means no limit."""

    limit: int | None = 10
    offset: int = 0
    sort_by: str | None = None
    sort_order: SortOrder = "desc"


@dataclass(frozen=True)
class SearchResult(Generic[T]):
    """One page of records plus the number of records that matched in all."""

    items: list[T]
    total: int


@dataclass(frozen=True)
class AssistantFilter:
    """Search filters for assistants; `metadata` is JSON containment."""

    metadata: dict[str, Any] | None = None
    graph_id: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class ThreadFilter:
    """Search filters for threads; `metadata` is JSON containment."""

    ids: Sequence[str] | None = None
    metadata: dict[str, Any] | None = None
    status: ThreadStatus | None = None


@dataclass(frozen=True)
class CronFilter:
    """Search filters for crons."""

    assistant_id: str | None = None
    thread_id: str | None = None
    enabled: bool | None = None
    metadata: dict[str, Any] | None = None


@dataclass
class AssistantPatch:
    """Fields a PATCH may change; `None` means unchanged (metadata is merged)."""

    graph_id: str | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    name: str | None = None
    description: str | None = None


@dataclass
class ThreadPatch:
    """Fields a thread update may change; `metadata` is merged, the rest replaced.

    `status`/`error` are set by the engine only; routes never send them.
    """

    metadata: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    ttl: dict[str, Any] | None = None
    status: ThreadStatus | None = None
    error: dict[str, Any] | None = field(default=None)
    clear_error: bool = False
    has_run: bool | None = None
    touch_state: bool = False


class AssistantRepository(Protocol):
    """Assistants and their versions."""

    async def create(self, assistant: Assistant, *, owner: str | None, if_exists: str = "raise") -> Assistant:
        """Store version 1 of a new assistant.

        Args:
            assistant: the full record (ids, timestamps and `owner` already set).
            owner: the caller.
            if_exists: `raise` (Conflict) or `do_nothing` (return the visible existing one).

        Raises:
            Conflict: the id exists (whoever owns it) and `if_exists` is `raise`.
        """
        ...

    async def get(self, assistant_id: str, *, owner: str | None) -> Assistant:
        """Return the latest version visible to `owner`. Raises NotFound."""
        ...

    async def patch(self, assistant_id: str, patch: AssistantPatch, *, owner: str | None) -> Assistant:
        """Create a new version from the latest one and make it latest. Raises NotFound."""
        ...

    async def delete(self, assistant_id: str, *, owner: str | None) -> None:
        """Delete every version. System assistants are not deletable by users. Raises NotFound."""
        ...

    async def search(
        self, filters: AssistantFilter, page: Page, *, owner: str | None
    ) -> SearchResult[Assistant]:
        """Assistants visible to `owner` that match, ordered and paged."""
        ...

    async def count(self, filters: AssistantFilter, *, owner: str | None) -> int:
        """How many visible assistants match."""
        ...

    async def versions(
        self,
        assistant_id: str,
        *,
        metadata: dict[str, Any] | None,
        limit: int,
        offset: int,
        owner: str | None,
    ) -> list[AssistantVersion]:
        """Versions newest first. Raises NotFound."""
        ...

    async def set_latest(self, assistant_id: str, version: int, *, owner: str | None) -> Assistant:
        """Make an earlier version the latest. Raises NotFound (also for an unknown version)."""
        ...


class ThreadRepository(Protocol):
    """Thread records (not their state: that is the checkpointer's)."""

    async def create(self, thread: Thread, *, owner: str | None, if_exists: str = "raise") -> Thread:
        """Store a new thread. Raises Conflict when the id exists and `if_exists` is `raise`."""
        ...

    async def get(self, thread_id: str, *, owner: str | None) -> Thread:
        """Return the thread. Raises NotFound."""
        ...

    async def update(self, thread_id: str, patch: ThreadPatch, *, owner: str | None) -> Thread:
        """Apply a patch (metadata merged). Raises NotFound."""
        ...

    async def delete(self, thread_id: str, *, owner: str | None) -> None:
        """Delete the thread and its runs. Raises NotFound."""
        ...

    async def search(self, filters: ThreadFilter, page: Page, *, owner: str | None) -> SearchResult[Thread]:
        """Threads visible to `owner` that match, ordered and paged."""
        ...

    async def count(self, filters: ThreadFilter, *, owner: str | None) -> int:
        """How many visible threads match."""
        ...


class RunRepository(Protocol):
    """Run records, always reached through their thread."""

    async def create(self, run: Run, *, owner: str | None) -> Run:
        """Store a new run."""
        ...

    async def get(self, thread_id: str, run_id: str, *, owner: str | None) -> Run:
        """Return the run. Raises NotFound."""
        ...

    async def list(
        self, thread_id: str, *, limit: int, offset: int, status: str | None, owner: str | None
    ) -> builtins.list[Run]:
        """The thread's runs, newest first."""
        ...

    async def set_status(self, run_id: str, status: RunStatus) -> Run | None:
        """Engine-only: move a run to a new status. Returns None if it was deleted meanwhile."""
        ...

    async def delete(self, thread_id: str, run_id: str, *, owner: str | None) -> None:
        """Delete the run. Raises NotFound."""
        ...

    async def active_for_thread(self, thread_id: str) -> builtins.list[Run]:
        """Engine-only: the thread's pending and running runs, oldest first."""
        ...

    async def by_status(self, statuses: Sequence[str], *, owner: str | None) -> builtins.list[Run]:
        """Runs with one of these statuses visible to `owner`, oldest first."""
        ...


class CronRepository(Protocol):
    """Cron records."""

    async def create(self, cron: Cron, *, owner: str | None) -> Cron:
        """Store a new cron."""
        ...

    async def get(self, cron_id: str, *, owner: str | None) -> Cron:
        """Return the cron. Raises NotFound."""
        ...

    async def update(self, cron_id: str, changes: dict[str, Any], *, owner: str | None) -> Cron:
        """Replace the given fields. Raises NotFound."""
        ...

    async def delete(self, cron_id: str, *, owner: str | None) -> None:
        """Delete the cron. Raises NotFound."""
        ...

    async def search(self, filters: CronFilter, page: Page, *, owner: str | None) -> SearchResult[Cron]:
        """Crons visible to `owner` that match, ordered and paged."""
        ...

    async def count(self, filters: CronFilter, *, owner: str | None) -> int:
        """How many visible crons match."""
        ...

    async def due(self, now: datetime) -> list[Cron]:
        """Scheduler-only: enabled crons whose `next_run_date` is at or before `now`."""
        ...

    async def next_due_time(self) -> datetime | None:
        """Scheduler-only: the earliest `next_run_date` of an enabled cron."""
        ...


class Storage(Protocol):
    """Everything the server persists, chosen once in `app.py`."""

    assistants: AssistantRepository
    threads: ThreadRepository
    runs: RunRepository
    crons: CronRepository
    checkpointer: BaseCheckpointSaver
    store: BaseStore

    @property
    def multi_process_safe(self) -> bool:
        """Whether several server processes may share this backend."""
        ...

    async def setup(self) -> None:
        """Create schemas/connections. Called once at start-up."""
        ...

    async def aclose(self) -> None:
        """Release connections. Called once at shutdown."""
        ...

    async def stats(self) -> dict[str, int]:
        """Record counts for metrics: assistants, threads, runs, crons."""
        ...
