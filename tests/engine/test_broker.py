"""Tests for `robyn_server/engine/broker.py`: one test (or a few) per rule in its docstring."""

from __future__ import annotations

import asyncio
import re

import pytest

from robyn_server.engine.broker import RunBroker, StreamEvent, Subscription, event_mode
from robyn_server.errors import InvalidInput
from robyn_server.sse import StreamId, event_stream

RUN = "01a1fc97-ef0a-74cc-b1de-4280da55ff1f"
THREAD = "01a1fc97-eef4-75ff-8e34-825d2aa5bb0f"


class FakeClock:
    """Wall clock in seconds that the test moves by hand."""

    def __init__(self, now: float = 1795239178.982) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def drain(sub: Subscription) -> list[StreamEvent]:
    return [event async for event in sub]


def steps(events: list[StreamEvent]) -> list[object]:
    return [e.data.decode() for e in events]


@pytest.fixture
def broker() -> RunBroker:
    return RunBroker()


# -- rule 1: ids -------------------------------------------------------------------------------


async def test_ids_are_redis_style_and_strictly_increase() -> None:
    clock = FakeClock()
    broker = RunBroker(clock=clock)
    broker.open_run(RUN, resumable=True)
    first = broker.publish(RUN, "metadata", {"run_id": RUN, "attempt": 1})
    same_ms = broker.publish(RUN, "values", {})
    clock.now += 0.002
    later = broker.publish(RUN, "custom", {})
    clock.now -= 1.0  # the wall clock stepping back must not reorder ids
    back = broker.publish(RUN, "custom", {})
    assert [first.id, same_ms.id, later.id, back.id] == [
        "1795239178982-0",
        "1795239178982-1",
        "1795239178984-0",
        "1795239178984-1",
    ]
    assert first.data == b'{"run_id":"01a1fc97-ef0a-74cc-b1de-4280da55ff1f","attempt":1}'
    assert first.encode(with_id=True).endswith(b"\r\nid: 1795239178982-0\r\n\r\n")
    assert b"id:" not in first.encode(with_id=False)


# -- rule 2: fan-out ---------------------------------------------------------------------------


async def test_two_subscribers_each_get_every_event_in_order(broker: RunBroker) -> None:
    broker.open_run(RUN, resumable=False)
    one = broker.subscribe(RUN)
    two = broker.subscribe(RUN)
    tasks = [asyncio.create_task(drain(one)), asyncio.create_task(drain(two))]
    for i in range(5):
        broker.publish(RUN, "custom", {"step": i})
        await asyncio.sleep(0)
    broker.finish(RUN)
    got_one, got_two = await asyncio.gather(*tasks)
    expected = [f'{{"step":{i}}}' for i in range(5)]
    assert steps(got_one) == expected
    assert steps(got_two) == expected
    assert [e.id for e in got_one] == [e.id for e in got_two]


# -- rules 3 and 4: subscribe, replay, resume --------------------------------------------------


async def test_resume_replays_after_last_event_id_then_live_without_gap_or_duplicate(
    broker: RunBroker,
) -> None:
    broker.open_run(RUN, resumable=True)
    published = [broker.publish(RUN, "custom", {"step": i}) for i in range(3)]
    sub = broker.subscribe(RUN, last_event_id=published[0].id)
    consumer = asyncio.create_task(drain(sub))
    for i in range(3, 6):
        await asyncio.sleep(0)  # the consumer runs between publishes
        published.append(broker.publish(RUN, "custom", {"step": i}))
    broker.finish(RUN)
    got = await consumer
    assert [e.id for e in got] == [e.id for e in published[1:]]


async def test_zero_and_minus_one_replay_everything(broker: RunBroker) -> None:
    broker.open_run(RUN, resumable=True)
    published = [broker.publish(RUN, "custom", {"step": i}) for i in range(3)]
    broker.finish(RUN)
    for start in ("0", "-1"):
        assert [e.id for e in await drain(broker.subscribe(RUN, last_event_id=start))] == [
            e.id for e in published
        ]


async def test_unknown_well_formed_id_replays_from_the_next_larger_id() -> None:
    clock = FakeClock(1000.0)
    broker = RunBroker(clock=clock)
    broker.open_run(RUN, resumable=True)
    broker.publish(RUN, "custom", {"step": 0})  # 1000000-0
    clock.now = 1000.010
    later = broker.publish(RUN, "custom", {"step": 1})  # 1000010-0
    broker.finish(RUN)
    got = await drain(broker.subscribe(RUN, last_event_id="1000005-3"))
    assert [e.id for e in got] == [later.id]
    assert await drain(broker.subscribe(RUN, last_event_id=StreamId(999999, 0))) != []


