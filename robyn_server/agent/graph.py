"""The Open Agent Platform tools agent: a ReAct agent with MCP and RAG tools.

`graph(config)` is the one-argument async factory `langgraph.json` names. It only assembles
and compiles the graph, which makes no network call, so the server may call it to build
schemas (`GET /assistants/{id}/schemas`) with any assistant config.

Everything that needs the network is resolved lazily, from the run's own config, the first
time the `agent` (or `tools`) node runs: the MCP access token (store cache or RFC 8693
exchange), MCP tool discovery, the RAG collections, and the chat model. The resolved tools are
memoised per run (keyed by `configurable.run_id`), so one run discovers them once.

Config read at run time: `configurable` = the `GraphConfigPydantic` fields plus `apiKeys`
(per-user model keys), `x-supabase-access-token` (the user's Supabase JWT, for RAG and the MCP
token exchange) and `run_id`; `metadata.owner` (the user id keying the MCP token cache). The
store comes from `langgraph.config.get_store()` inside the node.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

import httpx
from langchain_core.messages import AIMessage, AnyMessage, SystemMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.config import get_store
from langgraph.errors import GraphBubbleUp
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.managed import RemainingSteps
from langgraph.store.base import BaseStore
from typing_extensions import TypedDict

from robyn_server.agent.config import DEFAULT_SYSTEM_PROMPT, UNEDITABLE_SYSTEM_PROMPT, GraphConfigPydantic
from robyn_server.agent.mcp_tools import load_mcp_tools
from robyn_server.agent.model import MODEL_TIMEOUT, build_chat_model
from robyn_server.agent.rag_tools import load_rag_tools
from robyn_server.agent.tokens import get_mcp_token

logger = logging.getLogger(__name__)

SUPABASE_TOKEN_KEY = "x-supabase-access-token"
NEED_MORE_STEPS = "Sorry, need more steps to process this request."


class AgentState(TypedDict):
    """The agent's state: the conversation, plus LangGraph's step budget."""

    messages: Annotated[Sequence[AnyMessage], add_messages]
    remaining_steps: RemainingSteps


def settings_from(config: RunnableConfig) -> GraphConfigPydantic:
    """The assistant settings in `config["configurable"]` (unknown keys ignored)."""
    return GraphConfigPydantic(**(config.get("configurable") or {}))


def system_prompt(settings: GraphConfigPydantic) -> str:
    """The configured system prompt followed by the uneditable authentication hint."""
    base = settings.system_prompt if settings.system_prompt is not None else DEFAULT_SYSTEM_PROMPT
    return base + UNEDITABLE_SYSTEM_PROMPT


def _current_store() -> BaseStore | None:
    try:
        return get_store()
    except Exception:
        return None


async def resolve_tools(settings: GraphConfigPydantic, config: RunnableConfig) -> list[BaseTool]:
    """Build the run's RAG and MCP tools; failures are logged and leave those tools out."""
    configurable: Mapping[str, Any] = config.get("configurable") or {}
    metadata: Mapping[str, Any] = config.get("metadata") or {}
    supabase_token = configurable.get(SUPABASE_TOKEN_KEY)
    supabase_token = supabase_token if isinstance(supabase_token, str) and supabase_token else None
    tools: list[BaseTool] = []
    rag = settings.rag
    if rag is not None and rag.rag_url and rag.collections and supabase_token:
        tools.extend(await load_rag_tools(rag, supabase_token))
    mcp = settings.mcp_config
    if mcp is not None and mcp.url and mcp.tools:
        token: str | None = None
        if mcp.auth_required:
            token = await get_mcp_token(mcp.url, configurable, metadata, _current_store())
        if token or not mcp.auth_required:
            tools.extend(await load_mcp_tools(mcp, token))
        else:
            logger.warning("No MCP access token for %s; running without MCP tools", mcp.url)
    unique: dict[str, BaseTool] = {}
    for tool in tools:
        if tool.name in unique:
            logger.warning("Duplicate tool name %r; keeping the first one", tool.name)
        unique.setdefault(tool.name, tool)
    return list(unique.values())


