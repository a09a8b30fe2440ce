"""Plumbing shared by the in-memory repositories: copying, indexes, ordering and paging.

Nothing here knows about a particular record type; the repositories in
`memory_assistants.py`, `memory_threads.py`, `memory_runs.py` and `memory_crons.py` use it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar
from uuid import UUID

from robyn_server.errors import InvalidInput
from robyn_server.storage.base import Page, SearchResult

R = TypeVar("R", bound=Mapping[str, Any])
V = TypeVar("V")

_IMMUTABLE: frozenset[type] = frozenset(
    {str, int, float, bool, type(None), bytes, datetime, date, time, timedelta, UUID, Decimal}
)


def clone(value: V) -> V:
    """Copy a JSON-like value so the copy shares no mutable part with the original.

    Dicts, lists and tuples are rebuilt and immutable scalars (including datetimes) are
    shared, about three times faster than `copy.deepcopy`; anything else falls back
    to `copy.deepcopy`.
    """
    copied: V = _clone(value)
    return copied


def _clone(value: Any) -> Any:
    kind = type(value)
    if kind in _IMMUTABLE or isinstance(value, Enum):
        return value
    if kind is dict:
        return {key: _clone(item) for key, item in value.items()}
    if kind is list:
        return [_clone(item) for item in value]
    if kind is tuple:
        return tuple(_clone(item) for item in value)
    return copy.deepcopy(value)


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def owned_metadata(metadata: dict[str, Any], owner: str | None) -> dict[str, Any]:
    """`metadata` with `owner` re-stamped as its `owner` key (the wire copy of the truth).

    Ownerless records (the service's, system assistants) keep their metadata as is.
    """
    return metadata if owner is None else {**metadata, "owner": owner}


class MultiIndex:
    """A secondary index: key -> set of record ids, with empty sets dropped."""

    def __init__(self) -> None:
        self._ids: dict[Hashable, set[str]] = {}

    def add(self, key: Hashable, record_id: str) -> None:
        """Index `record_id` under `key`."""
        self._ids.setdefault(key, set()).add(record_id)

    def discard(self, key: Hashable, record_id: str) -> None:
        """Forget `record_id` under `key` (no error if absent)."""
        ids = self._ids.get(key)
        if ids is not None:
            ids.discard(record_id)
            if not ids:
                del self._ids[key]

    def move(self, old: Hashable, new: Hashable, record_id: str) -> None:
        """Re-index `record_id` from `old` to `new`."""
        if old != new:
            self.discard(old, record_id)
            self.add(new, record_id)

    def get(self, key: Hashable) -> Collection[str]:
        """The ids under `key` (a live view: copy it before mutating the index)."""
        return self._ids.get(key, frozenset())


def check_page(page: Page, sortable: Collection[str]) -> str:
    """Validate a page request and return the effective sort field.

    Raises:
        InvalidInput: unknown `sort_by`, bad `sort_order`, negative `limit` or `offset`.
    """
    sort_by = page.sort_by or "created_at"
    if sort_by not in sortable:
        expected = ", ".join(sorted(sortable))
        raise InvalidInput(f"Invalid sort_by: {sort_by!r}. Expected one of: {expected}")
    if page.sort_order not in ("asc", "desc"):
        raise InvalidInput(f"Invalid sort_order: {page.sort_order!r}. Expected 'asc' or 'desc'")
    if page.offset < 0 or (page.limit is not None and page.limit < 0):
        raise InvalidInput("limit and offset must not be negative")
    return sort_by


def sort_key(field: str, id_field: str) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """A sort key on `field` with ties broken by `id_field`.

    Missing values sort after every value, as NULLs do in Postgres (last ascending,
    first descending), so both backends order identically.
    """

    def key(record: Mapping[str, Any]) -> tuple[Any, ...]:
        value = record.get(field)
        return (value is None, value, record[id_field])

    return key


def sort_and_page(
    records: Iterable[R], page: Page, *, sortable: Collection[str], id_field: str
) -> SearchResult[R]:
    """Order matching records, cut one page out of them and copy that page.

    Args:
        records: the stored records that matched (not copied yet).
        page: ordering and window.
        sortable: the fields `page.sort_by` may name.
        id_field: the record's id, the tie-breaker that makes the order total.

    Returns:
        The copied page, with `total` the number of matching records.

    Raises:
        InvalidInput: see `check_page`.
    """
    sort_by = check_page(page, sortable)
    ordered = sorted(records, key=sort_key(sort_by, id_field), reverse=page.sort_order == "desc")
    end = None if page.limit is None else page.offset + page.limit
    return SearchResult(items=[clone(r) for r in ordered[page.offset : end]], total=len(ordered))
