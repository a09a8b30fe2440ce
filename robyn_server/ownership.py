"""The one owner rule: which storage scope a caller gets."""

from __future__ import annotations

from typing import Any

from robyn_server.auth import User


def owner_of(user: User) -> str | None:
    """The storage `owner` for a caller: the user id, or None for the service identity (sees all)."""
    return None if user.is_service else user.identity


def stamp_owner(metadata: dict[str, Any] | None, owner: str | None) -> dict[str, Any]:
    """Copy metadata with `owner` set to the caller (the service identity stamps nothing)."""
    stamped = dict(metadata or {})
    if owner is not None:
        stamped["owner"] = owner
    return stamped
