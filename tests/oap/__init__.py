"""Open Agent Platform compatibility: the tools agent served over HTTP, OAP's call list.

Everything runs against real server subprocesses; only the outside world (model, MCP,
RAG, Supabase) is replaced, at the wire, by the stand-ins the fixtures in `conftest.py` start.
"""
