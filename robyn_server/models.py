"""Pydantic request models: the HTTP edge's validation.

Unknown fields are ignored, as the reference does (newer SDKs send fields older
servers do not know). Validation failures become 422 with a one-line detail in the
style of the reference's jsonschema messages.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from robyn_server.errors import BadRequest, InvalidInput

ModelT = TypeVar("ModelT", bound=BaseModel)

Limit = Field(default=10, ge=1, le=1000)
Offset = Field(default=0, ge=0)


class RequestModel(BaseModel):
    """Base for request bodies: unknown keys ignored, no coercion of strings to numbers."""

    model_config = ConfigDict(extra="ignore", strict=False, populate_by_name=True)


def _describe(value: Any) -> str:
    try:
        return json.dumps(value, separators=(",", ":"))[:200]
    except (TypeError, ValueError):
        return repr(value)[:200]


def format_validation_error(error: ValidationError) -> str:
    """One reference-style line for the first problem, e.g. `"graph_id" is a required property`."""
    first = error.errors(include_url=False)[0]
    loc = ".".join(str(part) for part in first.get("loc", ()))
    kind = first.get("type", "")
    value = first.get("input")
    if kind == "missing":
        return f'"{loc}" is a required property'
    if kind in {"int_type", "int_parsing", "int_from_float"}:
        return f'{_describe(value)} is not of type "integer" (at "{loc}")'
    if kind in {"string_type"}:
        return f'{_describe(value)} is not of type "string" (at "{loc}")'
    if kind in {"dict_type", "model_type", "model_attributes_type"}:
        return f'{_describe(value)} is not of type "object" (at "{loc}")'
    if kind in {"list_type"}:
        return f'{_describe(value)} is not of type "array" (at "{loc}")'
    if kind in {"bool_type", "bool_parsing"}:
        return f'{_describe(value)} is not of type "boolean" (at "{loc}")'
    if kind == "literal_error":
        expected = first.get("ctx", {}).get("expected", "")
        return f'{_describe(value)} is not one of {expected} (at "{loc}")'
    if kind in {"greater_than_equal", "less_than_equal", "greater_than", "less_than"}:
        return f'{_describe(value)} is out of range for "{loc}": {first.get("msg")}'
    message = str(first.get("msg", "Invalid value"))
    if kind == "value_error":  # our own validators word their messages completely
        return message.removeprefix("Value error, ")
    return f'{message} (at "{loc}")' if loc else message


def parse_model(model: type[ModelT], data: Any) -> ModelT:
    """Validate a parsed JSON body. Raises InvalidInput (422) with a readable detail."""
    if not isinstance(data, dict):
        raise InvalidInput(f'{_describe(data)} is not of type "object"')
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise InvalidInput(format_validation_error(error)) from None


def normalize_uuid(value: str, kind: str, *, status: int = 422) -> str:
    """Canonical UUID text. Raises InvalidInput (422) or BadRequest (400) as the endpoint does."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        if status == 400:
            raise BadRequest(f"Invalid {kind} ID {value}") from None
        raise InvalidInput(f"Invalid {kind} ID: must be a UUID") from None


def _uuid_or_none(value: str | None, kind: str) -> str | None:
    if value is None:
        return None
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise ValueError(f"Invalid {kind} ID: must be a UUID") from None


# ---------------------------------------------------------------- assistants


class AssistantCreate(RequestModel):
    graph_id: str
    assistant_id: str | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    if_exists: Literal["raise", "do_nothing"] = "raise"
    name: str | None = None
    description: str | None = None

    @field_validator("assistant_id")
    @classmethod
    def _check_id(cls, value: str | None) -> str | None:
        return _uuid_or_none(value, "assistant")


class AssistantPatch(RequestModel):
    graph_id: str | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    name: str | None = None
    description: str | None = None


class AssistantSearch(RequestModel):
    metadata: dict[str, Any] | None = None
    graph_id: str | None = None
    name: str | None = None
    limit: int = Limit
    offset: int = Offset
    sort_by: Literal["assistant_id", "created_at", "updated_at", "name", "graph_id"] | None = None
    sort_order: Literal["asc", "desc"] | None = None
    select: list[str] | None = None


class AssistantCount(RequestModel):
    metadata: dict[str, Any] | None = None
    graph_id: str | None = None
    name: str | None = None


class AssistantVersionsSearch(RequestModel):
    metadata: dict[str, Any] | None = None
    limit: int = Limit
    offset: int = Offset


class AssistantSetLatest(RequestModel):
    version: int = Field(ge=1)


# ---------------------------------------------------------------- threads


ThreadStatusName = Literal["idle", "busy", "interrupted", "error"]


class ThreadTTL(RequestModel):
    strategy: Literal["delete"] = "delete"
    ttl: float = Field(gt=0)


class ThreadCreate(RequestModel):
    thread_id: str | None = None
    metadata: dict[str, Any] | None = None
    if_exists: Literal["raise", "do_nothing"] = "raise"
    ttl: ThreadTTL | None = None
    supersteps: list[dict[str, Any]] | None = None

    @field_validator("thread_id")
    @classmethod
    def _check_id(cls, value: str | None) -> str | None:
        return _uuid_or_none(value, "thread")


