"""Request models for the store and cron endpoints (the rest live in `models.py`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_validator

from robyn_server.models import InterruptNodes, Limit, Offset, RequestModel, check_webhook

# ---------------------------------------------------------------- store


def check_namespace(labels: list[str]) -> list[str]:
    """Namespace labels must be non-empty and free of periods (GET joins them with ".").

    Raises:
        ValueError: with the reference's wording (it answers 422 text/plain; we send JSON).
    """
    for label in labels:
        if not label or "." in label:
            raise ValueError(f"Namespace label '{label}' must be a non-empty string without periods")
    return labels


class StorePut(RequestModel):
    namespace: list[str]
    key: str
    value: dict[str, Any]
    index: Literal[False] | list[str] | None = None
    ttl: float | None = Field(default=None, gt=0)

    check_labels = field_validator("namespace")(check_namespace)


class StoreDelete(RequestModel):
    namespace: list[str]
    key: str

    check_labels = field_validator("namespace")(check_namespace)


class StoreSearch(RequestModel):
    namespace_prefix: list[str] = Field(default_factory=list)
    filter: dict[str, Any] | None = None
    limit: int = Limit
    offset: int = Offset
    query: str | None = None
    refresh_ttl: bool | None = None

    check_labels = field_validator("namespace_prefix")(check_namespace)


class StoreListNamespaces(RequestModel):
    prefix: list[str] | None = None
    suffix: list[str] | None = None
    max_depth: int | None = Field(default=None, ge=1)
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Offset


# ---------------------------------------------------------------- crons

CronSortField = Literal[
    "cron_id", "assistant_id", "thread_id", "next_run_date", "end_time", "created_at", "updated_at"
]
CronSelectField = Literal[
    "cron_id",
    "assistant_id",
    "thread_id",
    "user_id",
    "end_time",
    "schedule",
    "timezone",
    "payload",
    "next_run_date",
    "metadata",
    "on_run_completed",
    "enabled",
    "created_at",
    "updated_at",
]


class CronRunFields(RequestModel):
    """What a cron's runs are made of; patched fields are copied into `payload`."""

    input: Any = None
    metadata: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    webhook: str | None = None
    interrupt_before: InterruptNodes = None
    interrupt_after: InterruptNodes = None
    multitask_strategy: Literal["reject", "interrupt", "rollback", "enqueue"] | None = None
    stream_mode: str | list[str] | None = None
    stream_subgraphs: bool | None = None
    stream_resumable: bool | None = None
    durability: Literal["sync", "async", "exit"] | None = None
    checkpoint_during: bool | None = None
    on_run_completed: Literal["delete", "keep"] | None = None
    enabled: bool | None = None
    timezone: str | None = None
    end_time: datetime | None = None

    @field_validator("webhook")
    @classmethod
    def _check_webhook(cls, value: str | None) -> str | None:
        return check_webhook(value)


class CronCreate(CronRunFields):
    """`POST /runs/crons` and `POST /threads/{id}/runs/crons`.

    `schedule` is a croniter expression: five fields, or six with seconds as the *last*
    field (croniter's convention: `* * * * * */10` fires every ten seconds).
    """

    assistant_id: str
    schedule: str


class CronPatch(CronRunFields):
    """`PATCH /runs/crons/{id}`: only the fields sent change; `end_time: null` clears it."""

    schedule: str | None = None


class CronSearch(RequestModel):
    assistant_id: str | None = None
    thread_id: str | None = None
    enabled: bool | None = None
    metadata: dict[str, Any] | None = None
    limit: int = Limit
    offset: int = Offset
    sort_by: CronSortField | None = None
    sort_order: Literal["asc", "desc"] | None = None
    select: list[CronSelectField] | None = None


class CronCount(RequestModel):
    assistant_id: str | None = None
    thread_id: str | None = None
    enabled: bool | None = None
    metadata: dict[str, Any] | None = None
