"""`/store` routes: LangGraph's long-term memory store, shared with the graphs.

Deliberate difference: a bad namespace label is 422 JSON `{"detail": ...}`; the reference
answers 422 text/plain with the same words.
"""

from __future__ import annotations

from typing import Any

from langgraph.store.base import Item, SearchItem
from robyn import Request, Response

from robyn_server.errors import BadRequest, InvalidInput
from robyn_server.http import empty_response, json_response, query_bool, query_value, read_json_object
from robyn_server.models import parse_model
from robyn_server.models_platform import (
    StoreDelete,
    StoreListNamespaces,
    StorePut,
    StoreSearch,
    check_namespace,
)
from robyn_server.ownership import owner_of
from robyn_server.routes.router import ApiRouter, require_user
from robyn_server.services.container import Services
from robyn_server.services.store import StoreService
from robyn_server.wire import iso


def item_to_wire(item: Item) -> dict[str, Any]:
    """The Store Item object; search results add `score`."""
    wire: dict[str, Any] = {
        "namespace": list(item.namespace),
        "key": item.key,
        "value": item.value,
        "created_at": iso(item.created_at),
        "updated_at": iso(item.updated_at),
    }
    if isinstance(item, SearchItem):
        wire["score"] = item.score
    return wire


def _namespace_param(request: Request) -> list[str]:
    """The GET namespace, one dot-joined parameter (`a.b`) as the reference reads it."""
    try:
        return check_namespace((query_value(request, "namespace") or "").split("."))
    except ValueError as error:
        raise InvalidInput(str(error)) from None


def register(api: ApiRouter, services: Services) -> None:
    """Register the store routes."""
    store = StoreService(services.storage.store)

    @api.route("PUT", "/store/items", tag="store", body=StorePut)
    async def put_item(request: Request) -> Response:
        """Store or replace an item."""
        body = parse_model(StorePut, read_json_object(request))
        await store.put(body, owner=owner_of(require_user()))
        return empty_response(204)

    @api.route("GET", "/store/items", tag="store")
    async def get_item(request: Request) -> Response:
        """Get an item (`null` when it does not exist)."""
        owner = owner_of(require_user())
        key = query_value(request, "key")
        if not key:
            # The reference answers 400 {"error": "Key is required"}; we keep the status.
            raise BadRequest("Key is required")
        # Absent means the store's default (refresh on read).
        refresh = query_bool(request, "refresh_ttl") if query_value(request, "refresh_ttl") else None
        item = await store.get(_namespace_param(request), key, refresh_ttl=refresh, owner=owner)
        return json_response(item_to_wire(item) if item is not None else None)

    @api.route("DELETE", "/store/items", tag="store", body=StoreDelete)
    async def delete_item(request: Request) -> Response:
        """Delete an item (204 also when it does not exist)."""
        body = parse_model(StoreDelete, read_json_object(request))
        await store.delete(body.namespace, body.key, owner=owner_of(require_user()))
        return empty_response(204)

    @api.route("POST", "/store/items/search", tag="store", body=StoreSearch)
    async def search_items(request: Request) -> Response:
        """Search items under a namespace prefix."""
        body = parse_model(StoreSearch, read_json_object(request, default={}))
        items = await store.search(body, owner=owner_of(require_user()))
        return json_response({"items": [item_to_wire(item) for item in items]})

    @api.route("POST", "/store/namespaces", tag="store", body=StoreListNamespaces)
    async def list_namespaces(request: Request) -> Response:
        """List namespaces by prefix, suffix and depth."""
        body = parse_model(StoreListNamespaces, read_json_object(request, default={}))
        namespaces = await store.list_namespaces(body, owner=owner_of(require_user()))
        return json_response({"namespaces": [list(ns) for ns in namespaces]})
