"""`/metrics` (Prometheus text, or JSON with `?format=json`) and `/metrics/json`.

Both are public, for scrapers. This module also connects the metrics to their sources
(stream count listener, run-finished hook, run queue); request counting is wired in
`ApiRouter` and `RequestPipeline`.
"""

from __future__ import annotations

from robyn import Request, Response

from robyn_server.http import json_response, query_value, text_response
from robyn_server.metrics import ServerMetrics
from robyn_server.routes.router import ApiRouter
from robyn_server.services.container import Services


def register(api: ApiRouter, services: Services) -> None:
    """Register the metrics routes (none when the app was built without metrics)."""
    metrics: ServerMetrics | None = services.metrics
    if metrics is None:
        return
    services.streams.listeners.append(metrics.set_active_streams)
    services.runs.manager.on_run_finished.append(metrics.observe_run)
    metrics.watch_runs(services.runs.manager)

    async def snapshot() -> Response:
        counts = await metrics.refresh_storage(services.storage)
        return json_response(metrics.snapshot(counts))

    @api.route("GET", "/metrics", public=True, tag="system")
    async def prometheus(request: Request) -> Response:
        """Prometheus metrics (text exposition format; `?format=json` for the JSON snapshot)."""
        if (query_value(request, "format") or "").lower() == "json":
            return await snapshot()
        await metrics.refresh_storage(services.storage)
        body, content_type = metrics.exposition()
        return text_response(body.decode(), content_type=content_type)

    @api.route("GET", "/metrics/json", public=True, tag="system")
    async def metrics_json(request: Request) -> Response:
        """Metrics as JSON: runtime, storage and agent sections."""
        return await snapshot()
