"""OpenAPI 3.1 document built from the router's route docs (framework-free).

Every registered route is documented: path parameters from the template, the request
body from its pydantic model, and responses from `RESPONSES` (status and schema as the
route really answers, e.g. 204 for deletes) or, for routes not listed there, from the
method and path (DELETE → 204, `.../stream` → SSE, else any JSON). Pydantic's `$defs`
are hoisted into `components/schemas` and referenced with `$ref`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from robyn_server import models
from robyn_server import openapi_schemas as wire

OPENAPI_VERSION = "3.1.0"
REF = "#/components/schemas/{model}"
_PARAM = re.compile(r":([A-Za-z_][A-Za-z0-9_]*)")


class RouteInfo(Protocol):
    """What the builder needs from a route (`routes.router.RouteDoc` has it)."""

    method: str
    template: str
    summary: str
    tag: str
    public: bool
    request_model: type | None
    description: str


@dataclass(frozen=True)
class Reply:
    """A route's success response.

    Attributes:
        schema: a response model (referenced), an inline JSON schema, or None for any JSON.
        media: the content type; None for an empty body.
    """

    status: int = 200
    schema: type[BaseModel] | dict[str, Any] | None = None
    many: bool = False
    nullable: bool = False
    media: str | None = "application/json"
    description: str = "Success"


@dataclass(frozen=True)
class Query:
    """A query (or header) parameter."""

    name: str
    schema: dict[str, Any]
    description: str = ""
    where: str = "query"


def _json(model: type[BaseModel] | dict[str, Any], *, many: bool = False) -> Reply:
    return Reply(schema=model, many=many)


EMPTY_204 = Reply(status=204, media=None, description="Done (empty body)")
SSE = Reply(
    schema={"type": "string", "description": "`event: <name>` / `data: <json>` frames, heartbeats"},
    media="text/event-stream",
    description="Server-sent events",
)
FINAL_VALUES = Reply(
    schema={"type": "object", "description": "The thread's final values, or `{__error__: {error, message}}`"},
    description="The run's final values (newline keep-alives are sent while waiting)",
)
COUNT = Reply(schema={"type": "integer"})
ANY_OBJECT: dict[str, Any] = {"type": "object", "additionalProperties": True}

RESPONSES: dict[tuple[str, str], Reply] = {
    ("GET", "/"): _json(wire.Ok),
    ("GET", "/ok"): _json(wire.Ok),
    ("GET", "/health"): _json(ANY_OBJECT),
    ("GET", "/info"): _json(wire.Info),
    ("GET", "/metrics"): Reply(
        schema={"type": "string"}, media="text/plain", description="Prometheus text exposition"
    ),
    ("GET", "/metrics/json"): _json(wire.MetricsSnapshot),
    ("GET", "/openapi.json"): _json(ANY_OBJECT),
    ("GET", "/docs"): Reply(schema={"type": "string"}, media="text/html", description="API reference page"),
    ("POST", "/assistants"): _json(wire.Assistant),
    ("POST", "/assistants/search"): _json(wire.Assistant, many=True),
    ("POST", "/assistants/count"): COUNT,
    ("GET", "/assistants/:assistant_id"): _json(wire.Assistant),
    ("PATCH", "/assistants/:assistant_id"): _json(wire.Assistant),
    ("POST", "/assistants/:assistant_id/versions"): _json(wire.AssistantVersion, many=True),
    ("POST", "/assistants/:assistant_id/latest"): _json(wire.Assistant),
    ("POST", "/threads"): _json(wire.Thread),
    ("POST", "/threads/search"): _json(wire.Thread, many=True),
    ("POST", "/threads/count"): COUNT,
    ("POST", "/threads/prune"): _json(wire.PruneResult),
    ("GET", "/threads/:thread_id"): _json(wire.Thread),
    ("PATCH", "/threads/:thread_id"): _json(wire.Thread),
    ("POST", "/threads/:thread_id/copy"): _json(wire.Thread),
    ("GET", "/threads/:thread_id/state"): _json(wire.ThreadState),
    ("POST", "/threads/:thread_id/state"): _json(wire.StateUpdateResult),
    ("GET", "/threads/:thread_id/state/:checkpoint_id"): _json(wire.ThreadState),
    ("POST", "/threads/:thread_id/state/checkpoint"): _json(wire.ThreadState),
    ("GET", "/threads/:thread_id/history"): _json(wire.ThreadState, many=True),
    ("POST", "/threads/:thread_id/history"): _json(wire.ThreadState, many=True),
    ("POST", "/threads/:thread_id/runs"): _json(wire.Run),
    ("POST", "/threads/:thread_id/runs/wait"): FINAL_VALUES,
    ("POST", "/runs"): _json(wire.Run),
    ("POST", "/runs/wait"): FINAL_VALUES,
    ("POST", "/runs/batch"): _json(wire.Run, many=True),
    ("GET", "/threads/:thread_id/runs"): _json(wire.Run, many=True),
    ("GET", "/threads/:thread_id/runs/:run_id"): _json(wire.Run),
    ("GET", "/threads/:thread_id/runs/:run_id/join"): FINAL_VALUES,
    # The reference answers 202 empty, or the final values with `wait=true`.
    ("POST", "/threads/:thread_id/runs/:run_id/cancel"): Reply(
        status=202, media=None, description="Cancellation requested (200 with final values when `wait=true`)"
    ),
    ("POST", "/runs/cancel"): EMPTY_204,
    ("POST", "/runs/crons"): _json(wire.Cron),
    ("POST", "/threads/:thread_id/runs/crons"): _json(wire.Cron),
    ("POST", "/runs/crons/search"): _json(wire.Cron, many=True),
    ("POST", "/runs/crons/count"): COUNT,
    ("GET", "/runs/crons/:cron_id"): _json(wire.Cron),
    ("PATCH", "/runs/crons/:cron_id"): _json(wire.Cron),
    ("PUT", "/store/items"): EMPTY_204,
    ("GET", "/store/items"): Reply(
        schema=wire.Item, nullable=True, description="The item, or null when it does not exist"
    ),
    ("POST", "/store/items/search"): _json(wire.SearchItems),
    ("POST", "/store/namespaces"): _json(wire.Namespaces),
}

# Bodies the router has no model for.
REQUEST_BODIES: dict[tuple[str, str], tuple[type[BaseModel], bool]] = {
    ("POST", "/runs/batch"): (models.RunCreate, True),
}

_BOOL = {"type": "boolean"}
_INT = {"type": "integer"}
_STR = {"type": "string"}
_STRS = {"type": "array", "items": {"type": "string"}}
_ACTION = Query("action", {"enum": ["interrupt", "rollback"], "default": "interrupt"}, "How to cancel")
_LAST_EVENT = Query("Last-Event-ID", _STR, "Resume after this event id", where="header")
_PAGE = [Query("limit", {**_INT, "default": 10}), Query("offset", {**_INT, "default": 0})]

QUERIES: dict[tuple[str, str], list[Query]] = {
    ("DELETE", "/assistants/:assistant_id"): [Query("delete_threads", _BOOL, "Also delete its threads")],
    ("GET", "/assistants/:assistant_id/graph"): [Query("xray", {"anyOf": [_BOOL, _INT]}, "Expand subgraphs")],
    ("GET", "/assistants/:assistant_id/subgraphs"): [Query("recurse", _BOOL)],
    ("GET", "/assistants/:assistant_id/subgraphs/:namespace"): [Query("recurse", _BOOL)],
    ("GET", "/threads/:thread_id/state"): [Query("subgraphs", _BOOL)],
    ("GET", "/threads/:thread_id/state/:checkpoint_id"): [Query("subgraphs", _BOOL)],
    ("GET", "/threads/:thread_id/history"): [Query("limit", {**_INT, "default": 10}), Query("before", _STR)],
    ("GET", "/threads/:thread_id/runs"): [
        *_PAGE,
        Query("status", {"enum": ["pending", "running", "success", "error", "interrupted", "timeout"]}),
        Query("select", _STRS, "Fields to return"),
    ],
    ("GET", "/threads/:thread_id/runs/:run_id/join"): [Query("cancel_on_disconnect", _BOOL)],
    ("GET", "/threads/:thread_id/runs/:run_id/stream"): [
        Query("cancel_on_disconnect", _BOOL),
        Query("stream_mode", _STRS, "Only these modes"),
        _LAST_EVENT,
    ],
    ("POST", "/threads/:thread_id/runs/:run_id/cancel"): [
        _ACTION,
        Query("wait", _BOOL, "Wait for the run to end"),
    ],
    ("POST", "/runs/cancel"): [_ACTION],
    ("GET", "/threads/:thread_id/stream"): [
        Query("stream_modes", _STRS, "run_modes, lifecycle, state_update"),
        _LAST_EVENT,
    ],
    ("GET", "/metrics"): [Query("format", {"enum": ["json"]}, "`json` for the JSON snapshot")],
    ("GET", "/store/items"): [
        Query("namespace", _STR, "Dot-joined namespace, e.g. `users.u1`"),
        Query("key", _STR),
        Query("refresh_ttl", _BOOL),
    ],
}

# Routes that create something that may already exist (`if_exists: raise`, `multitask_strategy: reject`).
CONFLICTS = {
    ("POST", "/assistants"),
    ("POST", "/threads"),
    ("POST", "/threads/:thread_id/runs"),
    ("POST", "/threads/:thread_id/runs/stream"),
    ("POST", "/threads/:thread_id/runs/wait"),
}

TAG_DESCRIPTIONS = {
    "system": "Health, server information, metrics and documentation",
    "assistants": "Assistants: graphs with their configuration, versioned",
    "threads": "Threads, their state and history",
    "runs": "Runs on a thread",
    "stateless runs": "Runs on a temporary thread",
    "crons": "Scheduled runs",
    "store": "The long-term key-value store shared with graphs",
    "a2a": "Agent-to-agent protocol (JSON-RPC 2.0)",
    "mcp": "Model Context Protocol (streamable HTTP, JSON only)",
}

ERROR_RESPONSES = {
    "400": ("BadRequest", "Bad request"),
    "401": ("Unauthorized", "Missing or invalid credentials"),
    "404": ("NotFound", "Not found (or owned by another user)"),
    "409": ("Conflict", "Already exists, or the thread is busy"),
    "422": ("ValidationError", "Invalid body, parameter or id"),
}

SECURITY_SCHEMES = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A Supabase access token",
    },
    "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key", "description": "The service API key"},
    "authScheme": {
        "type": "apiKey",
        "in": "header",
        "name": "x-auth-scheme",
        "description": "Must be `langsmith` for the service API key to count",
    },
}


def openapi_path(template: str) -> str:
    """`/threads/:thread_id` → `/threads/{thread_id}`."""
    return _PARAM.sub(r"{\1}", template)


def default_reply(method: str, template: str) -> Reply:
    """The response of a route missing from `RESPONSES`, guessed from its method and path."""
    if method == "DELETE":
        return EMPTY_204
    if template.endswith("/stream"):
        return SSE
    return Reply()


def reply_for(method: str, template: str) -> Reply:
    """The documented success response of a route."""
    if template.endswith("/stream") and method in {"GET", "POST"}:
        return SSE
    return RESPONSES.get((method, template)) or default_reply(method, template)


@dataclass
class _Schemas:
    """Collects every model first, so pydantic names and hoists all `$defs` in one pass."""

    models: list[tuple[type[BaseModel], str]] = field(default_factory=list)
    refs: dict[tuple[type[BaseModel], str], dict[str, Any]] = field(default_factory=dict)
    components: dict[str, Any] = field(default_factory=dict)

    def want(self, model: type[BaseModel], mode: str) -> None:
        if (model, mode) not in self.models:
            self.models.append((model, mode))  # type: ignore[arg-type]

    def resolve(self) -> None:
        refs, top = models_json_schema(self.models, ref_template=REF)  # type: ignore[arg-type]
        self.refs = dict(refs)  # type: ignore[arg-type]
        self.components = dict(top.get("$defs", {}))

    def ref(self, model: type[BaseModel], mode: str) -> dict[str, Any]:
        return self.refs[(model, mode)]


def _is_model(value: object) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _path_parameters(template: str) -> list[dict[str, Any]]:
    params = []
    for name in _PARAM.findall(template):
        schema: dict[str, Any] = {"type": "string"}
        if name.endswith("_id") and name != "checkpoint_id":
            schema["format"] = "uuid"
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return params


def _content(reply: Reply, schemas: _Schemas) -> dict[str, Any] | None:
    if reply.media is None:
        return None
    if _is_model(reply.schema):
        schema: dict[str, Any] = schemas.ref(reply.schema, "serialization")  # type: ignore[arg-type]
    elif isinstance(reply.schema, dict):
        schema = reply.schema
    else:
        schema = {}
    if reply.many:
        schema = {"type": "array", "items": schema}
    if reply.nullable:
        schema = {"anyOf": [schema, {"type": "null"}]}
    return {reply.media: {"schema": schema}}


def _request_body(route: RouteInfo, schemas: _Schemas) -> dict[str, Any] | None:
    model, many = route.request_model, False
    if (route.method, route.template) in REQUEST_BODIES:
        model, many = REQUEST_BODIES[(route.method, route.template)]
    if not _is_model(model):
        return None
    schema = schemas.ref(model, "validation")  # type: ignore[arg-type]
    required = bool(model.model_json_schema().get("required")) or many  # type: ignore[union-attr]
    if many:
        schema = {"type": "array", "items": schema}
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def _error_codes(route: RouteInfo, has_body: bool) -> list[str]:
    key = (route.method, route.template)
    codes = [] if route.public else ["401"]
    if ":" in route.template:
        codes.append("404")
    if key in CONFLICTS:
        codes.append("409")
    if has_body or ":" in route.template or key in QUERIES:
        codes.append("422")
    return codes


def _operation(route: RouteInfo, schemas: _Schemas, operation_ids: set[str]) -> dict[str, Any]:
    key = (route.method, route.template)
    reply = reply_for(*key)
    success: dict[str, Any] = {"description": reply.description}
    content = _content(reply, schemas)
    if content is not None:
        success["content"] = content
    responses: dict[str, Any] = {str(reply.status): success}
    body = _request_body(route, schemas)
    for code in _error_codes(route, body is not None):
        responses[code] = {"$ref": f"#/components/responses/{ERROR_RESPONSES[code][0]}"}
    operation_id = re.sub(r"[^A-Za-z0-9]+", "_", f"{route.method.lower()}{route.template}").strip("_")
    while operation_id in operation_ids:
        operation_id += "_"
    operation_ids.add(operation_id)
    operation: dict[str, Any] = {
        "tags": [route.tag],
        "summary": route.summary,
        "operationId": operation_id,
        "parameters": _path_parameters(route.template) + [_query(q) for q in QUERIES.get(key, [])],
        "responses": responses,
    }
    if route.description and route.description != route.summary:
        operation["description"] = route.description
    if body is not None:
        operation["requestBody"] = body
    if route.public:
        operation["security"] = []
    return operation


def _query(query: Query) -> dict[str, Any]:
    param: dict[str, Any] = {"name": query.name, "in": query.where, "required": False, "schema": query.schema}
    if query.description:
        param["description"] = query.description
    return param


def build_openapi(routes: Iterable[RouteInfo], *, title: str, version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document for these routes."""
    routes = list(routes)
    schemas = _Schemas()
    schemas.want(wire.ErrorResponse, "serialization")
    for route in routes:
        reply = reply_for(route.method, route.template)
        if _is_model(reply.schema):
            schemas.want(reply.schema, "serialization")  # type: ignore[arg-type]
        body_model = REQUEST_BODIES.get((route.method, route.template), (route.request_model, False))[0]
        if _is_model(body_model):
            schemas.want(body_model, "validation")  # type: ignore[arg-type]
    schemas.resolve()

    paths: dict[str, dict[str, Any]] = {}
    operation_ids: set[str] = set()
    for route in routes:
        path = paths.setdefault(openapi_path(route.template), {})
        path[route.method.lower()] = _operation(route, schemas, operation_ids)

    error_ref = schemas.ref(wire.ErrorResponse, "serialization")
    tags = list(dict.fromkeys(route.tag for route in routes))
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": title,
            "version": version,
            "description": "A LangGraph-API-compatible agent server on Robyn.",
        },
        "tags": [{"name": tag, "description": TAG_DESCRIPTIONS.get(tag, tag)} for tag in tags],
        "paths": paths,
        "components": {
            "schemas": schemas.components,
            "responses": {
                name: {"description": text, "content": {"application/json": {"schema": error_ref}}}
                for name, text in ERROR_RESPONSES.values()
            },
            "securitySchemes": SECURITY_SCHEMES,
        },
        "security": [{"bearerAuth": []}, {"apiKey": [], "authScheme": []}],
    }
