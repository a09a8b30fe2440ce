"""Cron routes, plus the `CronScheduler` they feed (started and stopped with the server)."""

from __future__ import annotations

from robyn import Request, Response

from robyn_server.engine.scheduler import CronScheduler
from robyn_server.http import (
    empty_response,
    json_response,
    pagination_headers,
    read_json_object,
    require_uuid,
)
from robyn_server.models import parse_model, select_fields
from robyn_server.models_platform import CronCount, CronCreate, CronPatch, CronSearch
from robyn_server.ownership import owner_of
from robyn_server.routes.router import ApiRouter, require_user
from robyn_server.services.container import Services
from robyn_server.services.crons import CronService
from robyn_server.wire import cron_to_wire


def build_scheduler(services: Services) -> tuple[CronService, CronScheduler]:
    """The cron service and the scheduler that fires its crons, wired to each other."""
    scheduler: CronScheduler | None = None

    def changed() -> None:
        if scheduler is not None:
            scheduler.wake()

    crons = CronService(
        services.storage, services.assistants, services.runs, services.graphs, changed=changed
    )
    scheduler = CronScheduler(services.storage.crons, crons.fire)
    return crons, scheduler


def register(api: ApiRouter, services: Services) -> None:
    """Register the cron routes and the scheduler's startup/shutdown hooks."""
    crons, scheduler = build_scheduler(services)
    services.startup_hooks.append(scheduler.start)
    services.shutdown_hooks.append(scheduler.stop)

    async def create(request: Request, thread_id: str | None) -> Response:
        user = require_user()
        body = parse_model(CronCreate, read_json_object(request))
        cron = await crons.create(thread_id, body, owner=owner_of(user), user_id=user.identity)
        return json_response(cron_to_wire(cron))

    def _cron_id(request: Request) -> str:
        return require_uuid(request.path_params["cron_id"], "cron")

    @api.route("POST", "/runs/crons", tag="crons", body=CronCreate)
    async def create_stateless(request: Request) -> Response:
        """Create a cron that runs on a new thread each time."""
        return await create(request, None)

    @api.route("POST", "/threads/:thread_id/runs/crons", tag="crons", body=CronCreate)
    async def create_for_thread(request: Request) -> Response:
        """Create a cron that runs on a thread."""
        return await create(request, require_uuid(request.path_params["thread_id"], "thread"))

    @api.route("POST", "/runs/crons/search", tag="crons", body=CronSearch)
    async def search(request: Request) -> Response:
        """Search crons."""
        body = parse_model(CronSearch, read_json_object(request, default={}))
        result = await crons.search(body, owner=owner_of(require_user()))
        items = [select_fields(cron_to_wire(c), list(body.select or ())) for c in result.items]
        return json_response(
            items, headers=pagination_headers(result.total, body.offset, body.limit, len(items))
        )

    @api.route("POST", "/runs/crons/count", tag="crons", body=CronCount)
    async def count(request: Request) -> Response:
        """Count crons."""
        body = parse_model(CronCount, read_json_object(request, default={}))
        return json_response(await crons.count(body, owner=owner_of(require_user())))

    @api.route("GET", "/runs/crons/:cron_id", tag="crons")
    async def get(request: Request) -> Response:
        """Get a cron."""
        return json_response(cron_to_wire(await crons.get(_cron_id(request), owner=owner_of(require_user()))))

    @api.route("PATCH", "/runs/crons/:cron_id", tag="crons", body=CronPatch)
    async def patch(request: Request) -> Response:
        """Update a cron (schedule/timezone changes recompute `next_run_date`)."""
        cron_id = _cron_id(request)
        body = parse_model(CronPatch, read_json_object(request, default={}))
        cron = await crons.patch(cron_id, body, owner=owner_of(require_user()))
        return json_response(cron_to_wire(cron))

    @api.route("DELETE", "/runs/crons/:cron_id", tag="crons")
    async def delete(request: Request) -> Response:
        """Delete a cron."""
        await crons.delete(_cron_id(request), owner=owner_of(require_user()))
        return empty_response(204)