async def test_invalid_last_event_id_raises_invalid_input(broker: RunBroker) -> None:
    broker.open_run(RUN, resumable=True)
    with pytest.raises(InvalidInput, match="valid Redis stream ID"):
        broker.subscribe(RUN, last_event_id="abc")
    with pytest.raises(InvalidInput):
        broker.subscribe_thread(THREAD, last_event_id="1-x")


async def test_late_subscriber_without_id_sees_only_new_events(broker: RunBroker) -> None:
    broker.open_run(RUN, resumable=True)
    broker.publish(RUN, "custom", {"step": 0})
    sub = broker.subscribe(RUN)
    assert await sub.next_batch(0) == []
    new = broker.publish(RUN, "custom", {"step": 1})
    broker.finish(RUN)
    assert [e.id for e in await drain(sub)] == [new.id]


async def test_non_resumable_run_keeps_no_replay_but_has_ids(broker: RunBroker) -> None:
    broker.open_run(RUN, resumable=False)
    broker.publish(RUN, "custom", {"step": 0})
    sub = broker.subscribe(RUN, last_event_id="0")
    live = broker.publish(RUN, "custom", {"step": 1})
    broker.finish(RUN)
    got = await drain(sub)
    assert [e.id for e in got] == [live.id]
    assert re.fullmatch(r"\d{13}-\d+", got[0].id)


# -- rule 5: modes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "mode"),
    [
        ("values", "values"),
        ("updates|child:5a7b49be-3bbc-6278-d31e-04f3157ca927", "updates"),
        ("messages", "messages-tuple"),
        ("messages|child:1", "messages-tuple"),
        ("messages/partial", "messages"),
        ("messages/metadata", "messages"),
        ("custom", "custom"),
    ],
)
def test_event_mode(event: str, mode: str) -> None:
    assert event_mode(event) == mode


async def test_mode_filter_keeps_only_requested_modes(broker: RunBroker) -> None:
    """As the reference's run join (`T/07_resumable.txt`: `?stream_mode=custom` has no metadata)."""
    broker.open_run(RUN, resumable=True)
    for name in ("metadata", "values", "custom", "updates|sub:1", "messages", "messages/partial", "error"):
        broker.publish(RUN, name, {})
    broker.finish(RUN)
    custom = await drain(broker.subscribe(RUN, last_event_id="0", modes={"custom"}))
    assert [e.event for e in custom] == ["custom"]
    both = await drain(broker.subscribe(RUN, last_event_id="0", modes=["updates", "messages-tuple"]))
    assert [e.event for e in both] == ["updates|sub:1", "messages", "messages/partial"]
    legacy = await drain(broker.subscribe(RUN, last_event_id="0", modes={"messages"}))
    assert [e.event for e in legacy] == ["messages", "messages/partial"]
    lifecycle = await drain(broker.subscribe(RUN, last_event_id="0", modes={"metadata", "error"}))
    assert [e.event for e in lifecycle] == ["metadata", "error"]
    # An empty filter is no filter (the SDK sends `?stream_mode=` when it has none).
    for empty in ([], [""]):
        assert len(await drain(broker.subscribe(RUN, last_event_id="0", modes=empty))) == 7


async def test_thread_mode_filters(broker: RunBroker) -> None:
    """Reference `Threads.Stream.join`: `run_modes` is everything but state updates."""
    watcher = broker.subscribe_thread(THREAD)  # a followed thread keeps its log
    broker.publish_thread(THREAD, "metadata", {"run_id": RUN, "attempt": 1}, mode="lifecycle")
    broker.publish_thread(THREAD, "values", {}, mode="run_modes")
    broker.publish_thread(THREAD, "metadata", {"status": "run_done", "run_id": RUN}, mode="lifecycle")
    broker.publish_thread(THREAD, "state_update", {"state": {}}, mode="state_update")
    expected = {
        ("run_modes",): ["metadata", "values", "metadata"],
        ("lifecycle",): ["metadata", "metadata"],
        ("state_update",): ["state_update"],
        ("lifecycle", "state_update"): ["metadata", "metadata", "state_update"],
        ("run_modes", "state_update"): ["metadata", "values", "metadata", "state_update"],
    }
    for modes, names in expected.items():
        sub = broker.subscribe_thread(THREAD, last_event_id="0", modes=modes)
        assert [e.event for e in await sub.next_batch(0) or []] == names, modes
        sub.close()
    watcher.close()


# -- rule 6: end -------------------------------------------------------------------------------


