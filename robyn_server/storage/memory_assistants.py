"""In-memory assistants and their versions."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from robyn_server.errors import Conflict, Forbidden, InvalidInput, NotFound
from robyn_server.storage.base import (
    SYSTEM_CREATOR,
    Assistant,
    AssistantFilter,
    AssistantPatch,
    AssistantVersion,
    Page,
    SearchResult,
)
from robyn_server.storage.filters import json_contains
from robyn_server.storage.memory_records import MultiIndex, clone, owned_metadata, sort_and_page, utcnow

ASSISTANT_SORT_FIELDS = frozenset({"assistant_id", "graph_id", "name", "created_at", "updated_at"})


def is_system(assistant: Assistant) -> bool:
    """Whether the assistant is a system one: ownerless and created by the server.

    The owner check matters: a user may put `created_by: system` in their own
    assistant's metadata, which must not publish it to everyone.
    """
    return assistant["owner"] is None and assistant["metadata"].get("created_by") == SYSTEM_CREATOR


def _version_of(assistant: Assistant, created_at: datetime) -> AssistantVersion:
    return AssistantVersion(
        assistant_id=assistant["assistant_id"],
        version=assistant["version"],
        graph_id=assistant["graph_id"],
        config=clone(assistant["config"]),
        context=clone(assistant["context"]),
        metadata=clone(assistant["metadata"]),
        created_at=created_at,
        name=assistant["name"],
        description=assistant["description"],
    )


class InMemoryAssistantRepository:
    """Assistants keyed by id, each with its full version history.

    Users see their own assistants plus the system ones, and may change only their own.
    """

    def __init__(self) -> None:
        self._latest: dict[str, Assistant] = {}
        # assistant_id -> version number -> that version
        self._versions: dict[str, dict[int, AssistantVersion]] = {}
        # owner (None for the service's and system assistants) -> assistant ids
        self._by_owner = MultiIndex()
        self._system: set[str] = set()

    def __len__(self) -> int:
        return len(self._latest)

    def _visible(self, assistant: Assistant, owner: str | None) -> bool:
        return owner is None or assistant["owner"] == owner or assistant["assistant_id"] in self._system

    def _candidates(self, owner: str | None) -> Iterable[Assistant]:
        if owner is None:
            return self._latest.values()
        ids = set(self._by_owner.get(owner)) | self._system
        return (self._latest[i] for i in ids)

    def _visible_or(self, assistant_id: str, owner: str | None, error: NotFound) -> Assistant:
        assistant = self._latest.get(assistant_id)
        if assistant is None or not self._visible(assistant, owner):
            raise error
        return assistant

    def _writable_or(self, assistant_id: str, owner: str | None, error: NotFound) -> Assistant:
        assistant = self._visible_or(assistant_id, owner, error)
        if owner is not None and assistant["owner"] != owner:
            raise Forbidden("System assistants cannot be modified")
        return assistant

    def _store_latest(self, assistant: Assistant) -> None:
        aid = assistant["assistant_id"]
        previous = self._latest.get(aid)
        if previous is not None:
            self._by_owner.discard(previous["owner"], aid)
        self._latest[aid] = assistant
        self._by_owner.add(assistant["owner"], aid)
        if is_system(assistant):
            self._system.add(aid)
        else:
            self._system.discard(aid)

    async def create(self, assistant: Assistant, *, owner: str | None, if_exists: str = "raise") -> Assistant:
        """Store version 1 of a new assistant.

        A user (`owner` not None) always creates an assistant they own, whatever the
        record's `owner` says; the service keeps the record's `owner`.

        Raises:
            Conflict: the id exists and `if_exists` is `raise`, or it exists but is not
                visible to the caller (another user's record is never returned).
            InvalidInput: `if_exists` is neither `raise` nor `do_nothing`.
        """
        if if_exists not in ("raise", "do_nothing"):
            raise InvalidInput(f"Invalid if_exists: {if_exists!r}")
        aid = assistant["assistant_id"]
        existing = self._latest.get(aid)
        if existing is not None:
            if if_exists == "do_nothing" and self._visible(existing, owner):
                return clone(existing)
            raise Conflict(f"Assistant {aid} already exists")
        record: Assistant = clone(assistant)
        if owner is not None:
            record["owner"] = owner
        record["version"] = 1
        record["metadata"] = owned_metadata(record["metadata"], record["owner"])
        self._store_latest(record)
        self._versions[aid] = {1: _version_of(record, record["created_at"])}
        return clone(record)

    async def get(self, assistant_id: str, *, owner: str | None) -> Assistant:
        """Return the latest version visible to `owner`. Raises NotFound."""
        return clone(self._visible_or(assistant_id, owner, NotFound()))

    async def patch(self, assistant_id: str, patch: AssistantPatch, *, owner: str | None) -> Assistant:
        """Create version max+1 from the latest one and make it latest.

        Metadata is merged into the latest version's; the other given fields replace it.

        Raises:
            NotFound: unknown or another user's assistant.
            Forbidden: a user patching a system assistant.
        """
        current = self._writable_or(assistant_id, owner, NotFound())
        now = utcnow()
        record: Assistant = clone(current)
        if patch.graph_id is not None:
            record["graph_id"] = patch.graph_id
        if patch.config is not None:
            record["config"] = clone(patch.config)
        if patch.context is not None:
            record["context"] = clone(patch.context)
        if patch.name is not None:
            record["name"] = patch.name
        if patch.description is not None:
            record["description"] = patch.description
        if patch.metadata is not None:
            record["metadata"] = {**record["metadata"], **clone(patch.metadata)}
        record["metadata"] = owned_metadata(record["metadata"], record["owner"])
        versions = self._versions[assistant_id]
        record["version"] = max(versions) + 1
        record["updated_at"] = now
        versions[record["version"]] = _version_of(record, now)
        self._store_latest(record)
        return clone(record)

    async def delete(self, assistant_id: str, *, owner: str | None) -> None:
        """Delete every version.

        Raises:
            NotFound: unknown or another user's assistant.
            Forbidden: a user deleting a system assistant.
        """
        current = self._writable_or(
            assistant_id, owner, NotFound(f"Assistant with ID {assistant_id} not found")
        )
        del self._latest[assistant_id]
        del self._versions[assistant_id]
        self._by_owner.discard(current["owner"], assistant_id)
        self._system.discard(assistant_id)

    def _matching(self, filters: AssistantFilter, owner: str | None) -> Iterable[Assistant]:
        name = filters.name.casefold() if filters.name is not None else None
        for assistant in self._candidates(owner):
            if filters.graph_id is not None and assistant["graph_id"] != filters.graph_id:
                continue
            if name is not None and name not in assistant["name"].casefold():
                continue
            if filters.metadata is not None and not json_contains(assistant["metadata"], filters.metadata):
                continue
            yield assistant

    async def search(
        self, filters: AssistantFilter, page: Page, *, owner: str | None
    ) -> SearchResult[Assistant]:
        """Assistants visible to `owner` that match, ordered and paged.

        `name` is a case-insensitive substring, `graph_id` exact, `metadata` containment.

        Raises:
            InvalidInput: unknown `sort_by`.
        """
        return sort_and_page(
            self._matching(filters, owner), page, sortable=ASSISTANT_SORT_FIELDS, id_field="assistant_id"
        )

    async def count(self, filters: AssistantFilter, *, owner: str | None) -> int:
        """How many visible assistants match."""
        return sum(1 for _ in self._matching(filters, owner))

    async def versions(
        self,
        assistant_id: str,
        *,
        metadata: dict[str, Any] | None,
        limit: int,
        offset: int,
        owner: str | None,
    ) -> list[AssistantVersion]:
        """Versions newest first, optionally filtered by metadata containment. Raises NotFound."""
        self._visible_or(assistant_id, owner, NotFound())
        history = self._versions[assistant_id]
        matching = [
            history[number]
            for number in sorted(history, reverse=True)
            if metadata is None or json_contains(history[number]["metadata"], metadata)
        ]
        return [clone(v) for v in matching[offset : offset + limit]]

    async def set_latest(self, assistant_id: str, version: int, *, owner: str | None) -> Assistant:
        """Make an existing version's content the latest (no new version is created).

        Raises:
            NotFound: unknown or another user's assistant, or an unknown version.
            Forbidden: a user changing a system assistant.
        """
        current = self._writable_or(assistant_id, owner, NotFound())
        chosen = self._versions[assistant_id].get(version)
        if chosen is None:
            raise NotFound(f"Version {version} of assistant {assistant_id} not found")
        record: Assistant = clone(current)
        record["graph_id"] = chosen["graph_id"]
        record["config"] = clone(chosen["config"])
        record["context"] = clone(chosen["context"])
        record["metadata"] = owned_metadata(clone(chosen["metadata"]), record["owner"])
        record["name"] = chosen["name"]
        record["description"] = chosen["description"]
        record["version"] = version
        record["updated_at"] = utcnow()
        self._store_latest(record)
        return clone(record)
