"""In-flight request tracking and graceful drain on shutdown.

Robyn hangs on SIGTERM unless it is turned into KeyboardInterrupt; then its shutdown
handler runs while the loop still serves in-flight work, so we wait there until the
counter reaches zero (bounded by the drain timeout).
"""

from __future__ import annotations

import asyncio
import signal
import time
from types import FrameType


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


def install_sigterm_as_interrupt() -> None:
    """Make SIGTERM behave like Ctrl-C, the only signal Robyn 0.88 shuts down cleanly on."""

    def _raise(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _raise)
