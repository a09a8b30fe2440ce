"""`/openapi.json` and `/docs` on the real server.

The list of routes to compare with comes from the app itself: `create_app` runs in a
subprocess (Robyn parses `sys.argv` at import, so never in the pytest process) and
prints its route table.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness.server import ROOT

METHODS = {"get", "post", "put", "patch", "delete"}

LIST_ROUTES = """
import json
from robyn_server.app import create_app
from robyn_server.config import load_settings
from robyn_server.engine.graphs import GraphRegistry
settings = load_settings(["--env-file", "/nonexistent/.env"], environ={"ROBYN_HOST": "127.0.0.1"})
app = create_app(settings, graphs=GraphRegistry([]))
print(json.dumps(sorted(app.router.table.templates())))
"""


@pytest.fixture(scope="module")
def document(base_url: str) -> dict[str, Any]:
    response = httpx.get(f"{base_url}/openapi.json", timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    return response.json()


@pytest.fixture(scope="module")
def route_table() -> list[tuple[str, str]]:
    done = subprocess.run(
        [sys.executable, "-c", LIST_ROUTES], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return [tuple(pair) for pair in json.loads(done.stdout.strip().splitlines()[-1])]


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert method in METHODS, (path, method)
            yield method.upper(), path, operation


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def test_every_registered_route_is_documented(document: dict[str, Any], route_table: list) -> None:
    assert len(route_table) > 40
    served = {(method, re.sub(r":(\w+)", r"{\1}", template)) for method, template in route_table}
    documented = {(method, path) for method, path, _ in operations(document)}
    assert served - documented == set(), "routes missing from /openapi.json"
    assert documented - served == set(), "documented routes that are not served"
    for path in ("/threads/{thread_id}/runs/stream", "/metrics", "/metrics/json", "/docs", "/openapi.json"):
        assert path in document["paths"]


def test_document_structure(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    assert document["info"]["title"] and document["info"]["version"]
    tags = {tag["name"] for tag in document["tags"]}
    ids = []
    for method, path, operation in operations(document):
        where = f"{method} {path}"
        assert operation["summary"] and operation["tags"][0] in tags, where
        ids.append(operation["operationId"])
        declared = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
        assert declared == set(re.findall(r"{(\w+)}", path)), where
        assert all(p["required"] for p in operation["parameters"] if p["in"] == "path"), where
        codes = set(operation["responses"])
        assert codes & {"200", "202", "204"}, where
        if "requestBody" in operation:
            assert "application/json" in operation["requestBody"]["content"], where
    assert len(ids) == len(set(ids))
    schemas = document["components"]["schemas"]
    for ref in refs(document):
        kind, _, name = ref.removeprefix("#/components/").partition("/")
        assert name in document["components"][kind], ref
    assert "$defs" not in json.dumps(document)
    assert {"Assistant", "Thread", "Run", "Cron", "ThreadState", "Item", "ErrorResponse"} <= set(schemas)


def test_responses_match_the_wire(document: dict[str, Any]) -> None:
    paths = document["paths"]

    def schema(method: str, path: str, status: str = "200", media: str = "application/json") -> dict:
        return paths[path][method]["responses"][status]["content"][media]["schema"]

    assert schema("post", "/threads/{thread_id}/runs/stream", media="text/event-stream")["type"] == "string"
    assert schema("post", "/runs/stream", media="text/event-stream")
    assert schema("post", "/assistants") == {"$ref": "#/components/schemas/Assistant"}
    assert schema("post", "/threads/search")["items"] == {"$ref": "#/components/schemas/Thread"}
    assert schema("get", "/threads/{thread_id}/state") == {"$ref": "#/components/schemas/ThreadState"}
    assert "204" in paths["/threads/{thread_id}"]["delete"]["responses"]
    assert "202" in paths["/threads/{thread_id}/runs/{run_id}/cancel"]["post"]["responses"]
    not_found = paths["/threads/{thread_id}"]["get"]["responses"]["404"]
    assert not_found == {"$ref": "#/components/responses/NotFound"}
    body = paths["/threads/{thread_id}/runs"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/RunCreate"}
    assert "assistant_id" in document["components"]["schemas"]["RunCreate"]["required"]


def test_security(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert schemes["apiKey"]["name"] == "x-api-key" and schemes["authScheme"]["name"] == "x-auth-scheme"
    public = {"/", "/ok", "/health", "/info", "/metrics", "/metrics/json", "/docs", "/openapi.json"}
    for method, path, operation in operations(document):
        if path in public:
            assert operation["security"] == [], path
        else:
            assert "security" not in operation and "401" in operation["responses"], (method, path)


def test_docs_page_is_self_contained(anon_http: httpx.Client) -> None:
    response = anon_http.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "/openapi.json" in page and "function render(" in page
    assert not re.search(r"<script[^>]*\bsrc=", page, re.IGNORECASE)
    assert not re.search(r"<link[^>]*\bhref=", page, re.IGNORECASE)
    assert "http://" not in page and "https://" not in page
    assert anon_http.get("/openapi.json").status_code == 200


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_docs_script_parses(anon_http: httpx.Client, tmp_path: Path) -> None:
    script = re.search(r"<script>(.*?)</script>", anon_http.get("/docs").text, re.DOTALL)
    assert script is not None
    source = tmp_path / "docs.js"
    source.write_text(script.group(1))
    done = subprocess.run(["node", "--check", str(source)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