async def test_finished_run_drains_then_ends(broker: RunBroker) -> None:
    broker.open_run(RUN, resumable=False)
    sub = broker.subscribe(RUN)
    broker.publish(RUN, "custom", {"step": 0})
    broker.publish(RUN, "custom", {"step": 1})
    broker.finish(RUN)
    assert steps(await sub.next_batch(1.0) or []) == ['{"step":0}', '{"step":1}']
    assert await sub.next_batch(1.0) is None
    assert sub.ended


async def test_finish_wakes_a_waiting_subscriber(broker: RunBroker) -> None:
    broker.open_run(RUN, resumable=False)
    sub = broker.subscribe(RUN)
    waiter = asyncio.create_task(sub.next_batch(5.0))
    await asyncio.sleep(0)
    broker.finish(RUN)
    assert await asyncio.wait_for(waiter, 1.0) is None


async def test_unknown_or_released_run_ends_at_once(broker: RunBroker) -> None:
    assert await broker.subscribe("never-opened").next_batch(5.0) is None
    broker.open_run(RUN, resumable=True)
    broker.publish(RUN, "custom", {})
    broker.release(RUN)
    assert not broker.has_run(RUN)
    assert await asyncio.wait_for(drain(broker.subscribe(RUN, last_event_id="0")), 1.0) == []


async def test_finished_run_without_last_event_id_is_empty(broker: RunBroker) -> None:
    broker.open_run(RUN, resumable=True)
    broker.publish(RUN, "custom", {})
    broker.finish(RUN)
    assert await asyncio.wait_for(drain(broker.subscribe(RUN)), 1.0) == []


async def test_publish_to_unknown_or_finished_run_fails(broker: RunBroker) -> None:
    with pytest.raises(KeyError):
        broker.publish(RUN, "custom", {})
    broker.open_run(RUN, resumable=True)
    broker.finish(RUN)
    with pytest.raises(RuntimeError):
        broker.publish(RUN, "custom", {})


async def test_close_unregisters_and_wakes_the_waiter(broker: RunBroker) -> None:
    broker.open_run(RUN, resumable=False)
    with broker.subscribe(RUN) as sub:
        waiter = asyncio.create_task(sub.next_batch(5.0))
        await asyncio.sleep(0)
    assert await asyncio.wait_for(waiter, 1.0) is None
    broker.publish(RUN, "custom", {})  # no subscriber left; must not raise
    assert await sub.next_batch(0) is None


# -- heartbeat / timeout path -------------------------------------------------------------------


async def test_next_batch_times_out_with_empty_list_and_batches_queued_events(broker: RunBroker) -> None:
    broker.open_run(RUN, resumable=False)
    sub = broker.subscribe(RUN)
    assert await sub.next_batch(0.01) == []
    for i in range(3):
        broker.publish(RUN, "custom", {"step": i})
    assert len(await sub.next_batch(0.01) or []) == 3


async def test_event_stream_over_a_subscription_writes_heartbeats_between_events(broker: RunBroker) -> None:
    broker.open_run(RUN, resumable=True)
    sub = broker.subscribe(RUN)
    chunks: list[bytes] = []

    async def consume() -> None:
        async for chunk in event_stream(sub, with_ids=True, heartbeat_interval=0.03):
            chunks.append(chunk)

    task = asyncio.create_task(consume())
    event = broker.publish(RUN, "custom", {"step": 1})
    await asyncio.sleep(0.05)
    broker.finish(RUN)
    await asyncio.wait_for(task, 1.0)
    assert chunks[0] == event.encode(with_id=True)
    assert b": heartbeat\r\n\r\n" in chunks[1:]


async def test_abandoned_event_stream_unregisters_its_subscription(broker: RunBroker) -> None:
    sub = broker.subscribe_thread(THREAD)
    stream = event_stream(sub, with_ids=True)
    broker.publish_thread(THREAD, "custom", {})
    await anext(stream)
    await stream.aclose()  # client went away
    assert sub.ended
    broker.publish_thread(THREAD, "custom", {})  # nobody left to deliver to
    assert await sub.next_batch(0) is None


# -- rule 7: retention -------------------------------------------------------------------------


async def test_resumable_log_is_released_after_the_retention_window() -> None:
    broker = RunBroker(retention_seconds=0.02)
    broker.open_run(RUN, resumable=True)
    broker.publish(RUN, "custom", {})
    broker.finish(RUN)
    assert broker.has_run(RUN)
    assert len(await drain(broker.subscribe(RUN, last_event_id="0"))) == 1
    await asyncio.sleep(0.05)
    assert not broker.has_run(RUN)


