"""Settings: the only module that reads the environment and the command line.

Precedence: command-line flags > environment > `.env` file > defaults. Invalid values
raise `ConfigError` with one line naming the variable; `__main__` prints it and exits.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from dotenv import dotenv_values

DEFAULT_CONFIG_NAME = "langgraph.json"
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


class ConfigError(ValueError):
    """Invalid configuration; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """Everything the server needs to start."""

    host: str = "0.0.0.0"
    port: int = 8081
    workers: int = 1
    processes: int = 1
    dev: bool = False
    log_level: str = "INFO"
    supabase_url: str | None = None
    supabase_key: str | None = None
    supabase_jwt_secret: str | None = None
    api_key: str | None = None
    graphs_config: Path | None = None
    storage: str = "memory"
    cors_origins: tuple[str, ...] = ("*",)
    allow_remote_dev: bool = False
    max_body_bytes: int = 10 * 1024 * 1024
    max_concurrent_runs: int = 16
    stream_retention_seconds: float = 300.0
    heartbeat_seconds: float = 5.0
    drain_seconds: float = 10.0
    openai_api_key: str | None = None
    openai_api_base: str | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)

    @property
    def auth_enabled(self) -> bool:
        """Auth is off (dev mode) when no Supabase verification source is configured."""
        return bool(self.supabase_url or self.supabase_jwt_secret)

    def validate(self) -> Settings:
        """Check cross-field rules. Raises ConfigError."""
        if self.supabase_url and not self.supabase_url.startswith(("http://", "https://")):
            raise ConfigError(f"SUPABASE_URL must start with http:// or https://, got {self.supabase_url!r}")
        if self.supabase_url and not (self.supabase_key or self.supabase_jwt_secret):
            # Without a key the remote check cannot run; JWKS alone would still work, but
            # Supabase's gateway needs `apikey`, so a missing key is almost always a mistake.
            raise ConfigError("SUPABASE_KEY is required when SUPABASE_URL is set")
        if self.processes > 1 and self.storage == "memory":
            raise ConfigError(
                "ROBYN_PROCESSES > 1 is refused with in-memory storage: each process would keep its own "
                "threads, runs and scheduler, so requests would see different data. Use --workers for "
                "concurrency instead."
            )
        if not self.auth_enabled and not _is_loopback(self.host) and not self.allow_remote_dev:
            raise ConfigError(
                f"ROBYN_HOST={self.host} with authentication off (no SUPABASE_URL or SUPABASE_JWT_SECRET): "
                "refusing to expose an unauthenticated server; bind 127.0.0.1, configure Supabase, or set "
                "ROBYN_ALLOW_UNAUTHENTICATED_REMOTE=true"
            )
        if self.graphs_config is not None and not self.graphs_config.is_file():
            raise ConfigError(f"LANGGRAPH_CONFIG file not found: {self.graphs_config}")
        return self


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _parse_bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"{name} must be true or false, got {value!r}")


def _parse_int(name: str, value: str, *, minimum: int, maximum: int | None = None) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {value!r}") from None
    if number < minimum or (maximum is not None and number > maximum):
        upper = f" and {maximum}" if maximum is not None else ""
        raise ConfigError(f"{name} must be between {minimum}{upper}, got {number}")
    return number


def _parse_float(name: str, value: str, *, minimum: float) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if number < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {number}")
    return number


def build_parser() -> argparse.ArgumentParser:
    """The command line of `python -m robyn_server`."""
    parser = argparse.ArgumentParser(
        prog="python -m robyn_server",
        description="LangGraph-API-compatible agent server on Robyn (Supabase auth, OAP tools agent).",
        allow_abbrev=False,
    )
    parser.add_argument("--host", help="bind address (ROBYN_HOST, default 0.0.0.0)")
    parser.add_argument("--port", help="port (ROBYN_PORT, default 8081)")
    parser.add_argument("--workers", help="Robyn worker threads; size for concurrent streams (ROBYN_WORKERS)")
    parser.add_argument(
        "--processes", help="processes; >1 is refused with in-memory storage (ROBYN_PROCESSES)"
    )
    parser.add_argument("--config", help="langgraph.json with the graphs to serve (LANGGRAPH_CONFIG)")
    parser.add_argument("--dev", action="store_true", default=None, help="development logging (ROBYN_DEV)")
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING, ERROR (ROBYN_LOG_LEVEL)")
    parser.add_argument("--env-file", default=".env", help="dotenv file to read if present (default .env)")
    return parser


