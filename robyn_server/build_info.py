"""Which build is running: commit and date for `/info`. Never raises."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
_COMMIT = re.compile(r"^[0-9a-f]{7,64}$")


@dataclass(frozen=True)
class BuildInfo:
    """`commit` (None when unknown) and `date` (ISO-8601, UTC)."""

    commit: str | None
    date: str

    def to_wire(self) -> dict[str, str | None]:
        """The `/info` `build` object."""
        return {"commit": self.commit, "date": self.date}


def _git_commit() -> str | None:
    """`git rev-parse HEAD` of the checkout the package runs from, if it is one."""
    try:
        done = subprocess.run(
            ["git", "-C", str(PACKAGE_DIR), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=2,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and _COMMIT.match(commit) else None


def _package_date() -> str:
    """The newest modification time among the package's modules (install or checkout time)."""
    try:
        newest = max(path.stat().st_mtime for path in PACKAGE_DIR.rglob("*.py"))
    except (OSError, ValueError):
        newest = 0.0
    return datetime.fromtimestamp(newest, UTC).isoformat(timespec="seconds")


def detect_build() -> BuildInfo:
    """`ROBYN_BUILD_COMMIT` / `ROBYN_BUILD_DATE` (set by image builds), else git and file times."""
    commit = os.environ.get("ROBYN_BUILD_COMMIT", "").strip() or _git_commit()
    date = os.environ.get("ROBYN_BUILD_DATE", "").strip() or _package_date()
    return BuildInfo(commit=commit, date=date)
