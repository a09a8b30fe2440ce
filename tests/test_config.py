"""Settings: precedence, validation, one-line errors naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from robyn_server.config import ConfigError, load_settings

LOCAL = {"ROBYN_HOST": "127.0.0.1"}


def test_defaults() -> None:
    settings = load_settings(["--env-file", "/nonexistent"], {"ROBYN_HOST": "127.0.0.1"})
    assert settings.port == 8081 and settings.workers == 1 and settings.storage == "memory"
    assert not settings.auth_enabled


def test_dev_mode_without_a_host_binds_loopback_and_auth_binds_everywhere() -> None:
    assert load_settings(["--env-file", "/x"], {}).host == "127.0.0.1"
    secured = {"SUPABASE_URL": "https://p.supabase.co", "SUPABASE_KEY": "k"}
    assert load_settings(["--env-file", "/x"], secured).host == "0.0.0.0"


def test_flags_override_env(tmp_path: Path) -> None:
    env = {"ROBYN_HOST": "127.0.0.1", "ROBYN_PORT": "9000", "ROBYN_WORKERS": "2"}
    settings = load_settings(["--env-file", "/x", "--port", "9100", "--workers", "3"], env)
    assert settings.port == 9100 and settings.workers == 3


def test_dotenv_is_read_but_environment_wins(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("ROBYN_PORT=9300\nOPENAI_API_BASE=http://file\nEXTRA_TOOL_KEY=abc\n")
    settings = load_settings(["--env-file", str(dotenv)], {**LOCAL, "OPENAI_API_BASE": "http://env"})
    assert settings.port == 9300
    assert settings.openai_api_base == "http://env"
    assert settings.extra_env["EXTRA_TOOL_KEY"] == "abc"
    assert "OPENAI_API_BASE" not in settings.extra_env


@pytest.mark.parametrize(
    ("env", "args", "variable"),
    [
        ({"ROBYN_PORT": "abc"}, [], "ROBYN_PORT"),
        ({"ROBYN_PORT": "70000"}, [], "ROBYN_PORT"),
        ({"ROBYN_WORKERS": "0"}, [], "ROBYN_WORKERS"),
        ({"ROBYN_DEV": "maybe"}, [], "ROBYN_DEV"),
        ({"ROBYN_PROCESSES": "2"}, [], "ROBYN_PROCESSES"),
        ({}, ["--processes", "4"], "ROBYN_PROCESSES"),
        ({"SUPABASE_URL": "ftp://x"}, [], "SUPABASE_URL"),
        ({"SUPABASE_URL": "http://sb.local"}, [], "SUPABASE_KEY"),
        ({"ROBYN_STORAGE": "postgres"}, [], "ROBYN_STORAGE"),
        ({"LANGGRAPH_CONFIG": "/no/such/langgraph.json"}, [], "LANGGRAPH_CONFIG"),
        ({"ROBYN_LOG_LEVEL": "LOUD"}, [], "ROBYN_LOG_LEVEL"),
    ],
)
def test_invalid_values_name_the_variable(env: dict, args: list[str], variable: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(["--env-file", "/x", *args], {**LOCAL, **env})
    assert variable in str(error.value)
    assert "\n" not in str(error.value)


def test_unauthenticated_remote_bind_is_refused_unless_allowed() -> None:
    with pytest.raises(ConfigError, match="ROBYN_HOST"):
        load_settings(["--env-file", "/x"], {"ROBYN_HOST": "0.0.0.0"})
    allowed = load_settings(
        ["--env-file", "/x"], {"ROBYN_HOST": "0.0.0.0", "ROBYN_ALLOW_UNAUTHENTICATED_REMOTE": "true"}
    )
    assert allowed.host == "0.0.0.0"
    secured = load_settings(
        ["--env-file", "/x"],
        {"ROBYN_HOST": "0.0.0.0", "SUPABASE_URL": "https://p.supabase.co", "SUPABASE_KEY": "k"},
    )
    assert secured.auth_enabled


def test_only_url_and_key_enable_auth() -> None:
    settings = load_settings(
        ["--env-file", "/x"], {**LOCAL, "SUPABASE_URL": "https://p.supabase.co/", "SUPABASE_KEY": "anon"}
    )
    assert settings.auth_enabled and settings.supabase_url == "https://p.supabase.co"
