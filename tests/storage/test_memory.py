"""The storage conformance suite on `InMemoryStorage`, plus what is specific to it."""

from __future__ import annotations

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore

from robyn_server.storage.base import Storage
from robyn_server.storage.memory import InMemoryStorage

from .conformance import StorageConformance


class TestInMemoryStorage(StorageConformance):
    """Every conformance test, run on a fresh `InMemoryStorage`."""

    async def make_storage(self) -> Storage:
        return InMemoryStorage()


async def test_memory_backend_is_single_process_with_langgraph_memory_persistence() -> None:
    storage = InMemoryStorage()
    assert storage.multi_process_safe is False
    assert isinstance(storage.checkpointer, InMemorySaver)
    assert isinstance(storage.store, InMemoryStore)
