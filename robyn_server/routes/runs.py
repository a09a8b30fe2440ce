"""Run routes: stateful (`/threads/{id}/runs...`) and stateless (`/runs...`)."""

from __future__ import annotations

import json

from robyn import Request, Response

from robyn_server import models
from robyn_server.auth import User
from robyn_server.engine.runs import CancelAction
from robyn_server.errors import InvalidInput, NotFound
from robyn_server.http import (
    empty_response,
    json_response,
    query_bool,
    query_int,
    query_value,
    query_values,
    raw_json_response,
    read_json,
    read_json_object,
    request_context,
    require_uuid,
)
from robyn_server.models import select_fields
from robyn_server.ownership import owner_of
from robyn_server.routes.router import ApiRouter, require_user
from robyn_server.routes.streaming import error_stream, json_wait_response, sse_response
from robyn_server.services.container import Services
from robyn_server.storage.base import Run
from robyn_server.wire import run_to_wire

RUN_NOT_FOUND = {"error": "HTTPException", "message": "404: Run not found"}


def _headers() -> dict[str, str]:
    ctx = request_context.get()
    return ctx.headers if ctx else {}


def _locations(run: Run, *, stateless: bool, kind: str) -> dict[str, str]:
    base = f"/threads/{run['thread_id']}/runs/{run['run_id']}"
    if stateless and kind != "wait":
        # The reference points stateless streams at /runs/{id}/stream, which it does not route;
        # a stateless wait gets the temporary thread's paths.
        location = f"/runs/{run['run_id']}/stream" if kind == "stream" else f"{base}/join"
        return {"Location": location, "Content-Location": f"/runs/{run['run_id']}"}
    location = f"{base}/stream" if kind == "stream" else f"{base}/join"
    return {"Location": location, "Content-Location": base}


def _stream_modes_param(request: Request) -> list[str] | None:
    raw = query_values(request, "stream_mode")
    if not raw:
        return None
    modes: list[str] = []
    for value in raw:
        if value.startswith("["):
            try:
                parsed = json.loads(value)
            except ValueError:
                raise InvalidInput("stream_mode must be a mode or a JSON list of modes") from None
            modes.extend(str(m) for m in parsed)
        else:
            modes.append(value)
    return modes


def _cancel_action(request: Request) -> CancelAction:
    """`?action=`: `rollback`, else `interrupt` (the reference treats unknown values as interrupt)."""
    return "rollback" if query_value(request, "action") == "rollback" else "interrupt"