class ThreadPatchBody(RequestModel):
    metadata: dict[str, Any] | None = None
    ttl: ThreadTTL | None = None


class ThreadSearch(RequestModel):
    ids: list[str] | None = None
    metadata: dict[str, Any] | None = None
    values: dict[str, Any] | None = None
    status: ThreadStatusName | None = None
    limit: int = Limit
    offset: int = Offset
    sort_by: Literal["thread_id", "status", "created_at", "updated_at", "state_updated_at"] | None = None
    sort_order: Literal["asc", "desc"] | None = None
    select: list[str] | None = None
    extract: dict[str, str] | None = None


class ThreadCount(RequestModel):
    metadata: dict[str, Any] | None = None
    values: dict[str, Any] | None = None
    status: ThreadStatusName | None = None


class ThreadPrune(RequestModel):
    thread_ids: list[str]
    strategy: Literal["delete", "keep_latest"] = "delete"


def check_webhook(value: str | None) -> str | None:
    """A webhook must be an http(s) URL (runs and crons share this rule)."""
    if value is not None and not value.startswith(("http://", "https://")):
        raise ValueError("webhook must be an http(s) URL")
    return value


def select_fields(record: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
    """Keep only the requested fields (in the requested order), as `select` does."""
    if not select:
        return record
    return {name: record[name] for name in select if name in record}


# ---------------------------------------------------------------- runs


class CheckpointRef(RequestModel):
    checkpoint_id: str | None = None
    checkpoint_ns: str = ""
    checkpoint_map: dict[str, Any] | None = None
    thread_id: str | None = None


class CommandBody(RequestModel):
    resume: Any = None
    update: Any = None
    goto: Any = None

    def to_dict(self) -> dict[str, Any]:
        """Only the fields the client actually sent (resume may legitimately be null)."""
        return {key: getattr(self, key) for key in self.model_fields_set}


InterruptNodes = list[str] | Literal["*"] | None


class RunCreate(RequestModel):
    """Body of every run-creating endpoint (stateful and stateless)."""

    assistant_id: str
    input: Any = None
    command: CommandBody | None = None
    checkpoint: CheckpointRef | None = None
    checkpoint_id: str | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    interrupt_before: InterruptNodes = None
    interrupt_after: InterruptNodes = None
    stream_mode: str | list[str] | None = None
    stream_subgraphs: bool = False
    stream_resumable: bool = False
    feedback_keys: list[str] | None = None
    multitask_strategy: Literal["reject", "interrupt", "rollback", "enqueue"] = "enqueue"
    if_not_exists: Literal["reject", "create"] = "reject"
    on_disconnect: Literal["continue", "cancel"] = "continue"
    on_completion: Literal["delete", "keep"] = "delete"
    after_seconds: float = Field(default=0, ge=0, le=86_400)
    webhook: str | None = None
    durability: Literal["sync", "async", "exit"] | None = None
    checkpoint_during: bool | None = None

    @field_validator("webhook")
    @classmethod
    def _check_webhook(cls, value: str | None) -> str | None:
        return check_webhook(value)

    @field_validator("stream_mode", mode="before")
    @classmethod
    def _stream_mode_not_null(cls, value: Any) -> Any:
        # Only an explicit `null` reaches here (absent fields are not validated): the reference
        # rejects it, while `""`/`[]` mean the default.
        if value is None:
            raise ValueError(
                "null is not valid under any of the schemas listed in the 'anyOf' keyword "
                '(at "stream_mode")'
            )
        return value

    @field_validator("config")
    @classmethod
    def _check_config(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        # The engine merges these as objects; anything else is the reference's 422.
        for key in ("configurable", "metadata"):
            if value is not None and value.get(key) is not None and not isinstance(value[key], dict):
                raise ValueError(f'{_describe(value[key])} is not of type "object" (at "config.{key}")')
        return value


class RunsCancel(RequestModel):
    thread_id: str | None = None
    run_ids: list[str] | None = None
    status: Literal["pending", "running", "all"] | None = None

    @field_validator("thread_id")
    @classmethod
    def _thread_uuid(cls, value: str | None) -> str | None:
        return _uuid_or_none(value, "thread")

    @field_validator("run_ids")
    @classmethod
    def _run_uuids(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [str(_uuid_or_none(v, "run")) for v in value]


class StateUpdate(RequestModel):
    values: dict[str, Any] | list[Any] | None = None
    as_node: str | None = None
    checkpoint: CheckpointRef | None = None
    checkpoint_id: str | None = None


class StateCheckpointQuery(RequestModel):
    checkpoint: CheckpointRef
    subgraphs: bool = False


class HistoryQuery(RequestModel):
    limit: int = Field(default=10, ge=1, le=10_000)
    before: CheckpointRef | str | None = None
    metadata: dict[str, Any] | None = None
    checkpoint: CheckpointRef | None = None

    @field_validator("before", mode="before")
    @classmethod
    def _before_not_null(cls, value: Any) -> Any:
        # The reference rejects an explicit null here (422).
        if value is None:
            raise ValueError("None is not of type 'object'")
        return value