class RunTools:
    """The tools of each run, resolved once and shared by the `agent` and `tools` nodes.

    Keyed by `configurable.run_id`; a few recent runs are kept in case a graph instance is
    reused (the server builds one per run, so normally there is a single entry).
    """

    def __init__(self, max_runs: int = 8) -> None:
        self._max_runs = max_runs
        self._tools: OrderedDict[str, list[BaseTool]] = OrderedDict()

    async def get(self, settings: GraphConfigPydantic, config: RunnableConfig) -> list[BaseTool]:
        """The run's tools, resolving them on first use."""
        key = str((config.get("configurable") or {}).get("run_id") or "")
        if key not in self._tools:
            self._tools[key] = await resolve_tools(settings, config)
            while len(self._tools) > self._max_runs:
                self._tools.popitem(last=False)
        return self._tools[key]


async def _run_tool(
    tools: Mapping[str, BaseTool], call: Mapping[str, Any], config: RunnableConfig
) -> ToolMessage:
    name, call_id = call["name"], call["id"]
    tool = tools.get(name)
    if tool is None:
        available = ", ".join(tools) or "none"
        content = f"Error: {name} is not a valid tool, try one of [{available}]."
        return ToolMessage(content=content, name=name, tool_call_id=call_id, status="error")
    try:
        result = await tool.ainvoke({**call, "type": "tool_call"}, config)
    except GraphBubbleUp:
        raise  # interrupts and commands belong to LangGraph
    except Exception as exc:
        # handle_tool_error covers ToolException; anything else must not end the run either.
        logger.warning("Tool %s raised: %r", name, exc)
        return ToolMessage(content=f"Error: {exc!r}", name=name, tool_call_id=call_id, status="error")
    if isinstance(result, ToolMessage):
        return result
    return ToolMessage(content=str(result), name=name, tool_call_id=call_id)


def build_agent(run_tools: RunTools | None = None) -> CompiledStateGraph:
    """The compiled agent graph: `agent` (model) and `tools` nodes in a ReAct loop."""
    run_tools = run_tools or RunTools()

    async def agent(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        settings = settings_from(config)
        tools = await run_tools.get(settings, config)
        messages = [SystemMessage(content=system_prompt(settings)), *state["messages"]]
        api_keys = (config.get("configurable") or {}).get("apiKeys")
        # A client per call, closed here: never shared across event loops.
        async with httpx.AsyncClient(timeout=MODEL_TIMEOUT) as http:
            model = build_chat_model(
                settings, api_keys if isinstance(api_keys, dict) else None, http_async_client=http
            )
            runnable = model.bind_tools(tools) if tools else model
            response = await runnable.ainvoke(messages, config)
        if isinstance(response, AIMessage) and response.tool_calls and state["remaining_steps"] < 2:
            return {"messages": [AIMessage(id=response.id, content=NEED_MORE_STEPS)]}
        return {"messages": [response]}

    async def tools(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        last = state["messages"][-1]
        calls = last.tool_calls if isinstance(last, AIMessage) else []
        by_name = {tool.name: tool for tool in await run_tools.get(settings_from(config), config)}
        results = await asyncio.gather(*(_run_tool(by_name, call, config) for call in calls))
        return {"messages": list(results)}

    def route(state: AgentState) -> Literal["tools", "__end__"]:
        last = state["messages"][-1] if state["messages"] else None
        return "tools" if isinstance(last, AIMessage) and last.tool_calls else END

    builder = StateGraph(AgentState, context_schema=GraphConfigPydantic)
    builder.add_node("agent", agent)
    builder.add_node("tools", tools)
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", route, ["tools", END])
    builder.add_edge("tools", "agent")
    return builder.compile()


async def graph(config: RunnableConfig) -> CompiledStateGraph:
    """The tools agent for one run (or for schema introspection): no network, no validation.

    The config is deliberately not read here: the nodes read the run's config, so building the
    graph never fails or connects, whatever the assistant's `mcp_config`/`rag`/`model_name`.
    """
    del config
    return build_agent()
