"""`/threads` routes (thread records; state and runs live in other modules)."""

from __future__ import annotations

from robyn import Request, Response

from robyn_server import models
from robyn_server.http import (
    empty_response,
    json_response,
    pagination_headers,
    read_json_object,
    require_uuid,
)
from robyn_server.ownership import owner_of
from robyn_server.routes.router import ApiRouter, require_user
from robyn_server.services.container import Services
from robyn_server.services.threads import ThreadView
from robyn_server.wire import thread_to_wire


def view_to_wire(view: ThreadView, *, include_values: bool = True) -> dict:
    """Serialize a thread with its checkpointer-derived values and interrupts."""
    return thread_to_wire(
        view.thread,
        values=view.summary.values,
        interrupts=view.summary.interrupts,
        include_values=include_values,
    )


def _extract(record: dict, paths: dict[str, str] | None) -> dict:
    """`extract`: alias → dotted path into the thread object (e.g. `values.messages`)."""
    if not paths:
        return record
    extracted = {}
    for alias, path in paths.items():
        node: object = record
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        extracted[alias] = node
    return {**record, "extracted": extracted}


def register(api: ApiRouter, services: Services) -> None:
    """Register the thread routes."""
    svc = services.threads

    @api.route("POST", "/threads", tag="threads", body=models.ThreadCreate)
    async def create(request: Request) -> Response:
        """Create a thread."""
        body = models.parse_model(models.ThreadCreate, read_json_object(request))
        view, warning = await svc.create(body, owner=owner_of(require_user()))
        if warning:
            return json_response({"detail": warning}, 201)
        return json_response(view_to_wire(view))

    @api.route("POST", "/threads/search", tag="threads", body=models.ThreadSearch)
    async def search(request: Request) -> Response:
        """Search threads."""
        body = models.parse_model(models.ThreadSearch, read_json_object(request, default={}))
        result = await svc.search(body, owner=owner_of(require_user()))
        items = [
            models.select_fields(_extract(view_to_wire(v), body.extract), body.select) for v in result.items
        ]
        headers = pagination_headers(result.total, body.offset, body.limit, len(items))
        return json_response(items, headers=headers)

    @api.route("POST", "/threads/count", tag="threads", body=models.ThreadCount)
    async def count(request: Request) -> Response:
        """Count threads."""
        body = models.parse_model(models.ThreadCount, read_json_object(request, default={}))
        return json_response(await svc.count(body, owner=owner_of(require_user())))

    @api.route("POST", "/threads/prune", tag="threads", body=models.ThreadPrune)
    async def prune(request: Request) -> Response:
        """Delete threads, or keep only their latest checkpoint."""
        body = models.parse_model(models.ThreadPrune, read_json_object(request))
        return json_response({"pruned_count": await svc.prune(body, owner=owner_of(require_user()))})

    @api.route("GET", "/threads/:thread_id", tag="threads")
    async def get(request: Request) -> Response:
        """Get a thread."""
        thread_id = require_uuid(request.path_params["thread_id"], "thread")
        return json_response(view_to_wire(await svc.get(thread_id, owner=owner_of(require_user()))))

    @api.route("PATCH", "/threads/:thread_id", tag="threads", body=models.ThreadPatchBody)
    async def patch(request: Request) -> Response:
        """Update a thread (metadata merged)."""
        thread_id = require_uuid(request.path_params["thread_id"], "thread")
        body = models.parse_model(models.ThreadPatchBody, read_json_object(request, default={}))
        return json_response(view_to_wire(await svc.patch(thread_id, body, owner=owner_of(require_user()))))

    @api.route("DELETE", "/threads/:thread_id", tag="threads")
    async def delete(request: Request) -> Response:
        """Delete a thread with its runs and checkpoints."""
        thread_id = require_uuid(request.path_params["thread_id"], "thread")
        await svc.delete(thread_id, owner=owner_of(require_user()))
        return empty_response(204)

    @api.route("POST", "/threads/:thread_id/copy", tag="threads")
    async def copy(request: Request) -> Response:
        """Copy a thread with its checkpoint history (the response has no `values`, as the reference)."""
        thread_id = require_uuid(request.path_params["thread_id"], "thread")
        view = await svc.copy(thread_id, owner=owner_of(require_user()))
        return json_response(view_to_wire(view, include_values=False))
