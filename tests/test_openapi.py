"""`build_openapi` from route docs, without a server."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from robyn_server import models
from robyn_server.openapi import build_openapi, openapi_path


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    summary: str = "Summary."
    tag: str = "things"
    public: bool = False
    request_model: type | None = None
    description: str = "Summary."


class Inner(BaseModel):
    n: int


class Outer(BaseModel):
    inner: Inner
    name: str = "x"


def refs(node: Any) -> Iterator[str]:
    """Every `$ref` anywhere in a JSON document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def resolve(document: dict, ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


ROUTES = [
    Route("GET", "/ok", public=True, tag="system"),
    Route("POST", "/things", request_model=Outer),
    Route("GET", "/things/:thing_id"),
    Route("DELETE", "/things/:thing_id"),
    Route("GET", "/things/:thing_id/parts/:checkpoint_id"),
    Route("POST", "/things/:thing_id/runs/stream", request_model=models.RunCreate),
    Route("POST", "/threads", request_model=models.ThreadCreate, tag="threads"),
    Route("POST", "/runs/batch", tag="stateless runs"),
]


def test_paths_parameters_and_operations() -> None:
    document = build_openapi(ROUTES, title="t", version="1")
    assert document["openapi"] == "3.1.0"
    assert document["info"] == {"title": "t", "version": "1", "description": document["info"]["description"]}
    assert openapi_path("/a/:b/c/:d") == "/a/{b}/c/{d}"
    part = document["paths"]["/things/{thing_id}/parts/{checkpoint_id}"]["get"]
    assert [p["name"] for p in part["parameters"]] == ["thing_id", "checkpoint_id"]
    assert part["parameters"][0]["schema"] == {"type": "string", "format": "uuid"}
    assert part["parameters"][1]["schema"] == {"type": "string"}
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids)) == len(ROUTES)
    assert [t["name"] for t in document["tags"]] == ["system", "things", "threads", "stateless runs"]


def test_request_bodies_are_hoisted_components() -> None:
    document = build_openapi(ROUTES, title="t", version="1")
    schemas = document["components"]["schemas"]
    body = document["paths"]["/things"]["post"]["requestBody"]
    assert body["required"] is True
    assert body["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Outer"}
    assert schemas["Outer"]["properties"]["inner"] == {"$ref": "#/components/schemas/Inner"}
    assert "$defs" not in str(document)
    # A body without required fields is optional; a batch is an array of run bodies.
    assert document["paths"]["/threads"]["post"]["requestBody"]["required"] is False
    batch = document["paths"]["/runs/batch"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert batch == {"type": "array", "items": {"$ref": "#/components/schemas/RunCreate"}}
    for ref in refs(document):
        assert resolve(document, ref) is not None, ref


def test_responses_follow_what_routes_answer() -> None:
    document = build_openapi(ROUTES, title="t", version="1")
    paths = document["paths"]
    assert set(paths["/things/{thing_id}"]["delete"]["responses"]) == {"204", "401", "404", "422"}
    assert "content" not in paths["/things/{thing_id}"]["delete"]["responses"]["204"]
    stream = paths["/things/{thing_id}/runs/stream"]["post"]["responses"]["200"]
    assert set(stream["content"]) == {"text/event-stream"}
    thread = paths["/threads"]["post"]["responses"]
    assert thread["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Thread"}
    assert thread["409"] == {"$ref": "#/components/responses/Conflict"}
    error = document["components"]["responses"]["NotFound"]["content"]["application/json"]["schema"]
    assert resolve(document, error["$ref"])["required"] == ["detail"]


def test_security_public_routes_opt_out() -> None:
    document = build_openapi(ROUTES, title="t", version="1")
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"]["scheme"] == "bearer"
    assert {schemes["apiKey"]["name"], schemes["authScheme"]["name"]} == {"x-api-key", "x-auth-scheme"}
    assert document["security"] == [{"bearerAuth": []}, {"apiKey": [], "authScheme": []}]
    assert document["paths"]["/ok"]["get"]["security"] == []
    assert "401" not in document["paths"]["/ok"]["get"]["responses"]
    assert "security" not in document["paths"]["/things"]["post"]
