"""In-flight request tracking and graceful drain on shutdown.

Robyn hangs on SIGTERM unless it is turned into KeyboardInterrupt; then its shutdown
handler runs while the loop still serves in-flight work, so we wait there until the
counter reaches zero (bounded by the drain timeout).
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable, Coroutine
from types import FrameType
from typing import Any


class InFlight:
    """Counts requests (and open streams) still being answered."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def count(self) -> int:
        """How many are in flight now."""
        return self._count

    def enter(self) -> None:
        """A request or stream started."""
        self._count += 1
        self._idle.clear()

    def leave(self) -> None:
        """A request or stream finished."""
        self._count = max(0, self._count - 1)
        if self._count == 0:
            self._idle.set()

    async def drained(self, timeout: float) -> bool:
        """Wait until nothing is in flight. Returns False on timeout."""
        deadline = time.monotonic() + timeout
        while self._count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._idle.clear() if self._count else None
            try:
                await asyncio.wait_for(self._idle.wait(), timeout=min(remaining, 0.25))
            except TimeoutError:
                continue
        return True


class StreamTracker:
    """Counts open streams (for metrics) and registers them as in-flight work (for drain)."""

    def __init__(self, in_flight: InFlight) -> None:
        self._in_flight = in_flight
        self.open = 0
        self.listeners: list[Callable[[int], None]] = []

    def enter(self) -> None:
        """A stream started."""
        self.open += 1
        self._in_flight.enter()
        for listener in self.listeners:
            listener(self.open)

    def leave(self) -> None:
        """A stream ended (or was abandoned)."""
        self.open -= 1
        self._in_flight.leave()
        for listener in self.listeners:
            listener(self.open)


def install_sigterm_as_interrupt() -> None:
    """Make SIGTERM behave like Ctrl-C, the only signal Robyn 0.88 shuts down cleanly on."""

    def _raise(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _raise)


class BackgroundTasks:
    """The server's long-lived background tasks, held by strong references and stopped together."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, coro: Coroutine[Any, Any, None], *, name: str) -> None:
        """Run a coroutine until `stop()`."""
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        """Cancel every task and wait for them to end."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2.0)