async def test_release_after_reschedules(broker: RunBroker) -> None:
    broker.open_run(RUN, resumable=True)
    broker.finish(RUN)
    broker.release_after(RUN, 0.01)
    await asyncio.sleep(0.03)
    assert not broker.has_run(RUN)


async def test_non_resumable_log_is_forgotten_at_finish_but_subscribers_drain(broker: RunBroker) -> None:
    broker.open_run(RUN, resumable=False)
    sub = broker.subscribe(RUN)
    broker.publish(RUN, "custom", {})
    broker.finish(RUN)
    assert not broker.has_run(RUN)
    assert len(await drain(sub)) == 1


async def test_max_events_bounds_the_replay_log() -> None:
    broker = RunBroker(max_events=3)
    broker.open_run(RUN, resumable=True)
    published = [broker.publish(RUN, "custom", {"step": i}) for i in range(5)]
    broker.finish(RUN)
    assert [e.id for e in await drain(broker.subscribe(RUN, last_event_id="0"))] == [
        e.id for e in published[2:]
    ]


# -- rule 8: slow subscribers --------------------------------------------------------------------


async def test_slow_subscriber_is_cut_after_max_queue() -> None:
    broker = RunBroker(max_queue=2)
    broker.open_run(RUN, resumable=True)
    slow = broker.subscribe(RUN)
    fast = broker.subscribe(RUN)
    fast_task = asyncio.create_task(drain(fast))
    for i in range(4):
        broker.publish(RUN, "custom", {"step": i})
        await asyncio.sleep(0)
    broker.finish(RUN)
    assert len(await drain(slow)) == 2
    assert len(await fast_task) == 4


# -- thread channel ------------------------------------------------------------------------------


async def test_thread_channel_replays_follows_and_never_ends_by_itself(broker: RunBroker) -> None:
    watcher = broker.subscribe_thread(THREAD)
    first = broker.publish_thread(THREAD, "metadata", {"run_id": RUN, "attempt": 1})
    sub = broker.subscribe_thread(THREAD, last_event_id=first.id)
    live = broker.subscribe_thread(THREAD)
    updates = broker.publish_thread(THREAD, "updates", {"agent": {}}, mode="run_modes")
    done = broker.publish_thread(THREAD, "metadata", {"status": "run_done", "run_id": RUN})
    assert await sub.next_batch(0) == [updates, done]
    assert await live.next_batch(0) == [updates, done]
    assert await sub.next_batch(0.01) == []  # still open
    lifecycle = broker.subscribe_thread(THREAD, last_event_id="0", modes={"lifecycle"})
    assert [e.event for e in await lifecycle.next_batch(0) or []] == ["metadata", "metadata"]
    for s in (sub, live, lifecycle, watcher):
        s.close()


async def test_thread_log_is_bounded_and_dropped_when_idle() -> None:
    broker = RunBroker(thread_max_events=2, thread_retention_seconds=0.02)
    watcher = broker.subscribe_thread(THREAD)
    events = [broker.publish_thread(THREAD, "custom", {"n": i}) for i in range(3)]
    watcher.close()
    sub = broker.subscribe_thread(THREAD, last_event_id="-1")
    assert await sub.next_batch(0) == events[1:]
    await asyncio.sleep(0.04)
    assert broker.has_thread(THREAD)  # a subscriber keeps it
    sub.close()
    await asyncio.sleep(0.04)
    assert not broker.has_thread(THREAD)


async def test_unfollowed_thread_keeps_nothing(broker: RunBroker) -> None:
    broker.publish_thread(THREAD, "custom", {"n": 1})
    assert not broker.has_thread(THREAD)
    late = broker.subscribe_thread(THREAD, last_event_id="-1")
    assert await late.next_batch(0.01) == []
    live = broker.publish_thread(THREAD, "custom", {"n": 2})
    assert await late.next_batch(0) == [live]
    late.close()


async def test_subscribe_thread_on_unknown_thread_waits_for_events(broker: RunBroker) -> None:
    sub = broker.subscribe_thread("00000000-0000-0000-0000-000000000000")
    assert await sub.next_batch(0.01) == []
    sub.close()


async def test_close_ends_every_subscription(broker: RunBroker) -> None:
    broker.open_run(RUN, resumable=True)
    run_sub = broker.subscribe(RUN)
    thread_sub = broker.subscribe_thread(THREAD)
    broker.close()
    assert await run_sub.next_batch(1.0) is None
    assert await thread_sub.next_batch(1.0) is None
    assert not broker.has_run(RUN) and not broker.has_thread(THREAD)
