"""`python -m robyn_server` as a user runs it: start-up errors, dev mode, SIGTERM drain."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import httpx

from tests.harness.server import ROOT, ServerProcess, free_port

GRAPHS = str(ROOT / "tests" / "graphs" / "langgraph.json")


def _run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ROBYN_", "SUPABASE_", "LANGGRAPH_"))}
    return subprocess.run(
        [sys.executable, "-m", "robyn_server", "--env-file", "/nonexistent", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_invalid_configuration_stops_with_one_line() -> None:
    result = _run_cli({"ROBYN_HOST": "127.0.0.1", "ROBYN_PORT": "not-a-port"})
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == ["robyn-server: configuration error: ROBYN_PORT must be an integer, got 'not-a-port'"]


def test_processes_above_one_are_refused_with_memory_storage() -> None:
    result = _run_cli({"ROBYN_HOST": "127.0.0.1"}, "--processes", "2")
    assert result.returncode == 2
    assert "in-memory storage" in result.stderr and "--workers" in result.stderr


def test_dev_mode_refuses_public_bind() -> None:
    result = _run_cli({"ROBYN_HOST": "0.0.0.0", "ROBYN_PORT": str(free_port())})
    assert result.returncode == 2
    assert "ROBYN_ALLOW_UNAUTHENTICATED_REMOTE" in result.stderr


def test_broken_graph_config_is_one_line(tmp_path) -> None:
    config = tmp_path / "langgraph.json"
    config.write_text('{"graphs": {"x": "./missing.py:graph"}}')
    result = _run_cli({"ROBYN_HOST": "127.0.0.1", "LANGGRAPH_CONFIG": str(config)})
    assert result.returncode == 2
    assert "cannot start" in result.stderr and "missing.py" in result.stderr


def test_dev_mode_acts_as_one_local_user_and_warns() -> None:
    server = ServerProcess({"LANGGRAPH_CONFIG": GRAPHS}).start()
    try:
        created = httpx.post(f"{server.url}/threads", json={}).json()
        assert created["metadata"]["owner"] == "00000000-0000-4000-8000-000000000000"
        assert "AUTHENTICATION IS OFF" in server.log_text()
    finally:
        server.stop()


def test_sigterm_drains_in_flight_requests_and_exits_zero() -> None:
    server = ServerProcess({"LANGGRAPH_CONFIG": GRAPHS}).start()
    result: dict[str, object] = {}

    def wait_run() -> None:
        response = httpx.post(
            f"{server.url}/runs/wait",
            json={"assistant_id": "slow", "input": {"seconds": 1.0, "steps": 2}},
            timeout=30,
        )
        result["status"] = response.status_code
        result["body"] = response.text

    worker = threading.Thread(target=wait_run)
    worker.start()
    time.sleep(0.4)
    assert server.proc is not None
    started = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    code = server.proc.wait(20)
    worker.join(20)
    assert code == 0, server.log_text()
    assert time.monotonic() - started < 15
    assert result.get("status") == 200
    assert "slept" in str(result.get("body"))
