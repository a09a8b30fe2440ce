"""Side-by-side benchmark: robyn-server vs the reference `langgraph dev`, in one run.

Both servers serve the SAME graphs (the reference peer's `langgraph.json`, whose `chat`
graph streams from a scripted in-process fake model), so the numbers measure the
servers, not a model. Load comes from `../shared/peers/loadgen/lg_load.py` (bounded,
loopback only). Our server runs with real authentication (Supabase legacy-secret JWTs,
verified locally on every request); the reference runs with its dev-mode no-op auth.

Usage (from the repository root):
    uv run python bench/compare.py                 # full series (~6-8 minutes)
    uv run python bench/compare.py --quick         # smaller bounds (~2 minutes)
    uv run python bench/compare.py --markdown BENCHMARKS.md   # also write the table

Reports ratios (ours / reference); absolute numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import jwt

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ROBYN_SHARED_DIR", ROOT.parent / "shared"))
PEER = SHARED / "peers" / "langgraph_dev"
LOADGEN = SHARED / "peers" / "loadgen" / "lg_load.py"
SECRET = "bench-secret-" + "x" * 32
SUPABASE_URL = "http://127.0.0.1:9"  # never contacted: HS256 tokens verify locally


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early ({proc.returncode}); see its log")
        try:
            if httpx.get(f"{url}/ok", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout}s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def start_ours(port: int, log: Path, workers: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROBYN_", "SUPABASE_", "LANGGRAPH_"))}
    env.update(
        {
            "ROBYN_HOST": "127.0.0.1",
            "ROBYN_PORT": str(port),
            "ROBYN_WORKERS": str(workers),
            "ROBYN_LOG_LEVEL": "WARNING",
            "ROBYN_MAX_CONCURRENT_RUNS": "64",
            "SUPABASE_URL": SUPABASE_URL,
            "SUPABASE_KEY": "bench-anon-key",
            "SUPABASE_JWT_SECRET": SECRET,
            "LANGGRAPH_CONFIG": str(PEER / "langgraph.json"),
        }
    )
    return subprocess.Popen(
        [sys.executable, "-m", "robyn_server", "--env-file", "/nonexistent"],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def start_reference(port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "LG_PORT": str(port), "LG_HOST": "127.0.0.1"}
    return subprocess.Popen(
        ["bash", str(PEER / "start.sh")], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )


def token() -> str:
    now = int(time.time())
    claims = {
        "sub": str(uuid.uuid4()),
        "aud": "authenticated",
        "role": "authenticated",
        "iss": f"{SUPABASE_URL}/auth/v1",
        "iat": now,
        "exp": now + 6 * 3600,
    }
    return jwt.encode(claims, SECRET, algorithm="HS256")


def load(url: str, pid: int, out: Path, quick: bool, extra: list[str]) -> list[dict]:
    bounds = (
        [
            "--requests",
            "800",
            "--duration",
            "4",
            "--run-requests",
            "60",
            "--run-duration",
            "10",
            "--warmup",
            "30",
        ]
        if quick
        else []
    )
    cmd = [sys.executable, str(LOADGEN), "--base-url", url, "--server-pid", str(pid), "--json-out", str(out)]
    subprocess.run([*cmd, *bounds, *extra], check=True)
    text = out.read_text().strip()
    try:
        data = json.loads(text)
        return data if isinstance(data, list) else data.get("results", [data])
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def key(row: dict) -> tuple[str, int]:
    return row.get("scenario", "?"), int(row.get("concurrency", 0))


def fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def table(ours: list[dict], ref: list[dict]) -> str:
    theirs = {key(r): r for r in ref}
    lines = [
        "| scenario | conc | ours req/s | reference req/s | ratio | ours p50 ms | ref p50 ms "
        "| ours TTFE p50 ms | ref TTFE p50 ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in ours:
        other = theirs.get(key(row), {})
        ratio = row.get("rps", 0) / other["rps"] if other.get("rps") else None
        lines.append(
            f"| {row.get('scenario')} | {row.get('concurrency')} | {fmt(row.get('rps'))} "
            f"| {fmt(other.get('rps'))} | {fmt(ratio, 2)}x "
            f"| {fmt(row.get('p50_ms'), 2)} | {fmt(other.get('p50_ms'), 2)} "
            f"| {fmt(row.get('ttfe_p50_ms'), 2)} | {fmt(other.get('ttfe_p50_ms'), 2)} |"
        )
    return "\n".join(lines)


def peak_rss(rows: list[dict]) -> float | None:
    """Peak VmHWM (MiB) the load generator read from /proc after each step."""
    values = []
    for row in rows:
        hwm = (row.get("server_rss") or {}).get("VmHWM", "")
        if hwm.endswith("kB"):
            values.append(int(hwm.split()[0]))
    return max(values) / 1024 if values else None


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller request counts and durations")
    parser.add_argument("--workers", type=int, default=2, help="robyn --workers (stream threads)")
    parser.add_argument("--markdown", help="write the result table to this file")
    parser.add_argument("--scenario", action="append", default=[], help="limit to scenarios (repeatable)")
    args = parser.parse_args()
    if not LOADGEN.is_file() or not (PEER / "start.sh").is_file():
        print(f"shared peers not found under {SHARED} (set ROBYN_SHARED_DIR)", file=sys.stderr)
        return 2
    extra = [item for name in args.scenario for item in ("--scenario", name)]
    work = Path(tempfile.mkdtemp(prefix="robyn-bench-"))
    results: dict[str, list[dict]] = {}
    for name in ("reference", "ours"):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = work / f"{name}.log"
        proc = start_ours(port, log, args.workers) if name == "ours" else start_reference(port, log)
        try:
            wait_ready(url, proc, timeout=600 if name == "reference" else 60)
            auth = ["--token", token()] if name == "ours" else []
            print(f"== {name} on {url} (pid {proc.pid}); log {log}", flush=True)
            results[name] = load(url, proc.pid, work / f"{name}.json", args.quick, extra + auth)
        finally:
            stop(proc)
    report = table(results["ours"], results["reference"])
    rss_ours, rss_ref = peak_rss(results["ours"]), peak_rss(results["reference"])
    report += f"\n\nPeak RSS (VmHWM): ours {fmt(rss_ours)} MiB, reference {fmt(rss_ref)} MiB."
    print(report)
    print(f"\nraw results: {work}")
    if args.markdown:
        Path(args.markdown).write_text(report + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
