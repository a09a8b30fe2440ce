"""MCP access tokens: RFC 8693 token exchange of the user's Supabase token, cached in the store.

The cache is the LangGraph store item `(owner, "tokens")` / `"data"`, where `owner` is
`config["metadata"]["owner"]` (the user id the server puts there). The item's value is the
token endpoint's JSON (`access_token`, `expires_in`, ...); it counts as expired once
`item.created_at + expires_in` has passed, and is then deleted and exchanged again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from langgraph.store.base import BaseStore

logger = logging.getLogger(__name__)

TOKEN_NAMESPACE_SUFFIX = "tokens"
TOKEN_KEY = "data"
TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
CLIENT_ID = "mcp_default"
EXCHANGE_TIMEOUT = httpx.Timeout(15.0, connect=5.0)


def _now() -> datetime:
    return datetime.now(UTC)


def _namespace(owner: str) -> tuple[str, str]:
    return (owner, TOKEN_NAMESPACE_SUFFIX)


async def get_cached_token(store: BaseStore | None, owner: str | None) -> str | None:
    """The cached, unexpired MCP access token of `owner`, deleting an expired one."""
    if store is None or not owner:
        return None
    try:
        item = await store.aget(_namespace(owner), TOKEN_KEY)
    except Exception as exc:
        logger.warning("Cannot read the cached MCP token of %s: %s", owner, exc)
        return None
    if item is None or not isinstance(item.value, dict):
        return None
    token = item.value.get("access_token")
    created_at = item.created_at if item.created_at.tzinfo else item.created_at.replace(tzinfo=UTC)
    try:
        lifetime = float(item.value.get("expires_in"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        lifetime = 0.0  # no known lifetime: do not trust the cached token
    expired = created_at + timedelta(seconds=lifetime) <= _now()
    if expired or not isinstance(token, str) or not token:
        try:
            await store.adelete(_namespace(owner), TOKEN_KEY)
        except Exception as exc:
            logger.warning("Cannot delete the expired MCP token of %s: %s", owner, exc)
        return None
    return token


async def exchange_token(mcp_url: str, subject_token: str) -> dict[str, Any] | None:
    """RFC 8693: trade the Supabase access token for an MCP access token.

    Returns:
        The token endpoint's JSON (with a non-empty `access_token`), or None on any failure.
    """
    base = mcp_url.rstrip("/")
    form = {
        "client_id": CLIENT_ID,
        "subject_token": subject_token,
        "grant_type": TOKEN_EXCHANGE_GRANT,
        "resource": f"{base}/mcp",
        "subject_token_type": ACCESS_TOKEN_TYPE,
    }
    try:
        async with httpx.AsyncClient(timeout=EXCHANGE_TIMEOUT) as client:
            response = await client.post(f"{base}/oauth/token", data=form)
    except httpx.HTTPError as exc:
        logger.warning("MCP token exchange with %s failed: %s", base, exc)
        return None
    if response.status_code != 200:
        logger.warning(
            "MCP token exchange with %s answered %s: %s", base, response.status_code, response.text
        )
        return None
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if not isinstance(payload, dict) or not isinstance(payload.get("access_token"), str):
        logger.warning("MCP token exchange with %s returned no access_token", base)
        return None
    return payload


async def get_mcp_token(
    mcp_url: str,
    configurable: Mapping[str, Any],
    metadata: Mapping[str, Any],
    store: BaseStore | None,
) -> str | None:
    """The MCP access token for this run: cached in the store, else exchanged (and cached).

    Returns None (callers then skip the MCP tools) when neither a cached token nor a
    Supabase token (`configurable["x-supabase-access-token"]`) is available, or the exchange fails.
    """
    owner = metadata.get("owner")
    owner = owner if isinstance(owner, str) and owner else None
    cached = await get_cached_token(store, owner)
    if cached:
        return cached
    subject_token = configurable.get("x-supabase-access-token")
    if not isinstance(subject_token, str) or not subject_token:
        logger.warning("MCP auth is required but the run has no x-supabase-access-token; skipping MCP tools")
        return None
    payload = await exchange_token(mcp_url, subject_token)
    if payload is None:
        return None
    if store is not None and owner:
        try:
            await store.aput(_namespace(owner), TOKEN_KEY, payload)
        except Exception as exc:
            logger.warning("Cannot cache the MCP token of %s: %s", owner, exc)
    return payload["access_token"]
