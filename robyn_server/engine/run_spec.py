"""What a run is asked to do (`RunSpec`), how it ended (`RunOutcome`), and request → Command."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Literal

from langgraph.types import Command

from robyn_server.storage.base import RunStatus

CancelAction = Literal["interrupt", "rollback"]


@dataclass(frozen=True)
class RunSpec:
    """How to execute a run; built by the run service from the request."""

    graph_id: str
    input: Any
    command: dict[str, Any] | None
    config: dict[str, Any]
    context: dict[str, Any] | None
    stream_modes: list[str]
    subgraphs: bool
    resumable: bool
    interrupt_before: list[str] | Literal["*"] | None
    interrupt_after: list[str] | Literal["*"] | None
    durability: str | None
    after_seconds: float = 0.0
    webhook: str | None = None
    temporary: bool = False


@dataclass
class RunOutcome:
    """The end of a run: its status and the final output `/wait` and `/join` return."""

    status: RunStatus
    output: bytes


def build_command(raw: dict[str, Any]) -> Command:
    """`command: {resume, update, goto}` → a LangGraph Command."""
    kwargs: dict[str, Any] = {}
    if "resume" in raw:
        kwargs["resume"] = raw["resume"]
    if raw.get("update") is not None:
        update = raw["update"]
        kwargs["update"] = [tuple(item) for item in update] if isinstance(update, list) else update
    if raw.get("goto") is not None:
        kwargs["goto"] = raw["goto"]
    return Command(**kwargs)


try:
    _LANGGRAPH_VERSION: str | None = version("langgraph")
except PackageNotFoundError:  # pragma: no cover - langgraph is a dependency
    _LANGGRAPH_VERSION = None


def execution_metadata(run_id: str, thread_id: str) -> dict[str, Any]:
    """Config metadata the reference adds when a run executes (seen in checkpoints and stream metadata).

    `langgraph_api_version`, `langgraph_plan` and `langgraph_api_url` are langgraph-api's own
    facts and are not claimed here.
    """
    return {
        "run_attempt": 1,
        "langgraph_version": _LANGGRAPH_VERSION,
        "langgraph_host": "self-hosted",
        "run_id": run_id,
        "thread_id": thread_id,
    }
