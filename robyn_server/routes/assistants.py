"""`/assistants` routes."""

from __future__ import annotations

from robyn import Request, Response

from robyn_server import models
from robyn_server.http import (
    empty_response,
    json_response,
    pagination_headers,
    query_bool,
    query_value,
    read_json_object,
    require_uuid,
)
from robyn_server.ownership import owner_of
from robyn_server.routes.router import ApiRouter, require_user
from robyn_server.services.container import Services
from robyn_server.wire import assistant_to_wire, version_to_wire


def _xray(request: Request) -> bool | int:
    value = query_value(request, "xray")
    if value is None or value.lower() in {"false", "0", ""}:
        return False
    if value.lower() == "true":
        return True
    return int(value) if value.isdigit() else True


def register(api: ApiRouter, services: Services) -> None:
    """Register the assistant routes."""
    svc = services.assistants

    @api.route("POST", "/assistants", tag="assistants", body=models.AssistantCreate)
    async def create(request: Request) -> Response:
        """Create an assistant."""
        body = models.parse_model(models.AssistantCreate, read_json_object(request))
        return json_response(assistant_to_wire(await svc.create(body, owner=owner_of(require_user()))))

    @api.route("POST", "/assistants/search", tag="assistants", body=models.AssistantSearch)
    async def search(request: Request) -> Response:
        """Search assistants."""
        body = models.parse_model(models.AssistantSearch, read_json_object(request, default={}))
        result = await svc.search(body, owner=owner_of(require_user()))
        items = [models.select_fields(assistant_to_wire(a), body.select) for a in result.items]
        headers = pagination_headers(result.total, body.offset, body.limit, len(items))
        return json_response(items, headers=headers)

    @api.route("POST", "/assistants/count", tag="assistants", body=models.AssistantCount)
    async def count(request: Request) -> Response:
        """Count assistants."""
        body = models.parse_model(models.AssistantCount, read_json_object(request, default={}))
        return json_response(await svc.count(body, owner=owner_of(require_user())))

    @api.route("GET", "/assistants/:assistant_id", tag="assistants")
    async def get(request: Request) -> Response:
        """Get an assistant."""
        assistant_id = require_uuid(request.path_params["assistant_id"], "assistant")
        return json_response(assistant_to_wire(await svc.get(assistant_id, owner=owner_of(require_user()))))

    @api.route("PATCH", "/assistants/:assistant_id", tag="assistants", body=models.AssistantPatch)
    async def patch(request: Request) -> Response:
        """Update an assistant (creates a new version; metadata merged)."""
        assistant_id = require_uuid(request.path_params["assistant_id"], "assistant")
        body = models.parse_model(models.AssistantPatch, read_json_object(request, default={}))
        updated = await svc.patch(assistant_id, body, owner=owner_of(require_user()))
        return json_response(assistant_to_wire(updated))

    @api.route("DELETE", "/assistants/:assistant_id", tag="assistants")
    async def delete(request: Request) -> Response:
        """Delete an assistant (all versions); `delete_threads=true` also deletes its threads."""
        assistant_id = require_uuid(request.path_params["assistant_id"], "assistant")
        owner = owner_of(require_user())
        delete_threads = query_bool(request, "delete_threads")
        await svc.delete(assistant_id, owner=owner)
        if delete_threads:
            await services.threads.delete_by_assistant(assistant_id, owner=owner)
        return empty_response(204)

    @api.route(
        "POST", "/assistants/:assistant_id/versions", tag="assistants", body=models.AssistantVersionsSearch
    )
    async def versions(request: Request) -> Response:
        """List an assistant's versions, newest first."""
        assistant_id = require_uuid(request.path_params["assistant_id"], "assistant")
        body = models.parse_model(models.AssistantVersionsSearch, read_json_object(request, default={}))
        found = await svc.versions(assistant_id, body, owner=owner_of(require_user()))
        return json_response([version_to_wire(v) for v in found])

    @api.route("POST", "/assistants/:assistant_id/latest", tag="assistants", body=models.AssistantSetLatest)
    async def latest(request: Request) -> Response:
        """Make a version the latest."""
        assistant_id = require_uuid(request.path_params["assistant_id"], "assistant")
        body = models.parse_model(models.AssistantSetLatest, read_json_object(request))
        updated = await svc.set_latest(assistant_id, body.version, owner=owner_of(require_user()))
        return json_response(assistant_to_wire(updated))

    @api.route("GET", "/assistants/:assistant_id/schemas", tag="assistants")
    async def schemas(request: Request) -> Response:
        """The graph's input, output, state, config and context JSON schemas."""
        assistant_id = require_uuid(request.path_params["assistant_id"], "assistant")
        return json_response(await svc.schemas(assistant_id, owner=owner_of(require_user())))

    @api.route("GET", "/assistants/:assistant_id/graph", tag="assistants")
    async def graph(request: Request) -> Response:
        """The drawable graph (`xray` to expand subgraphs)."""
        assistant_id = require_uuid(request.path_params["assistant_id"], "assistant")
        drawn = await svc.drawable(assistant_id, xray=_xray(request), owner=owner_of(require_user()))
        return json_response(drawn)

    @api.route("GET", "/assistants/:assistant_id/subgraphs", tag="assistants")
    async def subgraphs(request: Request) -> Response:
        """Schemas of every subgraph (`recurse` for nested ones)."""
        assistant_id = require_uuid(request.path_params["assistant_id"], "assistant")
        found = await svc.subgraphs(
            assistant_id,
            namespace=None,
            recurse=query_bool(request, "recurse"),
            owner=owner_of(require_user()),
        )
        return json_response(found)

    @api.route("GET", "/assistants/:assistant_id/subgraphs/:namespace", tag="assistants")
    async def subgraphs_in(request: Request) -> Response:
        """Schemas of the subgraphs under one namespace."""
        assistant_id = require_uuid(request.path_params["assistant_id"], "assistant")
        found = await svc.subgraphs(
            assistant_id,
            namespace=request.path_params["namespace"],
            recurse=query_bool(request, "recurse"),
            owner=owner_of(require_user()),
        )
        return json_response(found)
