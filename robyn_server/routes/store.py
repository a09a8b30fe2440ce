"""Routes for store (being implemented; registers nothing yet)."""

from __future__ import annotations

from robyn_server.routes.router import ApiRouter
from robyn_server.services.container import Services


def register(api: ApiRouter, services: Services) -> None:
    """Register the store routes."""
