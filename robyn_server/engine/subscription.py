"""Stream events, per-run/per-thread event logs and subscriptions: the broker's building blocks.

`RunBroker` (in `broker.py`) owns the logs and hands out subscriptions; the rules both
follow are written down in `broker.py`'s module docstring.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from robyn_server.sse import START, StreamId, encode_event

__all__ = ["MESSAGE_MODES", "THREAD_MODES", "EventLog", "StreamEvent", "Subscription", "event_mode"]

MESSAGE_MODES = frozenset({"messages", "messages-tuple"})
THREAD_MODES = {"metadata": "lifecycle", "state_update": "state_update"}


def event_mode(event: str) -> str:
    """The stream mode an event name belongs to (rule 5)."""
    base = event.partition("|")[0]
    if base == "messages":
        return "messages-tuple"
    if base.startswith("messages/"):
        return "messages"
    return base


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One published event: its id, wire name, compact JSON payload and mode."""

    id: str
    stream_id: StreamId
    event: str
    data: bytes
    mode: str

    def encode(self, *, with_id: bool) -> bytes:
        """The SSE frame for this event, with its `id:` line only if `with_id`."""
        return encode_event(self.event, self.data, event_id=self.id if with_id else None)


class EventLog:
    """The events of one run or thread, and the subscribers following it."""

    __slots__ = ("events", "finished", "last_id", "last_publish", "subscribers", "timer")

    def __init__(self, max_events: int) -> None:
        self.events: deque[StreamEvent] = deque(maxlen=max_events)
        self.subscribers: set[Subscription] = set()
        self.finished = False
        self.last_id = START
        self.last_publish = 0.0  # loop time, for thread retention
        self.timer: asyncio.TimerHandle | None = None

    def next_id(self, now_ms: int) -> StreamId:
        last = self.last_id
        self.last_id = StreamId(last.ms, last.seq + 1) if now_ms <= last.ms else StreamId(now_ms, 0)
        return self.last_id

    def append(self, event: StreamEvent) -> None:
        self.events.append(event)
        for sub in tuple(self.subscribers):
            sub._offer(event)

    def finish(self) -> None:
        self.finished = True
        for sub in tuple(self.subscribers):
            sub._wake.set()

    def cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class Subscription:
    """One subscriber's cursor: its own queue, filled by the broker (see the module rules).

    Iterate it (`async for event in sub`) or call `next_batch`. Always `close()` it (or use it
    as a context manager) when the client goes away; ending by itself also unregisters it.
    """

    def __init__(
        self,
        log: EventLog,
        *,
        modes: Collection[str] | None,
        max_queue: int,
        on_close: Callable[[EventLog], None] | None = None,
    ) -> None:
        self._log = log
        self._modes = frozenset(modes) if modes is not None else None
        self._max_queue = max_queue
        self._on_close = on_close
        self._queue: deque[StreamEvent] = deque()
        self._wake = asyncio.Event()
        self._closed = False
        self._cut = False

    def accepts(self, event: StreamEvent) -> bool:
        """Whether this subscriber's mode filter lets `event` through."""
        return self._modes is None or event.mode in self._modes

    @property
    def ended(self) -> bool:
        """True once nothing more will come: closed, or the source ended and the queue is empty."""
        return self._closed or (not self._queue and (self._log.finished or self._cut))

    async def next_batch(self, timeout: float | None = None) -> list[StreamEvent] | None:
        """Wait for events and return all that are queued now.

        Args:
            timeout: the longest wait in seconds for the first event; None waits indefinitely.

        Returns:
            The queued events (at least one), `[]` if `timeout` passed first, None once ended.
        """
        if not self._queue:
            if self.ended:
                self.close()
                return None
            if timeout is not None and timeout <= 0:
                return []
            self._wake.clear()
            try:
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
            except TimeoutError:
                return []
            if not self._queue:
                if self.ended:
                    self.close()
                    return None
                return []
        batch = list(self._queue)
        self._queue.clear()
        return batch

    def close(self) -> None:
        """Stop receiving and unregister; a waiting `next_batch` returns None. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._queue.clear()
        self._wake.set()
        self._log.subscribers.discard(self)
        if self._on_close is not None:
            self._on_close(self._log)

    def _offer(self, event: StreamEvent) -> None:
        if not self.accepts(event):
            return
        if len(self._queue) >= self._max_queue:
            self._cut = True
            self._log.subscribers.discard(self)
        else:
            self._queue.append(event)
        self._wake.set()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> StreamEvent:
        if not self._queue:
            batch = await self.next_batch()
            while batch == []:  # pragma: no cover - only after a spurious wake
                batch = await self.next_batch()
            if batch is None:
                raise StopAsyncIteration
            self._queue.extend(batch)
        return self._queue.popleft()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
