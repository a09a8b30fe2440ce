"""Command line entry point: `python -m robyn_server.fake_llm --port 8001`."""

from __future__ import annotations

import argparse
import signal
import sys

from . import rules, server


def build_parser() -> argparse.ArgumentParser:
    """Build the CLI parser; the scripted rules are shown as the --help epilog."""
    parser = argparse.ArgumentParser(
        prog="python -m robyn_server.fake_llm",
        description="Fake OpenAI-compatible chat completions server with scripted, deterministic replies.",
        epilog=f"{rules.__doc__ or ''}\n{server.__doc__ or ''}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: %(default)s)")
    parser.add_argument(
        "--port", type=int, default=8001, help="port to bind, 0 for any (default: %(default)s)"
    )
    parser.add_argument(
        "--token-delay",
        type=float,
        default=0.0,
        help="seconds to sleep between streamed chunks (default: %(default)s)",
    )
    parser.add_argument(
        "--model",
        action="append",
        dest="models",
        metavar="NAME",
        help=f"model name listed by GET /v1/models; repeatable (default: {rules.DEFAULT_MODEL})",
    )
    parser.add_argument(
        "--max-recorded",
        type=int,
        default=200,
        help="requests kept for GET /_requests (default: %(default)s)",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the server in the foreground until interrupted (SIGINT or SIGTERM)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.token_delay < 0:
        parser.error("--token-delay must be >= 0")
    llm = server.FakeLLMServer(
        host=args.host,
        port=args.port,
        token_delay=args.token_delay,
        models=args.models,
        max_recorded=args.max_recorded,
        verbose=args.verbose,
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        llm.bind()
        print(f"fake_llm listening on {llm.url}", flush=True)
        llm.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        llm.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
