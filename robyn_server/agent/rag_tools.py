"""RAG tools: one search tool per LangConnect collection.

For each collection id, `GET {rag_url}/collections/{id}` (Bearer = the user's Supabase token)
gives the tool its name (from `name`, characters outside `[a-zA-Z0-9_-]` replaced by `_`, at
most 64 characters; `collection_<id>` when empty) and description (`metadata.description`).
The tool takes `query: str` and calls `POST {rag_url}/collections/{id}/documents/search` with
`{"query": query, "limit": 10}`, formatting the hits as
`<all-documents><document id="...">content</document>...</all-documents>`.

Search errors (HTTP or transport) are returned as text inside that block, never raised.
Deviation from the reference tools agent: a collection whose GET fails at build time is logged
and skipped instead of failing the whole run.
"""

from __future__ import annotations

import logging
import re
from html import escape
from typing import Any

import httpx
from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field

from robyn_server.agent.config import RagConfig

logger = logging.getLogger(__name__)

SEARCH_LIMIT = 10
RAG_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
_INVALID_NAME_CHARS = re.compile(r"[^a-zA-Z0-9_-]")
_MAX_NAME = 64


class RagQuery(BaseModel):
    """The RAG tool's single argument."""

    query: str = Field(description="What to search the collection for")


def tool_name(name: Any, collection_id: str) -> str:
    """A valid tool name for a collection, from its display name."""
    cleaned = _INVALID_NAME_CHARS.sub("_", name)[:_MAX_NAME] if isinstance(name, str) else ""
    return cleaned or f"collection_{collection_id}"[:_MAX_NAME]


def format_documents(documents: Any) -> str:
    """The `<all-documents>` block the model reads."""
    parts = ["<all-documents>"]
    if isinstance(documents, list):
        for document in documents:
            if not isinstance(document, dict):
                continue
            doc_id = escape(str(document.get("id", "")), quote=True)
            parts.append(f'<document id="{doc_id}">{document.get("page_content", "")}</document>')
    parts.append("</all-documents>")
    return "".join(parts)


def _error_block(message: str) -> str:
    return f"<all-documents>\n<error>{message}</error>\n</all-documents>"


async def search_collection(rag_url: str, collection_id: str, token: str, query: str) -> str:
    """Search one collection and format the hits; failures come back as an error block."""
    url = f"{rag_url.rstrip('/')}/collections/{collection_id}/documents/search"
    try:
        async with httpx.AsyncClient(timeout=RAG_TIMEOUT) as client:
            response = await client.post(
                url,
                json={"query": query, "limit": SEARCH_LIMIT},
                headers={"Authorization": f"Bearer {token}"},
            )
        response.raise_for_status()
        return format_documents(response.json())
    except httpx.HTTPStatusError as exc:
        return _error_block(f"Search failed with HTTP {exc.response.status_code}: {exc.response.text}")
    except (httpx.HTTPError, ValueError) as exc:
        return _error_block(f"Search failed: {type(exc).__name__}: {exc}")


def _make_tool(rag_url: str, collection_id: str, token: str, info: dict[str, Any]) -> BaseTool:
    metadata = info.get("metadata") if isinstance(info.get("metadata"), dict) else {}
    description = metadata.get("description") if isinstance(metadata, dict) else None
    name = tool_name(info.get("name"), collection_id)

    async def search(query: str) -> str:
        return await search_collection(rag_url, collection_id, token, query)

    return StructuredTool(
        name=name,
        description=description or f"Search the '{info.get('name') or collection_id}' document collection",
        args_schema=RagQuery,
        coroutine=search,
        handle_tool_error=True,
        handle_validation_error=True,
        metadata={"rag_collection": collection_id},
    )


async def load_rag_tools(rag: RagConfig, supabase_token: str) -> list[BaseTool]:
    """One tool per configured collection that could be read; never raises."""
    if not rag.rag_url or not rag.collections or not supabase_token:
        return []
    base = rag.rag_url.rstrip("/")
    tools: list[BaseTool] = []
    async with httpx.AsyncClient(timeout=RAG_TIMEOUT) as client:
        for collection_id in dict.fromkeys(rag.collections):
            try:
                response = await client.get(
                    f"{base}/collections/{collection_id}",
                    headers={"Authorization": f"Bearer {supabase_token}"},
                )
                response.raise_for_status()
                info = response.json()
                if not isinstance(info, dict):
                    raise ValueError("the collection is not a JSON object")
            except (httpx.HTTPError, ValueError) as exc:
                logger.warning("Skipping RAG collection %s at %s: %s", collection_id, base, exc)
                continue
            tools.append(_make_tool(base, collection_id, supabase_token, info))
    return tools