def register(api: ApiRouter, services: Services) -> None:
    """Register run routes."""
    runs = services.runs
    settings = services.settings
    tracker = services.streams

    async def _create(request: Request, thread_id: str | None, *, subscribe: bool):
        user: User = require_user()
        body = models.parse_model(models.RunCreate, read_json_object(request))
        run, sub = await runs.create(
            thread_id,
            body,
            owner=owner_of(user),
            user_id=user.identity,
            headers=_headers(),
            subscribe=subscribe,
        )
        return body, run, sub

    def _on_disconnect(body: models.RunCreate, run: Run):
        if body.on_disconnect != "cancel":
            return None
        return lambda: runs.manager.cancel_soon(run, "interrupt")

    async def create_background(request: Request, thread_id: str | None) -> Response:
        _, run, _ = await _create(request, thread_id, subscribe=False)
        headers = {
            "Content-Location": _locations(run, stateless=thread_id is None, kind="join")["Content-Location"]
        }
        return json_response(run_to_wire(run), headers=headers)

    async def create_stream(request: Request, thread_id: str | None):
        body, run, sub = await _create(request, thread_id, subscribe=True)
        assert sub is not None
        return sse_response(
            tracker,
            sub,
            with_ids=body.stream_resumable,
            heartbeat=settings.heartbeat_seconds,
            headers=_locations(run, stateless=thread_id is None, kind="stream"),
            on_abandon=_on_disconnect(body, run),
        )

    async def create_wait(request: Request, thread_id: str | None):
        body, run, _ = await _create(request, thread_id, subscribe=False)

        async def output() -> bytes:
            return (await runs.outcome(run)).output

        return json_wait_response(
            tracker,
            output(),
            heartbeat=settings.heartbeat_seconds,
            headers=_locations(run, stateless=thread_id is None, kind="wait"),
            on_abandon=_on_disconnect(body, run),
        )

    def _thread(request: Request) -> str:
        return require_uuid(request.path_params["thread_id"], "thread")

    @api.route("POST", "/threads/:thread_id/runs", tag="runs", body=models.RunCreate)
    async def thread_run(request: Request) -> Response:
        """Create a background run."""
        return await create_background(request, _thread(request))

    @api.route("POST", "/threads/:thread_id/runs/stream", tag="runs", body=models.RunCreate)
    async def thread_run_stream(request: Request):
        """Create a run and stream its output (SSE)."""
        return await create_stream(request, _thread(request))

    @api.route("POST", "/threads/:thread_id/runs/wait", tag="runs", body=models.RunCreate)
    async def thread_run_wait(request: Request):
        """Create a run and wait for its final values."""
        return await create_wait(request, _thread(request))

    @api.route("POST", "/runs", tag="stateless runs", body=models.RunCreate)
    async def stateless_run(request: Request) -> Response:
        """Create a stateless background run (temporary thread)."""
        return await create_background(request, None)

    @api.route("POST", "/runs/stream", tag="stateless runs", body=models.RunCreate)
    async def stateless_stream(request: Request):
        """Create a stateless run and stream its output (SSE)."""
        return await create_stream(request, None)

    @api.route("POST", "/runs/wait", tag="stateless runs", body=models.RunCreate)
    async def stateless_wait(request: Request):
        """Create a stateless run and wait for its final values."""
        return await create_wait(request, None)

    @api.route("POST", "/runs/batch", tag="stateless runs")
    async def stateless_batch(request: Request) -> Response:
        """Create several stateless background runs."""
        user = require_user()
        payload = read_json(request)
        if not isinstance(payload, list) or not payload:
            raise InvalidInput("Expected a non-empty array of run requests")
        if len(payload) > 100:
            raise InvalidInput("At most 100 runs per batch")
        bodies = [models.parse_model(models.RunCreate, item) for item in payload]
        created = []
        for body in bodies:
            run, _ = await runs.create(
                None, body, owner=owner_of(user), user_id=user.identity, headers=_headers()
            )
            created.append(run_to_wire(run))
        return json_response(created)

    @api.route("GET", "/threads/:thread_id/runs", tag="runs")
    async def list_runs(request: Request) -> Response:
        """List a thread's runs, newest first."""
        status = query_value(request, "status")
        found = await runs.list(
            _thread(request),
            limit=query_int(request, "limit", 10, minimum=1, maximum=1000),
            offset=query_int(request, "offset", 0),
            status=status,
            owner=owner_of(require_user()),
        )
        select = query_values(request, "select") or None
        return json_response([select_fields(run_to_wire(r), select) for r in found])

    @api.route("GET", "/threads/:thread_id/runs/:run_id", tag="runs")
    async def get_run(request: Request) -> Response:
        """Get a run."""
        run_id = require_uuid(request.path_params["run_id"], "run")
        return json_response(
            run_to_wire(await runs.get(_thread(request), run_id, owner=owner_of(require_user())))
        )

    @api.route("DELETE", "/threads/:thread_id/runs/:run_id", tag="runs")
    async def delete_run(request: Request) -> Response:
        """Delete a run."""
        run_id = require_uuid(request.path_params["run_id"], "run")
        try:
            await runs.delete(_thread(request), run_id, owner=owner_of(require_user()))
        except NotFound:
            raise NotFound("Run not found") from None
        return empty_response(204)

    @api.route("GET", "/threads/:thread_id/runs/:run_id/join", tag="runs")
    async def join_run(request: Request):
        """Wait for a run and return its final values."""
        thread_id = _thread(request)
        run_id = require_uuid(request.path_params["run_id"], "run")
        try:
            run = await runs.get(thread_id, run_id, owner=owner_of(require_user()))
        except NotFound:
            return raw_json_response(
                b'{"__error__":{"error":"HTTPException","message":"404: Run not found"}}'
            )
        cancel = query_bool(request, "cancel_on_disconnect")

        async def output() -> bytes:
            return (await runs.outcome(run)).output

        return json_wait_response(
            tracker,
            output(),
            heartbeat=settings.heartbeat_seconds,
            headers=_locations(run, stateless=False, kind="wait"),
            on_abandon=(lambda: runs.manager.cancel_soon(run, "interrupt")) if cancel else None,
        )

    @api.route("GET", "/threads/:thread_id/runs/:run_id/stream", tag="runs")
    async def join_stream(request: Request):
        """Join a run's event stream (replays after `Last-Event-ID`)."""
        thread_id = _thread(request)
        run_id = require_uuid(request.path_params["run_id"], "run")
        last_id = request_context.get().headers.get("last-event-id") if request_context.get() else None
        modes = _stream_modes_param(request)
        try:
            run = await runs.get(thread_id, run_id, owner=owner_of(require_user()))
        except NotFound:
            return error_stream(tracker, RUN_NOT_FOUND)
        cancel = query_bool(request, "cancel_on_disconnect")
        sub = services.broker.subscribe(run_id, last_event_id=last_id, modes=modes)
        return sse_response(
            tracker,
            sub,
            with_ids=bool(run["kwargs"].get("resumable")),
            heartbeat=settings.heartbeat_seconds,
            headers=_locations(run, stateless=False, kind="stream"),
            on_abandon=(lambda: runs.manager.cancel_soon(run, "interrupt")) if cancel else None,
        )

    @api.route("POST", "/threads/:thread_id/runs/:run_id/cancel", tag="runs")
    async def cancel_run(request: Request):
        """Cancel a run (`action=interrupt|rollback`, `wait=true` to wait for it)."""
        thread_id = _thread(request)
        run_id = require_uuid(request.path_params["run_id"], "run")
        action = _cancel_action(request)
        run = await runs.cancel(thread_id, run_id, action, owner=owner_of(require_user()))
        if not query_bool(request, "wait"):
            return empty_response(202)
        return json_wait_response(
            tracker,
            runs.cancel_output(run),
            heartbeat=settings.heartbeat_seconds,
            headers=_locations(run, stateless=False, kind="wait"),
        )

    @api.route("POST", "/runs/cancel", tag="runs", body=models.RunsCancel)
    async def cancel_runs(request: Request) -> Response:
        """Cancel runs by id (on a thread) or by status."""
        body = models.parse_model(models.RunsCancel, read_json_object(request))
        await runs.cancel_many(body, _cancel_action(request), owner=owner_of(require_user()))
        return empty_response(204)

    @api.route("GET", "/threads/:thread_id/stream", tag="threads")
    async def thread_stream(request: Request):
        """Follow every run on a thread (`stream_modes=run_modes|lifecycle|state_update`)."""
        thread_id = _thread(request)
        raw = ",".join(query_values(request, "stream_modes")) or "run_modes"
        modes = [m.strip() for m in raw.split(",") if m.strip()]
        for mode in modes:
            if mode not in ("run_modes", "lifecycle", "state_update"):
                raise InvalidInput(f"Invalid stream mode: {mode}")
        await services.threads.get(thread_id, owner=owner_of(require_user()))
        last_id = request_context.get().headers.get("last-event-id") if request_context.get() else None
        sub = services.broker.subscribe_thread(thread_id, last_event_id=last_id, modes=modes)
        return sse_response(tracker, sub, with_ids=True, heartbeat=settings.heartbeat_seconds)
