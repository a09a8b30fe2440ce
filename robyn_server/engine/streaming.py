"""Run a graph and turn its output into wire events, exactly as langgraph-api's `astream_state` does.

The graph runs with LangGraph's *own* stream modes; this module only renames and reshapes
(reference: `langgraph-api.md` §6, transcripts `chat_<mode>.sse`, `nested_*.sse`, `hitl_*.sse`):

| requested mode    | LangGraph mode          | wire event(s)                                              |
|-------------------|-------------------------|------------------------------------------------------------|
| `values`          | `values`                | `values` (interrupt() adds `"__interrupt__"` to the state) |
| `updates`         | `updates`               | `updates` (`{node: write}`, `{"__interrupt__": [...]}`)    |
| `messages-tuple`  | `messages`              | `messages`, data `[message_chunk, metadata]`               |
| `messages`        | `messages`              | `messages/metadata` once per id, then `messages/partial`   |
|                   |                         | (accumulated chunk) or `messages/complete` (whole message) |
| `custom`          | `custom`                | `custom`                                                   |
| `tasks`           | `tasks`                 | `tasks`                                                    |
| `checkpoints`     | `checkpoints`           | `checkpoints`                                              |
| `debug`           | `debug`                 | `debug`; checkpoint payloads gain `checkpoint` and         |
|                   |                         | `parent_checkpoint`; subgraph tasks: `state`->`checkpoint` |
| `events`          | (`astream_events` v2)   | `events`: every v2 event except the root graph's           |
|                   |                         | `on_chain_stream`, which carries the other modes' chunks   |

With `subgraphs=True` events from inside a subgraph get `|<ns>` appended (LangGraph's namespace
tuple joined with `|`, e.g. `updates|child:5a7b49be-...`); the legacy `messages/*` events never do.
Interrupts, `interrupt_before` (`updates` -> `{"__interrupt__": []}`) and the final values come
from LangGraph 1.2 itself, so nothing is synthesized here. The per-mode reshaping lives in
`stream_modes.py` (`ModeTranslator`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.errors import EmptyInputError, GraphBubbleUp, InvalidUpdateError, TaskNotFound
from langgraph.pregel import Pregel

from robyn_server import errors
from robyn_server.engine.stream_modes import ModeTranslator, WireEvent

__all__ = [
    "WIRE_MODES",
    "WireEvent",
    "error_payload",
    "normalize_stream_modes",
    "stream_graph",
]

WIRE_MODES = frozenset(
    {"values", "updates", "messages-tuple", "messages", "events", "debug", "custom", "tasks", "checkpoints"}
)
"""The `stream_mode` values a run request may name."""

_V2_ONLY_MODES = frozenset({"tools", "lifecycle"})
"""Modes langgraph-api knows but serves only on its v2 event-streaming endpoints (a distinct 422)."""

_HIDDEN_TAG = "langsmith:hidden"


# ---------------------------------------------------------------------------------------------
# Request side


def normalize_stream_modes(value: str | list[str] | None, *, schema: str = "RunCreateStateful") -> list[str]:
    """The run's stream modes as a list: default `["values"]`, duplicates dropped, order kept.

    Like langgraph-api, a falsy value (absent, `""`, `[]`) means the default and a string is a
    one-element list. (The reference's schema check answers an explicit JSON `null` with 422
    before this point; a route that can tell `null` from absent should do the same.)

    Args:
        value: the request's `stream_mode`.
        schema: the request schema named in the error text (`RunCreateStateful` for thread
            runs, `RunCreateStateless` for `/runs/...`).

    Raises:
        errors.InvalidInput: an unknown mode or a value of the wrong type, with the reference's
            jsonschema-style detail; `tools`/`lifecycle` with the reference's v2-only detail.
    """
    if not value:
        return ["values"]
    modes = value if isinstance(value, list) else [value]
    if not isinstance(value, str | list) or not all(isinstance(m, str) and m in WIRE_MODES for m in modes):
        v2_only = _V2_ONLY_MODES.intersection(m for m in modes if isinstance(m, str))
        if v2_only and all(isinstance(m, str) and m in WIRE_MODES | _V2_ONLY_MODES for m in modes):
            raise errors.InvalidInput(
                f"stream_mode entries {sorted(v2_only)!r} are only supported on the v2 event streaming "
                "endpoints."
            )
        instance = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
        raise errors.InvalidInput(
            f"{instance} is not valid under any of the schemas listed in the 'anyOf' keyword\n\n"
            f'Failed validating "anyOf" in schema["components"]["schemas"]["{schema}"]'
            f'["properties"]["stream_mode"]\n\nOn instance["stream_mode"]:\n    {instance}'
        )
    return list(dict.fromkeys(modes))


# ---------------------------------------------------------------------------------------------
# Errors


_SAFE_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    TypeError,
    KeyError,
    AttributeError,
    RuntimeError,
    RecursionError,
    TimeoutError,
    InvalidUpdateError,
    GraphBubbleUp,
    EmptyInputError,
    TaskNotFound,
    errors.ServerError,
)
"""Exceptions whose message the reference shows to clients (langgraph-api `serde.default`);
anything else reads "An internal error occurred" so that internals don't leak."""


