"""Store use cases over LangGraph's `BaseStore`, with OAP's owner rule.

The HTTP API and the graphs' `get_store()` share one store (`storage.store`), so what a
run writes is readable over HTTP and the reverse.

Owner rule (the one Open Agent Platform's auth handler applies): a user may only touch
namespaces whose first label is their own user id. A search or namespace listing
without a prefix is narrowed to the user's own namespaces; one whose prefix names
another label is refused like any other foreign namespace. The service identity
(`owner=None`) may touch everything.
"""

from __future__ import annotations

from collections.abc import Sequence

from langgraph.store.base import BaseStore, Item, SearchItem

from robyn_server.errors import Forbidden
from robyn_server.models_platform import StoreListNamespaces, StorePut, StoreSearch

Namespace = tuple[str, ...]


def authorize(namespace: Sequence[str], owner: str | None) -> Namespace:
    """The namespace as a tuple, if `owner` may touch it.

    Raises:
        Forbidden: a user's namespace that does not start with their user id.
    """
    labels = tuple(namespace)
    if owner is not None and (not labels or labels[0] != owner):
        raise Forbidden(
            f"Not authorized to access namespace {list(labels)}: a namespace must start with your user id"
        )
    return labels


def scoped_prefix(prefix: Sequence[str] | None, owner: str | None) -> Namespace:
    """A search/listing prefix narrowed to the user's namespaces (no prefix → `(owner,)`)."""
    if owner is not None and not prefix:
        return (owner,)
    return authorize(prefix or (), owner)


class StoreService:
    """Put, get, delete, search and list namespaces for one caller."""

    def __init__(self, store: BaseStore) -> None:
        self._store = store

    async def put(self, body: StorePut, *, owner: str | None) -> None:
        """Insert or replace an item. Raises Forbidden."""
        namespace = authorize(body.namespace, owner)
        await self._store.aput(namespace, body.key, body.value, index=body.index, ttl=body.ttl)

    async def get(
        self, namespace: Sequence[str], key: str, *, refresh_ttl: bool | None, owner: str | None
    ) -> Item | None:
        """The item, or None when missing. Raises Forbidden."""
        return await self._store.aget(authorize(namespace, owner), key, refresh_ttl=refresh_ttl)

    async def delete(self, namespace: Sequence[str], key: str, *, owner: str | None) -> None:
        """Delete an item (missing is fine). Raises Forbidden."""
        await self._store.adelete(authorize(namespace, owner), key)

    async def search(self, body: StoreSearch, *, owner: str | None) -> list[SearchItem]:
        """Items under a prefix, filtered and paged. Raises Forbidden."""
        return await self._store.asearch(
            scoped_prefix(body.namespace_prefix, owner),
            query=body.query,
            filter=body.filter,
            limit=body.limit,
            offset=body.offset,
            refresh_ttl=body.refresh_ttl,
        )

    async def list_namespaces(self, body: StoreListNamespaces, *, owner: str | None) -> list[Namespace]:
        """Namespaces under a prefix (and suffix), truncated to `max_depth`. Raises Forbidden."""
        prefix = scoped_prefix(body.prefix, owner)
        return await self._store.alist_namespaces(
            prefix=prefix or None,
            suffix=tuple(body.suffix) if body.suffix else None,
            max_depth=body.max_depth,
            limit=body.limit,
            offset=body.offset,
        )
