"""Session fixtures: the Supabase-auth stand-in, the real server subprocess, two users.

The server runs `tests/graphs/langgraph.json` with full Supabase verification (JWKS +
legacy secret + remote check) against a local stand-in that signs real tokens. Only
the outside world is faked, and only at the wire.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.fakes.supabase_auth import SupabaseAuthStandIn
from tests.harness.server import ServerProcess

TESTS = Path(__file__).resolve().parent
GRAPHS_CONFIG = TESTS / "graphs" / "langgraph.json"
SERVICE_API_KEY = "test-service-key-0123456789"


@dataclass(frozen=True)
class TestUser:
    """A Supabase user with a valid access token."""

    __test__ = False

    user_id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        """Headers OAP's browser client sends."""
        return {"Authorization": f"Bearer {self.token}", "x-supabase-access-token": self.token}


@pytest.fixture(scope="session")
def supabase() -> Iterator[SupabaseAuthStandIn]:
    """The Supabase-auth stand-in (JWKS, /auth/v1/user, token factory)."""
    standin = SupabaseAuthStandIn(publish_keys=True).start()
    yield standin
    standin.stop()


@pytest.fixture(scope="session")
def server(supabase: SupabaseAuthStandIn) -> Iterator[ServerProcess]:
    """The real server, authenticating against the stand-in."""
    proc = ServerProcess(
        {
            "SUPABASE_URL": supabase.url,
            "SUPABASE_KEY": supabase.anon_key,
            "SUPABASE_JWT_SECRET": supabase.jwt_secret,
            "ROBYN_API_KEY": SERVICE_API_KEY,
            "LANGGRAPH_CONFIG": str(GRAPHS_CONFIG),
            "ROBYN_LOG_LEVEL": "WARNING",
            "ROBYN_WORKERS": "4",
            "ROBYN_HEARTBEAT_SECONDS": "0.5",
        }
    ).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def base_url(server: ServerProcess) -> str:
    """Where the server listens."""
    return server.url


def _user(supabase: SupabaseAuthStandIn) -> TestUser:
    user_id = str(uuid.uuid4())
    return TestUser(user_id, supabase.token(user_id, alg="ES256"))


@pytest.fixture(scope="session")
def alice(supabase: SupabaseAuthStandIn) -> TestUser:
    """First user."""
    return _user(supabase)


@pytest.fixture(scope="session")
def bob(supabase: SupabaseAuthStandIn) -> TestUser:
    """Second user, who must never see the first user's objects."""
    return _user(supabase)


@pytest.fixture()
def http(base_url: str, alice: TestUser) -> Iterator[httpx.Client]:
    """httpx client authenticated as alice."""
    with httpx.Client(base_url=base_url, headers=alice.headers, timeout=30) as client:
        yield client


@pytest.fixture()
def http_bob(base_url: str, bob: TestUser) -> Iterator[httpx.Client]:
    """httpx client authenticated as bob."""
    with httpx.Client(base_url=base_url, headers=bob.headers, timeout=30) as client:
        yield client


@pytest.fixture()
def anon_http(base_url: str) -> Iterator[httpx.Client]:
    """httpx client without credentials."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        yield client


@pytest.fixture()
def service_http(base_url: str) -> Iterator[httpx.Client]:
    """httpx client using the service identity (OAP's langsmith scheme)."""
    headers = {"x-auth-scheme": "langsmith", "x-api-key": SERVICE_API_KEY}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        yield client


@pytest.fixture()
def sdk(base_url: str, alice: TestUser):
    """The official async langgraph-sdk client as alice."""
    from langgraph_sdk import get_client

    return get_client(url=base_url, api_key=None, headers=alice.headers)


@pytest.fixture()
def sdk_bob(base_url: str, bob: TestUser):
    """The official async langgraph-sdk client as bob."""
    from langgraph_sdk import get_client

    return get_client(url=base_url, api_key=None, headers=bob.headers)
