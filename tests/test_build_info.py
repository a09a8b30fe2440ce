"""`detect_build`: environment first, then git and file times; never fails."""

from __future__ import annotations

from datetime import datetime

import pytest

from robyn_server.build_info import detect_build


def test_build_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROBYN_BUILD_COMMIT", "abc1234")
    monkeypatch.setenv("ROBYN_BUILD_DATE", "2026-02-05")
    assert detect_build().to_wire() == {"commit": "abc1234", "date": "2026-02-05"}


def test_build_without_environment_never_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROBYN_BUILD_COMMIT", raising=False)
    monkeypatch.delenv("ROBYN_BUILD_DATE", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")  # no git
    build = detect_build()
    assert build.commit is None
    datetime.fromisoformat(build.date)
