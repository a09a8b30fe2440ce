"""`/info`: the reference's fields plus build, capabilities, graphs and runtime."""

from __future__ import annotations

import re
from datetime import datetime

import httpx
import pytest


@pytest.fixture(scope="module")
def info(base_url: str) -> dict:
    response = httpx.get(f"{base_url}/info", timeout=30)
    assert response.status_code == 200
    return response.json()


def test_reference_fields(info: dict) -> None:
    assert isinstance(info["version"], str) and isinstance(info["langgraph_py_version"], str)
    assert set(info["flags"]) == {
        "assistants",
        "crons",
        "langsmith",
        "langsmith_tracing_replicas",
        "langsmith_tracing_session_on_runs",
    }
    assert info["flags"]["assistants"] is True and info["flags"]["langsmith"] is False
    assert info["host"] == {
        "kind": "self-hosted",
        "project_id": None,
        "host_revision_id": None,
        "revision_id": None,
        "tenant_id": None,
    }


def test_seed_fields(info: dict) -> None:
    assert info["runtime"] == "robyn"
    assert {"chat", "hitl"} <= set(info["graphs"])
    commit = info["build"]["commit"]
    assert commit is None or re.fullmatch(r"[0-9a-f]{7,64}", commit)
    datetime.fromisoformat(info["build"]["date"])


def test_capabilities_reflect_served_routes(info: dict, anon_http: httpx.Client) -> None:
    paths = set(anon_http.get("/openapi.json").json()["paths"])
    caps = info["capabilities"]
    assert caps["streaming"] is True and caps["metrics"] is True and caps["openapi"] is True
    assert caps["store"] is ("/store/items" in paths)
    assert caps["a2a"] is any(p.startswith("/a2a/") for p in paths)
    assert caps["mcp"] is any(p == "/mcp" or p.startswith("/mcp/") for p in paths)
    assert caps["crons"] is any(p.startswith("/runs/crons") for p in paths)
    assert info["flags"]["crons"] is caps["crons"]
    assert caps["auth"] == "supabase" and caps["service_api_key"] is True
