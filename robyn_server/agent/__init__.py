"""The Open Agent Platform tools agent served by default (`robyn_server/agent/langgraph.json`).

A ReAct agent on an OpenAI-compatible chat model with MCP tools (with RFC 8693 token
exchange cached in the LangGraph store) and LangConnect RAG tools. See `graph.py`.
"""

from robyn_server.agent.config import GraphConfigPydantic, MCPConfig, RagConfig
from robyn_server.agent.graph import build_agent, graph

__all__ = ["GraphConfigPydantic", "MCPConfig", "RagConfig", "build_agent", "graph"]
