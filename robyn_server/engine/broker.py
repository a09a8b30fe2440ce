"""RunBroker: fans run events and thread events out to SSE subscribers. Pure asyncio, no polling.

Rules (style.md habit 8; each is tested in `tests/engine/test_broker.py`):

1. **Ids.** Every published event gets a Redis-stream-style id `<epoch-ms>-<seq>`: `ms` is the
   wall clock at publish, never going back within a log; `seq` counts from 0 within one ms (as
   Redis does, so ids usually end in `-0`, like the reference's). Ids strictly increase per log.
2. **Fan-out.** Every subscriber has its own queue and gets every event that passes its filter,
   in publish order. A slow subscriber never takes events from another.
3. **Subscribing is synchronous.** `subscribe()` registers the subscriber and copies the replay
   into its queue in one step, with no await in between; so replay runs into live events with no
   gap and no duplicate. Subscribe before starting a producer to see all of its events.
4. **Resume.** `last_event_id=None` follows the live tail only. `"0"`, `"-1"`, `"-"` (`START`)
   replay everything retained. Any other id replays the retained events with a larger id: a
   well-formed id that is not in the log replays from the first event after it; an id older than
   the retained window replays the whole window (that gap is bounded by `max_events`). A malformed
   id raises `InvalidInput` (422).
5. **Modes.** An event's mode is its name up to the first `|` (the subgraph namespace), except
   that `messages` is the `messages-tuple` mode and `messages/<kind>` is the legacy `messages`
   mode; publishers may set the mode explicitly (the thread channel uses `lifecycle`,
   `run_modes`, `state_update`). A `modes` filter keeps only events whose mode it names, as the
   reference's run join does (`?stream_mode=custom` replays no `metadata` and no `error`);
   naming either message mode keeps both. On a thread, `run_modes` keeps everything but
   `state_update` (the `lifecycle` events included). `modes=None` keeps everything.
6. **End.** `finish(run_id)`: subscribers drain their queue, then end. A run the broker does not
   know (never opened, or finished and released) gives a subscription that ends at once. Thread
   logs never finish on their own; `close()` ends every subscription at shutdown.
7. **Retention.** A resumable run keeps its newest `max_events` events until `retention_seconds`
   after `finish` (or until `release`). A non-resumable run keeps none (subscribers still get ids)
   and is forgotten at `finish`. A thread's log exists only while the thread is followed: the
   first `subscribe_thread` opens it, events published while nobody follows (and never has,
   within the window) are not kept, and an open log keeps its newest `thread_max_events` events
   until it has had no subscriber and no publish for `thread_retention_seconds`. So a client
   can reconnect with `Last-Event-ID` within the window, but a thread nobody watches costs
   nothing.
8. **Slow subscribers.** A subscriber whose queue reaches `max_queue` events stops receiving: it
   delivers what it holds, then ends; the client resumes with `Last-Event-ID`.

Consuming a subscription: `async for event in sub` for plain use, or `await sub.next_batch(t)`
for the SSE route: it returns every event queued now (coalesced writes), `[]` when `t` seconds
pass with nothing new (time to write a heartbeat), and `None` at the end. `sse.event_stream`
wraps this into body chunks with heartbeats every 5 s from connection start, and closes the
subscription when the body ends or is abandoned.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection
from typing import Any

from robyn_server.engine.subscription import (
    MESSAGE_MODES,
    THREAD_MODES,
    EventLog,
    StreamEvent,
    Subscription,
    event_mode,
)
from robyn_server.sse import StreamId, dumps, parse_last_event_id

__all__ = ["RunBroker", "StreamEvent", "Subscription", "event_mode"]


class RunBroker:
    """Run channels (one per run) and thread channels (one per thread); see the module rules.

    Args:
        retention_seconds: how long a finished resumable run's log stays joinable.
        max_events: newest events kept per resumable run log.
        thread_max_events: newest events kept per thread log.
        thread_retention_seconds: idle time (no publish, no subscriber) before a thread log goes.
        max_queue: events a subscriber may hold unread before it is cut off (rule 8).
        clock: wall clock in seconds, for event ids; injectable for tests.
    """

    def __init__(
        self,
        *,
        retention_seconds: float = 300.0,
        max_events: int = 10_000,
        thread_max_events: int = 1_000,
        thread_retention_seconds: float = 300.0,
        max_queue: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.retention_seconds = retention_seconds
        self.max_events = max_events
        self.thread_max_events = thread_max_events
        self.thread_retention_seconds = thread_retention_seconds
        self.max_queue = max_queue
        self._clock = clock
        self._runs: dict[str, EventLog] = {}  # run_id -> log; open, or finished within retention
        self._threads: dict[str, EventLog] = {}  # thread_id -> log; dropped after idle retention

    # -- run channel ---------------------------------------------------------------------------

    def open_run(self, run_id: str, *, resumable: bool) -> None:
        """Create the log of a run; call it when the run is created, before anyone subscribes.

        Idempotent while the run is open; reopening a finished run starts a fresh log.

        Args:
            run_id: the run.
            resumable: keep events for replay (`stream_resumable: true`).
        """
        log = self._runs.get(str(run_id))
        if log is not None and not log.finished:
            return
        if log is not None:
            log.cancel_timer()
        self._runs[str(run_id)] = EventLog(self.max_events if resumable else 0)

    def publish(self, run_id: str, event: str, data: Any, *, mode: str | None = None) -> StreamEvent:
        """Append an event to a run's log and hand it to every subscriber.

        Args:
            run_id: an open run.
            event: the wire event name.
            data: the payload; `bytes` are pre-serialized JSON, anything else goes through `dumps`.
            mode: the event's mode for filters; derived from `event` by default (rule 5).

        Returns:
            The stored event, with its id.

        Raises:
            KeyError: the run was never opened or is already released.
            RuntimeError: the run is finished.
        """
        log = self._runs.get(str(run_id))
        if log is None:
            raise KeyError(f"run {run_id} has no open stream")
        if log.finished:
            raise RuntimeError(f"run {run_id} stream is finished")
        return self._append(log, event, data, mode)

    def finish(self, run_id: str) -> None:
        """Mark a run's log complete: subscribers drain and end; retention starts. Idempotent."""
        log = self._runs.get(str(run_id))
        if log is None or log.finished:
            return
        log.finish()
        if log.events.maxlen:
            self.release_after(run_id, self.retention_seconds)
        else:
            self._drop_run(str(run_id), log)

    def release_after(self, run_id: str, seconds: float) -> None:
        """(Re)schedule dropping a run's log `seconds` from now."""
        log = self._runs.get(str(run_id))
        if log is None:
            return
        log.cancel_timer()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._drop_run(str(run_id), log)
            return
        log.timer = loop.call_later(seconds, self._drop_run, str(run_id), log)

    def release(self, run_id: str) -> None:
        """Drop a run's log now (a deleted run); its subscribers drain and end."""
        log = self._runs.get(str(run_id))
        if log is not None:
            self._drop_run(str(run_id), log)

    def subscribe(
        self,
        run_id: str,
        *,
        last_event_id: str | StreamId | None = None,
        modes: Collection[str] | None = None,
    ) -> Subscription:
        """Follow a run's events (rules 3 to 6); registered before this returns.

        Args:
            run_id: the run.
            last_event_id: None for the live tail; a `Last-Event-ID` value (or parsed id) to
                replay what came after it first.
            modes: request stream modes to keep; None keeps all.

        Raises:
            InvalidInput: `last_event_id` is malformed.
        """
        after = _parse(last_event_id)
        log = self._runs.get(str(run_id))
        if log is None:
            log = EventLog(0)
            log.finished = True
        modes = _run_modes_filter(modes)
        return self._subscribe(log, after, modes, on_close=None)

    def has_run(self, run_id: str) -> bool:
        """Whether the broker still holds a log for this run."""
        return str(run_id) in self._runs

    # -- thread channel ------------------------------------------------------------------------

    def publish_thread(
        self, thread_id: str, event: str, data: Any, *, mode: str | None = None
    ) -> StreamEvent:
        """Append an event to a thread's log (created on demand) and hand it to its subscribers.

        Args:
            thread_id: the thread.
            event: the wire event name.
            data: the payload, as for `publish`.
            mode: `lifecycle`, `run_modes` or `state_update` for the thread-stream filter;
                by default `metadata` events are `lifecycle`, `state_update` events are
                `state_update` and everything else is `run_modes`.
        """
        if mode is None:
            mode = THREAD_MODES.get(event, "run_modes")
        log = self._threads.get(str(thread_id))
        if log is None:
            # Nobody follows this thread (rule 7): nothing to deliver or keep.
            return self._unlogged(event, data, mode)
        log.last_publish = _loop_time()
        self._arm_thread_timer(str(thread_id), log)
        return self._append(log, event, data, mode)

    def subscribe_thread(
        self,
        thread_id: str,
        *,
        last_event_id: str | StreamId | None = None,
        modes: Collection[str] | None = None,
    ) -> Subscription:
        """Follow a thread's events; like `subscribe`, but it never ends by itself.

        Raises:
            InvalidInput: `last_event_id` is malformed.
        """
        after = _parse(last_event_id)
        thread_id = str(thread_id)
        if modes is not None and "run_modes" in modes:
            modes = {*modes, "lifecycle"}
        log = self._thread_log(thread_id)
        # A pending expiry timer stays: `_expire_thread` spares a log with subscribers, and the
        # last subscriber to close re-arms it.
        return self._subscribe(log, after, modes, on_close=lambda lg: self._arm_thread_timer(thread_id, lg))

    def has_thread(self, thread_id: str) -> bool:
        """Whether the broker still holds a log for this thread."""
        return str(thread_id) in self._threads

    # -- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        """Shutdown: end every subscription (after draining) and drop every log."""
        for run_id, log in list(self._runs.items()):
            self._drop_run(run_id, log)
        for log in self._threads.values():
            log.cancel_timer()
            log.finish()
        self._threads.clear()

    # -- internals -----------------------------------------------------------------------------

    def _unlogged(self, event: str, data: Any, mode: str) -> StreamEvent:
        """An event for a channel without a log: it has an id but goes nowhere."""
        stream_id = StreamId(int(self._clock() * 1000), 0)
        payload = data if isinstance(data, bytes) else dumps(data)
        return StreamEvent(id=str(stream_id), stream_id=stream_id, event=event, data=payload, mode=mode)

    def _append(self, log: EventLog, event: str, data: Any, mode: str | None) -> StreamEvent:
        stream_id = log.next_id(int(self._clock() * 1000))
        stored = StreamEvent(
            id=str(stream_id),
            stream_id=stream_id,
            event=event,
            data=data if isinstance(data, bytes) else dumps(data),
            mode=mode if mode is not None else event_mode(event),
        )
        log.append(stored)
        return stored

    def _subscribe(
        self,
        log: EventLog,
        after: StreamId | None,
        modes: Collection[str] | None,
        on_close: Callable[[EventLog], None] | None,
    ) -> Subscription:
        sub = Subscription(log, modes=modes, max_queue=self.max_queue, on_close=on_close)
        if after is not None:
            for event in log.events:
                if event.stream_id > after:
                    sub._offer(event)
        if not log.finished and not sub._cut:
            log.subscribers.add(sub)
        return sub

    def _drop_run(self, run_id: str, log: EventLog) -> None:
        log.cancel_timer()
        log.finish()
        if self._runs.get(run_id) is log:
            del self._runs[run_id]

    def _thread_log(self, thread_id: str) -> EventLog:
        log = self._threads.get(thread_id)
        if log is None:
            log = self._threads[thread_id] = EventLog(self.thread_max_events)
        return log

    def _arm_thread_timer(self, thread_id: str, log: EventLog) -> None:
        if log.timer is not None or log.subscribers or self._threads.get(thread_id) is not log:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # closed from outside the loop (a finalizer): nothing can wait
            del self._threads[thread_id]
            return
        delay = max(0.0, self.thread_retention_seconds - (loop.time() - log.last_publish))
        log.timer = loop.call_later(delay, self._expire_thread, thread_id, log)

    def _expire_thread(self, thread_id: str, log: EventLog) -> None:
        log.timer = None
        if log.subscribers or self._threads.get(thread_id) is not log:
            return
        if _loop_time() - log.last_publish >= self.thread_retention_seconds:
            del self._threads[thread_id]
        else:
            self._arm_thread_timer(thread_id, log)


def _run_modes_filter(modes: Collection[str] | None) -> frozenset[str] | None:
    """A run join's filter as the reference reads it: empty means none (the SDK sends
    `?stream_mode=` when it has no modes), and either message mode keeps both."""
    kept = frozenset(m for m in modes or () if m)
    if not kept:
        return None
    return kept | MESSAGE_MODES if kept & MESSAGE_MODES else kept


def _parse(last_event_id: str | StreamId | None) -> StreamId | None:
    if last_event_id is None or isinstance(last_event_id, StreamId):
        return last_event_id
    return parse_last_event_id(last_event_id)


def _loop_time() -> float:
    return asyncio.get_running_loop().time()
