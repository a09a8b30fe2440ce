"""Response models for `/openapi.json`: the wire objects as `robyn_server.wire` serves them.

They only describe responses (handlers build plain dicts); their JSON schemas are
what the OpenAPI document references.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

RunStatus = Literal["pending", "running", "success", "error", "interrupted", "timeout"]
ThreadStatus = Literal["idle", "busy", "interrupted", "error"]


class ErrorResponse(BaseModel):
    """Every 4xx/5xx JSON body."""

    detail: Any = Field(description="What went wrong (a message, or validation details)")


class Assistant(BaseModel):
    """An assistant: a graph plus its configuration, at its latest version."""

    assistant_id: str = Field(json_schema_extra={"format": "uuid"})
    graph_id: str
    config: dict[str, Any]
    context: dict[str, Any]
    metadata: dict[str, Any]
    name: str
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    updated_at: str = Field(json_schema_extra={"format": "date-time"})
    version: int
    description: str | None


class AssistantVersion(BaseModel):
    """One version of an assistant (no `updated_at`)."""

    assistant_id: str = Field(json_schema_extra={"format": "uuid"})
    version: int
    graph_id: str
    config: dict[str, Any]
    context: dict[str, Any]
    metadata: dict[str, Any]
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    name: str
    description: str | None


class Thread(BaseModel):
    """A thread; `error` and `interrupts` appear once it has had a run."""

    thread_id: str = Field(json_schema_extra={"format": "uuid"})
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    updated_at: str = Field(json_schema_extra={"format": "date-time"})
    state_updated_at: str | None = Field(json_schema_extra={"format": "date-time"})
    metadata: dict[str, Any]
    status: ThreadStatus
    config: dict[str, Any] | None
    values: Any = None
    error: dict[str, Any] | None = None
    interrupts: dict[str, list[Interrupt]] | None = None


class Run(BaseModel):
    """A run of an assistant on a thread."""

    run_id: str = Field(json_schema_extra={"format": "uuid"})
    thread_id: str = Field(json_schema_extra={"format": "uuid"})
    assistant_id: str = Field(json_schema_extra={"format": "uuid"})
    metadata: dict[str, Any]
    status: RunStatus
    kwargs: dict[str, Any]
    multitask_strategy: Literal["reject", "interrupt", "rollback", "enqueue"]
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    updated_at: str = Field(json_schema_extra={"format": "date-time"})
    langsmith_session_name: str | None = None


class Cron(BaseModel):
    """A scheduled run."""

    cron_id: str = Field(json_schema_extra={"format": "uuid"})
    assistant_id: str = Field(json_schema_extra={"format": "uuid"})
    thread_id: str | None
    user_id: str | None
    end_time: str | None
    schedule: str
    timezone: str | None
    payload: dict[str, Any]
    next_run_date: str | None
    metadata: dict[str, Any]
    on_run_completed: Literal["delete", "keep"] | None
    enabled: bool
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    updated_at: str = Field(json_schema_extra={"format": "date-time"})


class Interrupt(BaseModel):
    """A pending `interrupt()` value."""

    id: str | None
    value: Any


class CheckpointConfig(BaseModel):
    """Which checkpoint a state is."""

    checkpoint_id: str | None
    thread_id: str | None
    checkpoint_ns: str = ""
    checkpoint_map: dict[str, Any] | None = None


class ThreadTask(BaseModel):
    """A task of the next step."""

    id: str
    name: str
    path: list[Any]
    error: str | None
    interrupts: list[Interrupt]
    checkpoint: CheckpointConfig | None
    state: ThreadState | None
    result: Any = None


class ThreadState(BaseModel):
    """A thread's state at a checkpoint."""

    values: dict[str, Any] | list[Any]
    next: list[str]
    tasks: list[ThreadTask]
    metadata: dict[str, Any] | None
    created_at: str | None
    checkpoint: CheckpointConfig | None
    parent_checkpoint: CheckpointConfig | None
    interrupts: list[Interrupt]
    checkpoint_id: str | None
    parent_checkpoint_id: str | None


class StateUpdateResult(BaseModel):
    """The checkpoint an update created."""

    checkpoint: CheckpointConfig
    configurable: dict[str, Any] | None = None
    checkpoint_id: str | None = None


class Item(BaseModel):
    """A store item."""

    namespace: list[str]
    key: str
    value: dict[str, Any]
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    updated_at: str = Field(json_schema_extra={"format": "date-time"})


class SearchItem(Item):
    """A store item found by a search."""

    score: float | None = None


class SearchItems(BaseModel):
    """`/store/items/search` result."""

    items: list[SearchItem]


class Namespaces(BaseModel):
    """`/store/namespaces` result."""

    namespaces: list[list[str]]


class PruneResult(BaseModel):
    """`/threads/prune` result."""

    pruned_count: int


class Ok(BaseModel):
    """Health check."""

    ok: bool
    services: dict[str, Any]


class Info(BaseModel):
    """`/info`: the reference's fields plus build, capabilities and graphs."""

    version: str
    langgraph_py_version: str | None
    flags: dict[str, bool]
    host: dict[str, Any]
    build: dict[str, str | None]
    capabilities: dict[str, Any]
    graphs: list[str]
    runtime: Literal["robyn"]
    runtime_versions: dict[str, str | None]


class MetricsSnapshot(BaseModel):
    """`/metrics/json`."""

    runtime: dict[str, Any]
    storage: dict[str, int]
    agent: dict[str, Any]
    requests: dict[str, Any]
    queue: dict[str, int]


Thread.model_rebuild()
ThreadTask.model_rebuild()