def load_settings(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Build validated settings from flags, the environment and an optional `.env` file.

    Raises:
        ConfigError: a value is invalid; the message names the variable.
    """
    args = build_parser().parse_args(list(argv) if argv is not None else None)
    base_env = dict(environ if environ is not None else os.environ)
    file_env: dict[str, str] = {}
    env_file = Path(args.env_file)
    if env_file.is_file():
        file_env = {k: v for k, v in dotenv_values(env_file).items() if v is not None}
    env = {**file_env, **base_env}

    def get(name: str) -> str | None:
        value = env.get(name)
        return value if value not in (None, "") else None

    settings = Settings()
    changes: dict[str, object] = {}
    host = args.host or get("ROBYN_HOST")
    if host:
        changes["host"] = host
    elif not (get("SUPABASE_URL") or get("SUPABASE_JWT_SECRET")):
        # Dev mode without an explicit host: serve on loopback rather than refusing to start.
        changes["host"] = "127.0.0.1"
    if port := args.port or get("ROBYN_PORT"):
        changes["port"] = _parse_int("ROBYN_PORT", port, minimum=1, maximum=65535)
    if workers := args.workers or get("ROBYN_WORKERS"):
        changes["workers"] = _parse_int("ROBYN_WORKERS", workers, minimum=1, maximum=256)
    if processes := args.processes or get("ROBYN_PROCESSES"):
        changes["processes"] = _parse_int("ROBYN_PROCESSES", processes, minimum=1, maximum=256)
    if args.dev:
        changes["dev"] = True
    elif dev := get("ROBYN_DEV"):
        changes["dev"] = _parse_bool("ROBYN_DEV", dev)
    level = (args.log_level or get("ROBYN_LOG_LEVEL") or ("DEBUG" if changes.get("dev") else "INFO")).upper()
    if level not in {"DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL"}:
        raise ConfigError(f"ROBYN_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {level!r}")
    changes["log_level"] = "WARNING" if level == "WARN" else level
    changes["supabase_url"] = (get("SUPABASE_URL") or "").rstrip("/") or None
    changes["supabase_key"] = get("SUPABASE_KEY")
    changes["supabase_jwt_secret"] = get("SUPABASE_JWT_SECRET")
    changes["api_key"] = get("ROBYN_API_KEY")
    if config := args.config or get("LANGGRAPH_CONFIG"):
        changes["graphs_config"] = Path(config).expanduser().resolve()
    if (storage := get("ROBYN_STORAGE")) and storage != "memory":
        raise ConfigError(f"ROBYN_STORAGE must be 'memory' (the only backend so far), got {storage!r}")
    if origins := get("ROBYN_CORS_ORIGINS"):
        changes["cors_origins"] = tuple(o.strip() for o in origins.split(",") if o.strip())
    if allow := get("ROBYN_ALLOW_UNAUTHENTICATED_REMOTE"):
        changes["allow_remote_dev"] = _parse_bool("ROBYN_ALLOW_UNAUTHENTICATED_REMOTE", allow)
    if body := get("ROBYN_MAX_BODY_BYTES"):
        changes["max_body_bytes"] = _parse_int("ROBYN_MAX_BODY_BYTES", body, minimum=1024)
    if runs := get("ROBYN_MAX_CONCURRENT_RUNS"):
        changes["max_concurrent_runs"] = _parse_int("ROBYN_MAX_CONCURRENT_RUNS", runs, minimum=1)
    if retention := get("ROBYN_STREAM_RETENTION_SECONDS"):
        changes["stream_retention_seconds"] = _parse_float(
            "ROBYN_STREAM_RETENTION_SECONDS", retention, minimum=0.0
        )
    if heartbeat := get("ROBYN_HEARTBEAT_SECONDS"):
        changes["heartbeat_seconds"] = _parse_float("ROBYN_HEARTBEAT_SECONDS", heartbeat, minimum=0.05)
    if drain := get("ROBYN_DRAIN_SECONDS"):
        changes["drain_seconds"] = _parse_float("ROBYN_DRAIN_SECONDS", drain, minimum=0.0)
    changes["openai_api_key"] = get("OPENAI_API_KEY")
    changes["openai_api_base"] = get("OPENAI_API_BASE")
    # Variables from .env that graphs may read (OPENAI_*, tool keys) reach os.environ via __main__.
    changes["extra_env"] = {k: v for k, v in file_env.items() if k not in base_env}
    return replace(settings, **changes).validate()  # type: ignore[arg-type]
