"""`ServerProcess`: `python -m robyn_server` in a subprocess on a free port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """One server subprocess. Its log goes to a temp file, shown when start-up fails."""

    def __init__(self, env: Mapping[str, str], *, args: list[str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._env = env
        self._args = args or []
        self._log = tempfile.NamedTemporaryFile(prefix="robyn-server-", suffix=".log", delete=False)  # noqa: SIM115
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> str:
        """Where the server's stdout/stderr go."""
        return self._log.name

    def log_text(self) -> str:
        """Everything the server printed so far."""
        return Path(self._log.name).read_text(errors="replace")

    def start(self, timeout: float = 30.0) -> ServerProcess:
        """Start and wait until `/ok` answers. Raises RuntimeError with the log on failure."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ROBYN_", "SUPABASE_", "LANGGRAPH_"))}
        env.update({"ROBYN_HOST": "127.0.0.1", "ROBYN_PORT": str(self.port), "PYTHONUNBUFFERED": "1"})
        env.update(self._env)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "robyn_server", "--env-file", "/nonexistent/.env", *self._args],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_text()}")
            try:
                if httpx.get(f"{self.url}/ok", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"server did not become ready:\n{self.log_text()}")

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, wait for a clean exit, SIGKILL as a last resort. Returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            return None
