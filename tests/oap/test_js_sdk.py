"""OAP's call list replayed by the JS SDK `@langchain/langgraph-sdk`, in Node.

`tests/js/oap_flow.mjs` runs once per SDK version pinned in `tests/js/package.json`: 0.0.85
(the version OAP's yarn.lock resolves) and the newest release. It drives the agent server
(defaults route, agents CRUD, schemas, chat stream, history, regenerate, isolation) and the
session server (the inbox, which needs the interrupting `hitl` graph), as two fresh Supabase
users, and prints one JSON summary line; any failed check exits non-zero with its name.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import SERVICE_API_KEY, TestUser
from tests.fakes.mcp_server import FakeMCPServer
from tests.harness.server import ServerProcess

JS_DIR = Path(__file__).resolve().parents[1] / "js"
FLOW = JS_DIR / "oap_flow.mjs"
NPM_ALIAS = re.compile(r"^npm:@langchain/langgraph-sdk@(?P<version>\d+\.\d+\.\d+)$")
NODE_TIMEOUT = 120


def pinned_versions() -> dict[str, str]:
    """SDK alias -> exact version, as pinned in tests/js/package.json."""
    dependencies = json.loads((JS_DIR / "package.json").read_text())["dependencies"]
    pinned = {}
    for alias, spec in dependencies.items():
        match = NPM_ALIAS.match(spec)
        assert match, f"{alias} must pin an exact @langchain/langgraph-sdk version, got {spec!r}"
        pinned[alias] = match["version"]
    return pinned


def installed_version(alias: str) -> str | None:
    """The version installed under node_modules/<alias>, if any."""
    manifest = JS_DIR / "node_modules" / alias / "package.json"
    return json.loads(manifest.read_text())["version"] if manifest.is_file() else None


@pytest.fixture(scope="session")
def node() -> str:
    """The `node` executable, with the pinned SDKs installed (`npm ci` once if needed)."""
    node_bin = shutil.which("node")
    if node_bin is None:
        pytest.skip("node is not installed: the JS SDK compatibility tests need Node 18+")
    pinned = pinned_versions()
    if any(installed_version(alias) != version for alias, version in pinned.items()):
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("tests/js/node_modules is missing or stale and npm is not installed to run `npm ci`")
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=JS_DIR,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            pytest.skip(f"`npm ci` in tests/js failed (registry unreachable?):\n{done.stderr[-2000:]}")
    for alias, version in pinned.items():
        assert installed_version(alias) == version, f"node_modules/{alias} is not {version}"
    return node_bin


@pytest.mark.parametrize("sdk", ["sdk-0085", "sdk-latest"])
def test_oap_call_list_with_the_js_sdk(
    sdk: str,
    node: str,
    agent_server: ServerProcess,
    server: ServerProcess,
    mcp: FakeMCPServer,
    new_user: Callable[[], TestUser],
) -> None:
    user, other = new_user(), new_user()
    # The SDK sends x-api-key from these variables when set: keep the browser's view.
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"LANGGRAPH_API_KEY", "LANGSMITH_API_KEY", "LANGCHAIN_API_KEY"}
    }
    env.update(
        {
            "OAP_AGENT_URL": agent_server.url,
            "OAP_MAIN_URL": server.url,
            "OAP_SERVICE_API_KEY": SERVICE_API_KEY,
            "OAP_USER_TOKEN": user.token,
            "OAP_OTHER_TOKEN": other.token,
            "OAP_MCP_URL": mcp.url,
        }
    )
    done = subprocess.run(
        [node, str(FLOW), sdk], cwd=JS_DIR, env=env, capture_output=True, text=True, timeout=NODE_TIMEOUT
    )
    lines = done.stdout.strip().splitlines()
    assert lines, f"no output from oap_flow.mjs {sdk}:\n{done.stderr[-4000:]}"
    summary = json.loads(lines[-1])
    assert done.returncode == 0 and summary["ok"], (
        f"oap_flow.mjs {sdk} failed: {summary.get('error')}\n{done.stderr[-4000:]}"
        f"\n--- agent server log ---\n{agent_server.log_text()[-3000:]}"
    )
    assert summary["version"] == pinned_versions()[sdk]
    assert summary["checks"] > 400
    assert summary["system_assistants"] == 1
    assert summary["run_id"]
    assert summary["inbox_threads"] == 3
