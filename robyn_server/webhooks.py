"""Webhooks: POST the finished run to the URL its request named. Failures are logged, never fatal."""

from __future__ import annotations

import logging
from typing import Any

import httpx

from robyn_server.sse import dumps

logger = logging.getLogger(__name__)


class WebhookSender:
    """One shared client; each delivery has a short timeout."""

    def __init__(self, timeout: float = 10.0) -> None:
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None

    async def send(self, url: str, run: dict[str, Any]) -> None:
        """Deliver once; log (never raise) on failure."""
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout)
        try:
            response = await self._client.post(
                url, content=dumps(run), headers={"Content-Type": "application/json"}
            )
            if response.status_code >= 400:
                logger.warning("webhook %s answered %s", url, response.status_code)
        except httpx.HTTPError as error:
            logger.warning("webhook %s failed: %s", url, error)

    async def aclose(self) -> None:
        """Close the client."""
        if self._client is not None:
            await self._client.aclose()
