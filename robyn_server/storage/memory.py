"""`InMemoryStorage`: the whole storage contract in process memory.

For development and tests: data lives in dicts of one process and is lost at exit, so
`multi_process_safe` is False. Every method runs on one event loop without awaiting
mid-mutation, which makes each one atomic without locks. Records are copied on the way
in and out (see `memory_records.clone`), so callers never alias stored state.
"""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.base import BaseStore, TTLConfig

from robyn_server.storage.base import (
    AssistantRepository,
    CronRepository,
    RunRepository,
    ThreadRepository,
)
from robyn_server.storage.memory_assistants import InMemoryAssistantRepository
from robyn_server.storage.memory_crons import InMemoryCronRepository
from robyn_server.storage.memory_runs import InMemoryRunRepository
from robyn_server.storage.memory_store import TTLInMemoryStore
from robyn_server.storage.memory_threads import InMemoryThreadRepository

# Reads never return an expired item (expiry is checked on every store call); the sweep
# only frees memory nobody reads.
STORE_TTL: TTLConfig = {"refresh_on_read": True, "sweep_interval_minutes": 1}


class InMemoryStorage:
    """Assistants, threads, runs and crons in dicts, plus LangGraph's in-memory saver and store."""

    def __init__(self) -> None:
        # The public attributes carry the protocol types (the `Storage` protocol declares
        # them as plain, hence invariant, attributes); the concrete ones serve `stats`.
        self._assistants = InMemoryAssistantRepository()
        self._runs = InMemoryRunRepository()
        self._threads = InMemoryThreadRepository(self._runs)
        self._crons = InMemoryCronRepository()
        self.assistants: AssistantRepository = self._assistants
        self.threads: ThreadRepository = self._threads
        self.runs: RunRepository = self._runs
        self.crons: CronRepository = self._crons
        self.checkpointer: BaseCheckpointSaver[Any] = InMemorySaver()
        self._store = TTLInMemoryStore(ttl=STORE_TTL)
        self.store: BaseStore = self._store

    @property
    def multi_process_safe(self) -> bool:
        """Always False: the data lives in this process only."""
        return False

    async def setup(self) -> None:
        """Start the store's TTL sweeper."""
        await self._store.start_ttl_sweeper()

    async def aclose(self) -> None:
        """Stop the store's TTL sweeper."""
        await self._store.stop_ttl_sweeper()

    async def stats(self) -> dict[str, int]:
        """Record counts for metrics: assistants, threads, runs, crons."""
        return {
            "assistants": len(self._assistants),
            "threads": len(self._threads),
            "runs": len(self._runs),
            "crons": len(self._crons),
        }
