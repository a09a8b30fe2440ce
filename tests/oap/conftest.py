"""Fixtures for the OAP tests: the stand-ins at the wire and the agent server.

- `fake_llm`: the bundled fake OpenAI-compatible model (`robyn_server.fake_llm`);
  `slow_llm`: another one streaming slowly, reached through an assistant's `base_url`.
- `mcp` / `mcp_auth`: real MCP servers (the `mcp` SDK's server side) with an RFC 8693
  `/oauth/token` endpoint; `mcp_auth` refuses `/mcp` without a token it issued.
- `rag`: a LangConnect-like RAG server.
- `agent_server`: a second server subprocess started WITHOUT `LANGGRAPH_CONFIG`, so it
  serves the bundled OAP tools agent (`agent`), with the model pointed at `fake_llm` and the
  same Supabase stand-in and service key as the session `server` (which serves `hitl`).
- `new_user`: mints a fresh Supabase user, so token caches and searches start empty.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from robyn_server.fake_llm import FakeLLMServer
from tests.conftest import SERVICE_API_KEY, TestUser
from tests.fakes.mcp_server import FakeMCPServer
from tests.fakes.rag_server import FakeRagServer
from tests.fakes.supabase_auth import SupabaseAuthStandIn
from tests.harness.server import ServerProcess
from tests.oap.support import SERVER_OPENAI_KEY


@pytest.fixture(scope="session")
def fake_llm() -> Iterator[FakeLLMServer]:
    """The fake OpenAI-compatible model server."""
    server = FakeLLMServer(port=0).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def slow_llm() -> Iterator[FakeLLMServer]:
    """A second fake model streaming one token per 50 ms (assistants reach it via `base_url`)."""
    server = FakeLLMServer(port=0, token_delay=0.05).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mcp() -> Iterator[FakeMCPServer]:
    """An MCP server without auth (tools `add`, `lookup_city`, `explode`, `needs_auth`)."""
    with FakeMCPServer() as server:
        yield server


@pytest.fixture()
def mcp_auth() -> Iterator[FakeMCPServer]:
    """A fresh auth-required MCP server per test, so its token counters start at zero."""
    with FakeMCPServer(require_auth=True) as server:
        yield server


@pytest.fixture(scope="session")
def rag() -> Iterator[FakeRagServer]:
    """The LangConnect-like RAG server (one collection, "Cats & Dogs")."""
    with FakeRagServer() as server:
        yield server


@pytest.fixture(scope="session")
def agent_server(supabase: SupabaseAuthStandIn, fake_llm: FakeLLMServer) -> Iterator[ServerProcess]:
    """The server with its default graphs (the OAP tools agent), Supabase auth and a service key."""
    proc = ServerProcess(
        {
            "SUPABASE_URL": supabase.url,
            "SUPABASE_KEY": supabase.anon_key,
            "SUPABASE_JWT_SECRET": supabase.jwt_secret,
            "ROBYN_API_KEY": SERVICE_API_KEY,
            "OPENAI_API_BASE": fake_llm.url,
            "OPENAI_API_KEY": SERVER_OPENAI_KEY,
            "ROBYN_LOG_LEVEL": "WARNING",
            "ROBYN_WORKERS": "4",
            "ROBYN_HEARTBEAT_SECONDS": "0.5",
        }
    ).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def agent_url(agent_server: ServerProcess) -> str:
    """Where the agent server listens."""
    return agent_server.url


@pytest.fixture()
def new_user(supabase: SupabaseAuthStandIn) -> Callable[[], TestUser]:
    """A factory of fresh Supabase users with valid ES256 access tokens."""

    def make() -> TestUser:
        user_id = str(uuid.uuid4())
        return TestUser(user_id, supabase.token(user_id, alg="ES256"))

    return make