def error_payload(exc: BaseException) -> dict[str, str]:
    """The `event: error` payload (and `thread.error`) for a failed run.

    `{"error": <class name>, "message": str(exc)}`, e.g. `{"error":"ValueError","message":"fake
    model failure requested by input"}`. As in the reference, an exception group stands for its
    first exception, and exception types outside the reference's allow-list keep their class
    name but get the generic message "An internal error occurred".
    """
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    message = str(exc) if isinstance(exc, _SAFE_ERRORS) else "An internal error occurred"
    return {"error": type(exc).__name__, "message": message}


# ---------------------------------------------------------------------------------------------
# Running


async def stream_graph(
    graph: Pregel,
    input: Any,
    config: RunnableConfig,
    *,
    stream_modes: list[str],
    subgraphs: bool,
    interrupt_before: list[str] | Literal["*"] | None,
    interrupt_after: list[str] | Literal["*"] | None,
    durability: str | None = None,
    context: Any | None = None,
) -> AsyncIterator[WireEvent]:
    """Run `graph` and yield its wire events in execution order.

    Uses `graph.astream(...)`, or `graph.astream_events(version="v2", ...)` when `events` is
    requested (the other modes then ride on the root graph's `on_chain_stream` events).
    Exceptions raised by the graph propagate; the caller turns them into `event: error`
    (`error_payload`) and emits the leading `metadata` event itself.

    Args:
        graph: the compiled graph, bound to the run's checkpointer and store.
        input: the input (dict or None) or a `langgraph.types.Command`.
        config: the run config; its `metadata` reaches every event's metadata. Unless it has a
            top-level `run_id`, `configurable.run_id` becomes the root run id (as in the
            reference, so `events` show the API run id for the graph run).
        stream_modes: requested modes (see `normalize_stream_modes`).
        subgraphs: also stream from inside subgraphs (`<mode>|<ns>` events).
        interrupt_before: nodes to stop before, or `"*"`.
        interrupt_after: nodes to stop after, or `"*"`.
        durability: LangGraph's `durability` (`sync`, `async`, `exit`); None = its default.
        context: the run context (`Runtime.context`), passed only when given.
    """
    requested = list(dict.fromkeys(stream_modes)) or ["values"]
    config, root_run_id = _with_root_run_id(config)
    kwargs: dict[str, Any] = {
        "stream_mode": _langgraph_modes(requested),
        "subgraphs": subgraphs,
        "interrupt_before": interrupt_before,
        "interrupt_after": interrupt_after,
    }
    if durability is not None:
        kwargs["durability"] = durability
    if context is not None:
        kwargs["context"] = context
    translate = ModeTranslator(requested, subgraphs)

    if "events" not in requested:
        async with aclosing(graph.astream(input, config, **kwargs)) as stream:
            async for item in stream:
                for wire in translate(item):
                    yield wire
        return

    async with aclosing(graph.astream_events(input, config, version="v2", **kwargs)) as events:
        async for event in events:
            tags = event.get("tags")
            if tags and _HIDDEN_TAG in tags:
                continue
            if event["event"] == "on_chain_stream" and str(event["run_id"]) == root_run_id:
                # The root graph's stream output: the (ns,) mode, chunk tuples of the other modes.
                for wire in translate(event["data"]["chunk"]):
                    yield wire
            else:
                yield WireEvent("events", event, "events")


def _langgraph_modes(requested: list[str]) -> list[str]:
    """LangGraph stream modes for the requested wire modes.

    `messages-tuple` and legacy `messages` both need LangGraph's `messages`; `events` is not a
    LangGraph mode. langgraph-api also always adds `debug` (for its checkpoint bookkeeping); we
    skip that since the output is identical, but LangGraph needs at least one mode, so an
    `events`-only run streams `values` and drops them.
    """
    modes = ["messages" if m == "messages-tuple" else m for m in requested if m != "events"]
    return list(dict.fromkeys(modes)) or ["values"]


def _with_root_run_id(config: RunnableConfig) -> tuple[RunnableConfig, str]:
    """A copy of `config` with a top-level `run_id`, and that id as a string."""
    run_id = config.get("run_id")
    if run_id is None:
        candidate = (config.get("configurable") or {}).get("run_id")
        try:
            run_id = uuid.UUID(str(candidate)) if candidate else uuid.uuid4()
        except ValueError:
            run_id = uuid.uuid4()
        config = {**config, "run_id": run_id}
    return config, str(run_id)
