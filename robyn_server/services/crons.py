"""Crons: records the API manages and the runs the scheduler fires from them.

A cron's `payload` is its creation body with the resolved `assistant_id` and
`config.configurable.cron_id`, as the reference stores it; a PATCH copies the patched
fields into it too. Each firing turns the payload into a `RunCreate` and goes through
`RunService.create`, as the cron's owner, so cron runs stream, report status and call
webhooks exactly like API runs.

Deliberate difference: a PATCH that changes `schedule` or `timezone`, or re-enables a
cron whose `next_run_date` has passed, recomputes `next_run_date` (the reference keeps
the old one).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from robyn_server import models
from robyn_server.clock import utcnow
from robyn_server.engine.graphs import GraphRegistry, system_assistant_id
from robyn_server.engine.scheduler import next_run_after
from robyn_server.errors import BadRequest
from robyn_server.ids import uuid7
from robyn_server.models_platform import CronCount, CronCreate, CronPatch, CronSearch
from robyn_server.ownership import stamp_owner
from robyn_server.services.assistants import BOTH_CONFIGURABLE_AND_CONTEXT, AssistantService
from robyn_server.services.runs import RunService
from robyn_server.storage.base import Cron, CronFilter, Page, SearchResult, Storage

# Top-level cron fields a PATCH may change (the rest only changes the payload); an explicit
# null clears the nullable ones and is ignored for the others.
_RECORD_FIELDS = ("schedule", "timezone", "end_time", "enabled", "metadata", "on_run_completed")
_NULLABLE_FIELDS = frozenset({"timezone", "end_time", "on_run_completed"})


def _utc(moment: datetime | None) -> datetime | None:
    """A naive `end_time` is read as UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _with_cron_id(config: dict[str, Any] | None, cron_id: str) -> dict[str, Any]:
    config = copy.deepcopy(config or {})
    config["configurable"] = {**(config.get("configurable") or {}), "cron_id": cron_id}
    return config


def _check_config(config: dict[str, Any] | None, context: dict[str, Any] | None) -> None:
    """Refuse what `RunService` would refuse at every firing: configurable and context together."""
    if set((config or {}).get("configurable") or {}) - {"cron_id"} and context:
        raise BadRequest(BOTH_CONFIGURABLE_AND_CONTEXT)


def run_body(cron: Cron) -> models.RunCreate:
    """The run a firing creates, from the cron's payload.

    `RunService` refuses `configurable` together with `context`; with a context the
    `cron_id` rides in the run's metadata instead.
    """
    payload = {k: v for k, v in copy.deepcopy(cron["payload"]).items() if v is not None}
    config = payload.get("config") or {}
    if payload.get("context") and set(config.get("configurable") or {}) <= {"cron_id"}:
        payload["config"] = {k: v for k, v in config.items() if k != "configurable"}
        payload["metadata"] = {**(payload.get("metadata") or {}), "cron_id": cron["cron_id"]}
    payload["on_completion"] = cron["on_run_completed"] or "delete"
    payload["multitask_strategy"] = payload.get("multitask_strategy") or "enqueue"
    return models.RunCreate.model_validate(payload)


