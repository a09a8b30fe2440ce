"""Routes for a2a (being implemented; registers nothing yet)."""

from __future__ import annotations

from robyn_server.routes.router import ApiRouter
from robyn_server.services.container import Services


def register(api: ApiRouter, services: Services) -> None:
    """Register the a2a routes."""
