"""MCP tools: discover the configured tools on an MCP server and wrap them as LangChain tools.

The server is reached at `{mcp_config.url.rstrip('/')}/mcp` over streamable HTTP with the
official `mcp` SDK (`streamable_http_client` + `ClientSession`), sending
`Authorization: Bearer <token>` when a token is given.

- Discovery opens one session, pages through `tools/list` (`nextCursor`) and keeps the tools
  named in `mcp_config.tools`, stopping once all are found. Any failure (connection refused,
  HTTP 401/500, a bad response, a timeout) is logged as a warning and yields no tools: the
  agent then runs without them.
- Each tool call opens its own session, as the reference tools agent does. A session cannot
  outlive one graph node anyway: the SDK's anyio task groups must be entered and left in the
  same asyncio task, and LangGraph runs every node in a task of its own.
- Tool failures never escape as exceptions: an `isError` result, a JSON-RPC error or a
  transport error raises `ToolException`, which `handle_tool_error=True` turns into the
  text of an error `ToolMessage`. The MCP "interaction required" error (-32003) keeps its
  message and authentication URL so the model can hand the user a link.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from langchain_core.tools import BaseTool, StructuredTool, ToolException
from mcp import ClientSession
from mcp import types as mcp_types
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from robyn_server.agent.config import MCPConfig

logger = logging.getLogger(__name__)

INTERACTION_REQUIRED = -32003
DISCOVERY_TIMEOUT = 20.0
CALL_TIMEOUT = 120.0
_HTTP_TIMEOUT = httpx2.Timeout(30.0, connect=5.0, read=CALL_TIMEOUT)
_MAX_PAGES = 100


def mcp_endpoint(url: str) -> str:
    """The streamable HTTP endpoint of an MCP server configured by its base URL."""
    return f"{url.rstrip('/')}/mcp"


@asynccontextmanager
async def open_session(endpoint: str, token: str | None) -> AsyncIterator[ClientSession]:
    """An initialized MCP client session to `endpoint`, closed on exit."""
    headers = {"Authorization": f"Bearer {token}"} if token else None
    async with (
        httpx2.AsyncClient(headers=headers, timeout=_HTTP_TIMEOUT) as http,
        streamable_http_client(endpoint, http_client=http) as streams,
        ClientSession(streams[0], streams[1]) as session,
    ):
        await session.initialize()
        yield session


def root_cause(exc: BaseException) -> BaseException:
    """The first leaf of (possibly nested) exception groups, which anyio task groups produce."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def describe_error(exc: BaseException) -> str:
    """A one-line description of an MCP failure, fit for a log line or a ToolMessage."""
    cause = root_cause(exc)
    if isinstance(cause, MCPError):
        data = cause.data if isinstance(cause.data, dict) else {}
        if cause.code == INTERACTION_REQUIRED:
            message = data.get("message")
            text = message.get("text") if isinstance(message, dict) else None
            url = data.get("url")
            text = text if isinstance(text, str) and text else cause.message
            return f"{text} Authentication URL: {url}" if isinstance(url, str) and url else text
        return f"MCP error {cause.code}: {cause.message}"
    if isinstance(cause, TimeoutError):
        return "the MCP server did not answer in time"
    return f"{type(cause).__name__}: {cause}" if str(cause) else type(cause).__name__


def result_text(result: mcp_types.CallToolResult) -> str:
    """The text of a tool result: its text parts joined, else its structured content as JSON."""
    texts = [block.text for block in result.content if isinstance(block, mcp_types.TextContent)]
    if texts:
        return "\n".join(texts)
    if result.structured_content is not None:
        return json.dumps(result.structured_content)
    return ""


async def call_mcp_tool(endpoint: str, token: str | None, name: str, arguments: dict[str, Any]) -> str:
    """Call one MCP tool in a fresh session and return its text.

    Raises:
        ToolException: the tool reported an error, or the call failed (see `describe_error`).
    """
    try:
        async with asyncio.timeout(CALL_TIMEOUT), open_session(endpoint, token) as session:
            result = await session.call_tool(name, arguments)
    except Exception as exc:
        raise ToolException(describe_error(exc)) from exc
    text = result_text(result)
    if result.is_error:
        raise ToolException(text or f"MCP tool '{name}' failed")
    return text


def wrap_mcp_tool(tool: mcp_types.Tool, endpoint: str, token: str | None) -> BaseTool:
    """A LangChain tool whose schema is the MCP tool's `inputSchema` and which calls it over MCP."""

    async def call(**arguments: Any) -> str:
        return await call_mcp_tool(endpoint, token, tool.name, arguments)

    return StructuredTool(
        name=tool.name,
        description=tool.description or tool.title or tool.name,
        args_schema=tool.input_schema,
        coroutine=call,
        handle_tool_error=True,
        metadata={"mcp_endpoint": endpoint},
    )


async def _discover(session: ClientSession, wanted: set[str]) -> dict[str, mcp_types.Tool]:
    found: dict[str, mcp_types.Tool] = {}
    cursor: str | None = None
    for _ in range(_MAX_PAGES):
        params = mcp_types.PaginatedRequestParams(cursor=cursor) if cursor else None
        page = await session.list_tools(params=params)
        for tool in page.tools:
            if tool.name in wanted:
                found.setdefault(tool.name, tool)
        if len(found) == len(wanted) or not page.next_cursor or page.next_cursor == cursor:
            break
        cursor = page.next_cursor
    return found


async def load_mcp_tools(mcp_config: MCPConfig, token: str | None = None) -> list[BaseTool]:
    """The tools of `mcp_config.tools` found on the MCP server, in configured order.

    Never raises: an unreachable or failing server is logged and gives `[]`.
    """
    if not mcp_config.url or not mcp_config.tools:
        return []
    endpoint = mcp_endpoint(mcp_config.url)
    wanted = list(dict.fromkeys(mcp_config.tools))
    try:
        async with asyncio.timeout(DISCOVERY_TIMEOUT), open_session(endpoint, token) as session:
            found = await _discover(session, set(wanted))
    except Exception as exc:
        logger.warning(
            "MCP server %s is unavailable; running without its tools (%s)", endpoint, describe_error(exc)
        )
        return []
    missing = [name for name in wanted if name not in found]
    if missing:
        logger.warning("MCP server %s does not offer the tools %s", endpoint, missing)
    return [wrap_mcp_tool(found[name], endpoint, token) for name in wanted if name in found]