class CronService:
    """Cron use cases: create, get, patch, delete, search, count, and fire.

    Args:
        changed: called after every change, to wake the scheduler.
    """

    def __init__(
        self,
        storage: Storage,
        assistants: AssistantService,
        runs: RunService,
        graphs: GraphRegistry,
        *,
        changed: Callable[[], None] = lambda: None,
    ) -> None:
        self._storage = storage
        self._assistants = assistants
        self._runs = runs
        self._graphs = graphs
        self._changed = changed

    async def create(
        self, thread_id: str | None, body: CronCreate, *, owner: str | None, user_id: str
    ) -> Cron:
        """A cron on a thread, or (`thread_id` None) one that makes a new thread per run.

        Raises:
            NotFound: the assistant or thread is unknown to the caller.
            InvalidInput: bad schedule or timezone.
            BadRequest: both `config.configurable` and `context`.
        """
        _check_config(body.config, body.context)
        now = utcnow()
        next_run = next_run_after(body.schedule, body.timezone, now)
        assistant = await self._assistants.resolve_id(body.assistant_id, owner=owner)
        if thread_id is not None:
            await self._storage.threads.get(thread_id, owner=owner)
        cron_id = uuid7()
        sent = body.model_dump(
            mode="json", exclude_unset=True, exclude={"assistant_id", "schedule", "config"}
        )
        payload = {
            "assistant_id": assistant["assistant_id"],
            "schedule": body.schedule,
            **sent,
            "config": _with_cron_id(body.config, cron_id),
        }
        record: Cron = {
            "cron_id": cron_id,
            "assistant_id": assistant["assistant_id"],
            "thread_id": thread_id,
            "user_id": user_id,
            "end_time": _utc(body.end_time),
            "schedule": body.schedule,
            "timezone": body.timezone,
            "payload": payload,
            "next_run_date": next_run,
            "metadata": stamp_owner(body.metadata, owner),
            "on_run_completed": None if thread_id else (body.on_run_completed or "delete"),
            "enabled": body.enabled if body.enabled is not None else True,
            "created_at": now,
            "updated_at": now,
            "owner": owner,
        }
        created = await self._storage.crons.create(record, owner=owner)
        self._changed()
        return created

    async def get(self, cron_id: str, *, owner: str | None) -> Cron:
        """The caller's cron. Raises NotFound."""
        return await self._storage.crons.get(cron_id, owner=owner)

    async def patch(self, cron_id: str, body: CronPatch, *, owner: str | None) -> Cron:
        """Change the fields sent; they are copied into `payload` as well.

        Raises:
            BadRequest: an empty body, or `config.configurable` and `context` together.
            NotFound: unknown or another user's cron.
            InvalidInput: bad schedule or timezone.
        """
        sent = body.model_dump(mode="json", exclude_unset=True)
        if not sent:
            raise BadRequest("At least one field must be provided to update the cron")
        cron = await self._storage.crons.get(cron_id, owner=owner)
        ignored = {name for name in _RECORD_FIELDS if sent.get(name, 0) is None} - _NULLABLE_FIELDS
        sent = {name: value for name, value in sent.items() if name not in ignored}
        changes: dict[str, Any] = {name: getattr(body, name) for name in _RECORD_FIELDS if name in sent}
        if "end_time" in changes:
            changes["end_time"] = _utc(changes["end_time"])
        if cron["thread_id"] is not None:
            changes.pop("on_run_completed", None)  # a thread cron never deletes its thread
        elif "on_run_completed" in changes:
            changes["on_run_completed"] = changes["on_run_completed"] or "delete"
        if "config" in sent:
            sent["config"] = _with_cron_id(body.config, cron_id)
        changes["payload"] = {**cron["payload"], **sent}
        _check_config(changes["payload"].get("config"), changes["payload"].get("context"))
        now = utcnow()
        rescheduled = "schedule" in changes or "timezone" in changes
        revived = (
            changes.get("enabled") is True
            and not cron["enabled"]
            and (cron["next_run_date"] is None or cron["next_run_date"] <= now)
        )
        if rescheduled or revived:
            changes["next_run_date"] = next_run_after(
                changes.get("schedule", cron["schedule"]), changes.get("timezone", cron["timezone"]), now
            )
        updated = await self._storage.crons.update(cron_id, changes, owner=owner)
        self._changed()
        return updated

    async def delete(self, cron_id: str, *, owner: str | None) -> None:
        """Delete the caller's cron. Raises NotFound."""
        await self._storage.crons.delete(cron_id, owner=owner)
        self._changed()

    def _filters(self, body: CronSearch | CronCount) -> CronFilter:
        # A graph id stands for its system assistant, as in run bodies.
        assistant_id = body.assistant_id
        if assistant_id is not None and assistant_id in self._graphs:
            assistant_id = system_assistant_id(assistant_id)
        return CronFilter(
            assistant_id=assistant_id, thread_id=body.thread_id, enabled=body.enabled, metadata=body.metadata
        )

    async def search(self, body: CronSearch, *, owner: str | None) -> SearchResult[Cron]:
        """The caller's crons that match, ordered and paged."""
        page = Page(
            limit=body.limit, offset=body.offset, sort_by=body.sort_by, sort_order=body.sort_order or "desc"
        )
        return await self._storage.crons.search(self._filters(body), page, owner=owner)

    async def count(self, body: CronCount, *, owner: str | None) -> int:
        """How many of the caller's crons match."""
        return await self._storage.crons.count(self._filters(body), owner=owner)

    async def fire(self, cron: Cron) -> None:
        """Create the cron's run as its owner (a new thread per run unless it has a thread)."""
        await self._runs.create(
            cron["thread_id"],
            run_body(cron),
            owner=cron["owner"],
            user_id=cron["user_id"] or "",
            headers={},
        )
