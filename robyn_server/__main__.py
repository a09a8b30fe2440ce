"""`python -m robyn_server`: parse settings, then start Robyn.

Robyn parses `sys.argv` when it is imported, so our flags are parsed first and
`sys.argv` is reset before anything imports robyn.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    from robyn_server.config import ConfigError, load_settings

    try:
        settings = load_settings(sys.argv[1:] if argv is None else argv)
    except ConfigError as error:
        print(f"robyn-server: configuration error: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    for key, value in settings.extra_env.items():
        os.environ.setdefault(key, value)
    # Robyn's start() reads these itself and would override our flags.
    os.environ["ROBYN_HOST"] = settings.host
    os.environ["ROBYN_PORT"] = str(settings.port)
    sys.argv = sys.argv[:1]

    from robyn_server.app import create_app
    from robyn_server.lifecycle import install_sigterm_as_interrupt

    try:
        server = create_app(settings)
    except ValueError as error:
        print(f"robyn-server: cannot start: {error}", file=sys.stderr)
        return 2
    install_sigterm_as_interrupt()
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
