"""Shared helpers for the run-lifecycle tests: polling with deadlines, ids, expected shapes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest

T = TypeVar("T")

CHAT_ID = "eb6db400-e3c8-5d06-a834-015cb89efe69"
HITL_ID = "d2a02ed8-fb92-5e43-81ea-cb78d82caa2f"
SLOW_ID = "cad1b5ad-d177-59d1-ab39-5e327188ed3a"

RUN_KEYS = [
    "run_id",
    "thread_id",
    "assistant_id",
    "metadata",
    "status",
    "kwargs",
    "multitask_strategy",
    "created_at",
    "updated_at",
    "langsmith_session_name",
]
KWARGS_KEYS = [
    "input",
    "command",
    "config",
    "context",
    "stream_mode",
    "interrupt_before",
    "interrupt_after",
    "webhook",
    "feedback_keys",
    "temporary",
    "subgraphs",
    "resumable",
    "checkpoint_during",
    "durability",
]
THREAD_AFTER_RUN_KEYS = [
    "thread_id",
    "created_at",
    "updated_at",
    "state_updated_at",
    "metadata",
    "status",
    "config",
    "values",
    "error",
    "interrupts",
]
THREAD_BUSY = (
    "Thread is already running a task. Wait for it to finish or choose a different multitask strategy."
)
NOT_FOUND = {"detail": "Thread or assistant not found."}


def human(text: str) -> dict[str, Any]:
    """A chat input with one user message."""
    return {"messages": [{"role": "user", "content": text}]}


async def until(probe: Callable[[], Awaitable[T]], accept: Callable[[T], bool], *, timeout: float = 5.0) -> T:
    """Poll `probe` every 20 ms until `accept` says yes; fail with the last value at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if accept(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last value: {value!r}")
        await asyncio.sleep(0.02)


async def run_status(sdk: Any, thread_id: str, run_id: str, *statuses: str, timeout: float = 5.0) -> dict:
    """Wait until the run has one of `statuses`; return it."""
    return await until(
        lambda: sdk.runs.get(thread_id, run_id), lambda r: r["status"] in statuses, timeout=timeout
    )


async def thread_status(sdk: Any, thread_id: str, *statuses: str, timeout: float = 5.0) -> dict:
    """Wait until the thread has one of `statuses`; return it."""
    return await until(lambda: sdk.threads.get(thread_id), lambda t: t["status"] in statuses, timeout=timeout)


def run_id_of(response: Any) -> str:
    """The run id from a run response's `Content-Location` (`.../runs/{run_id}`)."""
    return response.headers["content-location"].rsplit("/", 1)[1]


@pytest.fixture(scope="module")
def clean_server_log(server: Any) -> Iterator[None]:
    """Fail the module if the server logged a traceback while its tests ran."""
    start = len(server.log_text())
    yield
    logged = server.log_text()[start:]
    assert "Traceback" not in logged, f"server logged a traceback:\n{logged[-6000:]}"
