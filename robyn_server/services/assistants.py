"""Assistants: creation rules, versions, and graph introspection by assistant."""

from __future__ import annotations

import copy
from typing import Any

from robyn_server import models
from robyn_server.clock import utcnow
from robyn_server.engine.graphs import GraphRegistry, system_assistant_id
from robyn_server.errors import BadRequest, NotFound
from robyn_server.ids import uuid4
from robyn_server.ownership import stamp_owner
from robyn_server.storage.base import (
    SYSTEM_CREATOR,
    Assistant,
    AssistantFilter,
    AssistantPatch,
    AssistantVersion,
    Page,
    SearchResult,
    Storage,
)

BOTH_CONFIGURABLE_AND_CONTEXT = (
    "Cannot specify both configurable and context. Prefer setting context alone. Context was introduced "
    "in LangGraph 0.6.0 and is the long term planned replacement for configurable."
)


def reconcile_config_and_context(
    config: dict[str, Any] | None, context: dict[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Mirror `config.configurable` and `context` the way the reference does.

    Raises:
        BadRequest: both are given and non-empty.
    """
    config = copy.deepcopy(config or {})
    context = copy.deepcopy(context or {})
    configurable = config.get("configurable") or {}
    if configurable and context:
        raise BadRequest(BOTH_CONFIGURABLE_AND_CONTEXT)
    if configurable:
        context = copy.deepcopy(configurable)
    elif context:
        config["configurable"] = copy.deepcopy(context)
    return config, context


class AssistantService:
    """Assistant use cases over storage and the graph registry."""

    def __init__(self, storage: Storage, graphs: GraphRegistry) -> None:
        self._storage = storage
        self._graphs = graphs

    async def register_system_assistants(self) -> None:
        """Create one system assistant per graph (idempotent), as `langgraph dev` does at start-up."""
        for graph_id in self._graphs.ids():
            spec = self._graphs.spec(graph_id)
            now = utcnow()  # distinct timestamps keep the reference's newest-first order
            record: Assistant = {
                "assistant_id": system_assistant_id(graph_id),
                "graph_id": graph_id,
                "config": {},
                "context": {},
                "metadata": {"created_by": SYSTEM_CREATOR},
                "name": graph_id,
                "created_at": now,
                "updated_at": now,
                "version": 1,
                "description": spec.description,
                "owner": None,
            }
            await self._storage.assistants.create(record, owner=None, if_exists="do_nothing")

    async def resolve_id(self, assistant_id: str, *, owner: str | None) -> Assistant:
        """Accept a UUID or a graph id (its system assistant), as run and cron bodies do."""
        if assistant_id in self._graphs:
            assistant_id = system_assistant_id(assistant_id)
        return await self._storage.assistants.get(assistant_id, owner=owner)

    async def create(self, body: models.AssistantCreate, *, owner: str | None) -> Assistant:
        """Create an assistant (version 1). Raises NotFound (graph), Conflict, BadRequest."""
        self._graphs.spec(body.graph_id)
        config, context = reconcile_config_and_context(body.config, body.context)
        now = utcnow()
        record: Assistant = {
            "assistant_id": body.assistant_id or uuid4(),
            "graph_id": body.graph_id,
            "config": config,
            "context": context,
            "metadata": stamp_owner(body.metadata, owner),
            "name": body.name or "Untitled",
            "created_at": now,
            "updated_at": now,
            "version": 1,
            "description": body.description,
            "owner": owner,
        }
        return await self._storage.assistants.create(record, owner=owner, if_exists=body.if_exists)

    async def get(self, assistant_id: str, *, owner: str | None) -> Assistant:
        """The latest version. Raises NotFound."""
        return await self._storage.assistants.get(assistant_id, owner=owner)

    async def patch(self, assistant_id: str, body: models.AssistantPatch, *, owner: str | None) -> Assistant:
        """New version: metadata merged, config/context replaced (and mirrored)."""
        if body.graph_id is not None:
            self._graphs.spec(body.graph_id)
        config = context = None
        if body.config is not None or body.context is not None:
            config, context = reconcile_config_and_context(body.config, body.context)
        patch = AssistantPatch(
            graph_id=body.graph_id,
            config=config,
            context=context,
            metadata=body.metadata,
            name=body.name,
            description=body.description,
        )
        return await self._storage.assistants.patch(assistant_id, patch, owner=owner)

    async def delete(self, assistant_id: str, *, owner: str | None) -> None:
        """Delete every version. Raises NotFound."""
        await self._storage.assistants.delete(assistant_id, owner=owner)

    async def search(self, body: models.AssistantSearch, *, owner: str | None) -> SearchResult[Assistant]:
        """Visible assistants matching the filters, paged."""
        if body.graph_id is not None:
            self._graphs.spec(body.graph_id)
        filters = AssistantFilter(metadata=body.metadata, graph_id=body.graph_id, name=body.name)
        page = Page(
            limit=body.limit, offset=body.offset, sort_by=body.sort_by, sort_order=body.sort_order or "desc"
        )
        return await self._storage.assistants.search(filters, page, owner=owner)

    async def count(self, body: models.AssistantCount, *, owner: str | None) -> int:
        """How many visible assistants match."""
        if body.graph_id is not None:
            self._graphs.spec(body.graph_id)
        filters = AssistantFilter(metadata=body.metadata, graph_id=body.graph_id, name=body.name)
        return await self._storage.assistants.count(filters, owner=owner)

    async def versions(
        self, assistant_id: str, body: models.AssistantVersionsSearch, *, owner: str | None
    ) -> list[AssistantVersion]:
        """Versions newest first."""
        return await self._storage.assistants.versions(
            assistant_id, metadata=body.metadata, limit=body.limit, offset=body.offset, owner=owner
        )

    async def set_latest(self, assistant_id: str, version: int, *, owner: str | None) -> Assistant:
        """Make an earlier version the latest."""
        try:
            return await self._storage.assistants.set_latest(assistant_id, version, owner=owner)
        except NotFound:
            await self._storage.assistants.get(assistant_id, owner=owner)
            raise NotFound(f"Version {version} not found for assistant {assistant_id}") from None

    def _introspection_config(self, assistant: Assistant) -> dict[str, Any]:
        config = copy.deepcopy(assistant["config"])
        configurable = config.setdefault("configurable", {})
        configurable.update(copy.deepcopy(assistant["context"]))
        configurable.setdefault("assistant_id", assistant["assistant_id"])
        configurable.setdefault("graph_id", assistant["graph_id"])
        config.setdefault("metadata", {}).update(copy.deepcopy(assistant["metadata"]))
        return config

    async def schemas(self, assistant_id: str, *, owner: str | None) -> dict[str, Any]:
        """`{graph_id, input_schema, output_schema, state_schema, config_schema, context_schema}`."""
        assistant = await self.get(assistant_id, owner=owner)
        return await self._graphs.schemas(assistant["graph_id"], self._introspection_config(assistant))

    async def drawable(self, assistant_id: str, *, xray: bool | int, owner: str | None) -> dict[str, Any]:
        """The drawable graph `{nodes, edges}`."""
        assistant = await self.get(assistant_id, owner=owner)
        return await self._graphs.drawable(
            assistant["graph_id"], self._introspection_config(assistant), xray=xray
        )

    async def subgraphs(
        self, assistant_id: str, *, namespace: str | None, recurse: bool, owner: str | None
    ) -> dict[str, Any]:
        """Schemas of the graph's subgraphs by namespace."""
        assistant = await self.get(assistant_id, owner=owner)
        return await self._graphs.subgraphs(
            assistant["graph_id"], self._introspection_config(assistant), namespace=namespace, recurse=recurse
        )
