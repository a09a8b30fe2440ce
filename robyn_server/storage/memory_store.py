"""`TTLInMemoryStore`: LangGraph's `InMemoryStore` with item TTLs, which it lacks.

LangGraph's in-memory store declares `supports_ttl = False` and raises on `put(ttl=...)`.
This subclass keeps every read, write and search of the original (it is still the one
`BaseStore` graphs and the HTTP API share) and adds the TTL contract of the database
stores:

- `put(..., ttl=minutes)` gives an item a deadline; a put without a ttl (or a delete)
  removes it;
- a get or search with `refresh_ttl` (default: `TTLConfig.refresh_on_read`, else True)
  restarts the returned items' TTL;
- expired items are removed before every batch, so no read ever returns one, and a
  background sweeper (`start_ttl_sweeper`) frees them when nobody reads.

It also drops namespaces that become empty: the original keeps an empty namespace after a
delete, an expiry or even a *get* of a missing key, and `list_namespaces` shows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from langgraph.store.base import GetOp, IndexConfig, Item, Op, PutOp, Result, SearchOp, TTLConfig
from langgraph.store.memory import InMemoryStore

logger = logging.getLogger(__name__)

Namespace = tuple[str, ...]
ItemId = tuple[Namespace, str]


class TTLInMemoryStore(InMemoryStore):
    """`InMemoryStore` plus per-item TTLs and a background sweeper.

    Args:
        index: the semantic-search config, passed through to `InMemoryStore`.
        ttl: `refresh_on_read`, `default_ttl` (minutes) and `sweep_interval_minutes`.
        clock: monotonic seconds; injectable for tests.
    """

    supports_ttl = True

    def __init__(
        self,
        *,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(index=index)
        self.ttl_config = ttl
        self._clock = clock
        # (namespace, key) -> (deadline in clock seconds, ttl in minutes)
        self._deadlines: dict[ItemId, tuple[float, float]] = {}
        # (deadline, namespace, key); entries whose deadline no longer matches are stale
        self._expiry_heap: list[tuple[float, Namespace, str]] = []
        self._sweeper: asyncio.Task[None] | None = None

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run the operations on unexpired items, then record TTL changes."""
        ops = list(ops)
        self.sweep()
        results = super().batch(ops)
        self._track(ops, results)
        return results

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Async twin of `batch` (the in-memory work never blocks)."""
        ops = list(ops)
        self.sweep()
        results = await super().abatch(ops)
        self._track(ops, results)
        return results

    def sweep(self) -> int:
        """Delete every expired item now. Returns how many were deleted."""
        now = self._clock()
        removed = 0
        while self._expiry_heap and self._expiry_heap[0][0] <= now:
            deadline, namespace, key = heapq.heappop(self._expiry_heap)
            current = self._deadlines.get((namespace, key))
            if current is None or current[0] != deadline:
                continue  # refreshed or removed since this entry was pushed
            del self._deadlines[(namespace, key)]
            self._data.get(namespace, {}).pop(key, None)
            self._vectors.get(namespace, {}).pop(key, None)
            self._drop_if_empty(namespace)
            removed += 1
        return removed

    async def start_ttl_sweeper(self) -> None:
        """Start sweeping every `sweep_interval_minutes` (no-op without one, or if running)."""
        interval = (self.ttl_config or {}).get("sweep_interval_minutes")
        if not interval or self._sweeper is not None:
            return
        self._sweeper = asyncio.create_task(self._sweep_forever(interval * 60), name="store-ttl-sweeper")

    async def stop_ttl_sweeper(self) -> None:
        """Stop the sweeper and wait for it to end."""
        task, self._sweeper = self._sweeper, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _sweep_forever(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                self.sweep()
            except Exception:
                logger.exception("store TTL sweep failed")

    def _track(self, ops: list[Op], results: list[Result]) -> None:
        now = self._clock()
        for op, result in zip(ops, results, strict=True):
            if isinstance(op, PutOp):
                ident = (op.namespace, op.key)
                if op.value is not None and op.ttl is not None:
                    self._set_deadline(ident, op.ttl, now)
                else:
                    self._deadlines.pop(ident, None)
                if op.value is None:
                    self._drop_if_empty(op.namespace)
            elif isinstance(op, GetOp):
                if result is None:
                    self._drop_if_empty(op.namespace)
                elif op.refresh_ttl:
                    self._refresh((op.namespace, op.key), now)
            elif isinstance(op, SearchOp) and op.refresh_ttl and isinstance(result, list):
                for item in result:
                    if isinstance(item, Item):
                        self._refresh((item.namespace, item.key), now)

    def _set_deadline(self, ident: ItemId, minutes: float, now: float) -> None:
        deadline = now + minutes * 60
        self._deadlines[ident] = (deadline, minutes)
        heapq.heappush(self._expiry_heap, (deadline, ident[0], ident[1]))

    def _refresh(self, ident: ItemId, now: float) -> None:
        current = self._deadlines.get(ident)
        if current is not None:
            self._set_deadline(ident, current[1], now)

    def _drop_if_empty(self, namespace: Namespace) -> None:
        # `_data` is a defaultdict: look before touching, or the check itself recreates it.
        if namespace in self._data and not self._data[namespace]:
            del self._data[namespace]
            self._vectors.pop(namespace, None)

    def stats(self) -> dict[str, Any]:
        """Namespaces, items and items with a TTL (for tests and metrics)."""
        return {
            "namespaces": len(self._data),
            "items": sum(len(items) for items in self._data.values()),
            "items_with_ttl": len(self._deadlines),
        }
