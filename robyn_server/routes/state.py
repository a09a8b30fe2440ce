"""Thread state and history routes."""

from __future__ import annotations

import json

from robyn import Request, Response

from robyn_server import models
from robyn_server.errors import InvalidInput
from robyn_server.http import (
    json_response,
    query_bool,
    query_int,
    query_value,
    read_json_object,
    require_uuid,
)
from robyn_server.ownership import owner_of
from robyn_server.routes.router import ApiRouter, require_user
from robyn_server.services.container import Services


def _schema_error(message: str, instance: object, path: str) -> InvalidInput:
    """A 422 worded like the reference's jsonschema messages."""
    shown = json.dumps(instance, separators=(",", ":"), ensure_ascii=False)
    where = f"On instance[{json.dumps(path)}]" if path else "On instance"
    return InvalidInput(f"{message}\n\n{where}:\n    {shown}")


def _history_body(raw: dict) -> dict:
    """The POST /history body with `before` in the form our model reads.

    The reference types `before` as a CheckpointConfig, `{"configurable": {...}}` (what the
    SDK's Checkpoint type does not say); the flat `{checkpoint_id}` and a bare id string are
    accepted too. An explicit null is the reference's 422.
    """
    if "before" in raw and raw["before"] is None:
        raise _schema_error(
            'null is not of type "object"\n\nFailed validating "type" in '
            'schema["components"]["schemas"]["CheckpointConfig"]',
            None,
            "before",
        )
    before = raw.get("before")
    if isinstance(before, dict) and isinstance(before.get("configurable"), dict):
        return {**raw, "before": before["configurable"]}
    return raw


def _checkpoint(ref: models.CheckpointRef | str | None) -> dict | None:
    if ref is None:
        return None
    if isinstance(ref, str):
        return {"checkpoint_id": ref}
    return ref.model_dump(exclude_none=True, exclude={"thread_id"})


def register(api: ApiRouter, services: Services) -> None:
    """Register state and history routes."""
    state = services.state

    def _thread(request: Request) -> str:
        return require_uuid(request.path_params["thread_id"], "thread")

    @api.route("GET", "/threads/:thread_id/state", tag="threads")
    async def get_state(request: Request) -> Response:
        """The thread's current state."""
        found = await state.get(
            _thread(request),
            checkpoint=None,
            subgraphs=query_bool(request, "subgraphs"),
            owner=owner_of(require_user()),
        )
        return json_response(found)

    @api.route("POST", "/threads/:thread_id/state", tag="threads", body=models.StateUpdate)
    async def update_state(request: Request) -> Response:
        """Add a checkpoint as if `as_node` had returned `values`."""
        body = models.parse_model(models.StateUpdate, read_json_object(request))
        checkpoint = _checkpoint(body.checkpoint) or (
            {"checkpoint_id": body.checkpoint_id} if body.checkpoint_id else None
        )
        result = await state.update(
            _thread(request),
            values=body.values,
            as_node=body.as_node,
            checkpoint=checkpoint,
            owner=owner_of(require_user()),
        )
        return json_response(result)

    @api.route("GET", "/threads/:thread_id/state/:checkpoint_id", tag="threads")
    async def get_state_at(request: Request) -> Response:
        """The thread's state at a checkpoint."""
        found = await state.get(
            _thread(request),
            checkpoint={"checkpoint_id": request.path_params["checkpoint_id"]},
            subgraphs=query_bool(request, "subgraphs"),
            owner=owner_of(require_user()),
        )
        return json_response(found)

    @api.route(
        "POST", "/threads/:thread_id/state/checkpoint", tag="threads", body=models.StateCheckpointQuery
    )
    async def get_state_checkpoint(request: Request) -> Response:
        """The thread's state at a checkpoint given in the body."""
        raw = read_json_object(request)
        if "checkpoint" not in raw:
            raise _schema_error(
                '"checkpoint" is a required property\n\nFailed validating "required" in schema', raw, ""
            )
        body = models.parse_model(models.StateCheckpointQuery, raw)
        found = await state.get(
            _thread(request),
            checkpoint=_checkpoint(body.checkpoint),
            subgraphs=body.subgraphs,
            owner=owner_of(require_user()),
        )
        return json_response(found)

    @api.route("GET", "/threads/:thread_id/history", tag="threads")
    async def get_history(request: Request) -> Response:
        """States newest first (`limit`, `before`)."""
        found = await state.history(
            _thread(request),
            limit=query_int(request, "limit", 10, minimum=1, maximum=10_000),
            before=_checkpoint(query_value(request, "before")),
            metadata=None,
            checkpoint=None,
            owner=owner_of(require_user()),
        )
        return json_response(found)

    @api.route("POST", "/threads/:thread_id/history", tag="threads", body=models.HistoryQuery)
    async def post_history(request: Request) -> Response:
        """States newest first, filterable by metadata and checkpoint."""
        body = models.parse_model(models.HistoryQuery, _history_body(read_json_object(request, default={})))
        found = await state.history(
            _thread(request),
            limit=body.limit,
            before=_checkpoint(body.before),
            metadata=body.metadata,
            checkpoint=_checkpoint(body.checkpoint),
            owner=owner_of(require_user()),
        )
        return json_response(found)
