"""A LangConnect (RAG server) stand-in for tests: standard library HTTP on 127.0.0.1.

Endpoints (all require `Authorization: Bearer <anything>`, else 401):

- `GET /collections/{id}`: `{"uuid", "name", "metadata": {"description"}}` of a known
  collection, 404 otherwise.
- `POST /collections/{id}/documents/search` with `{"query", "limit"}`: the collection's
  documents (`{"id", "page_content", "metadata"}`) whose content contains a word of the query
  (all of them for an empty query), at most `limit`.

Every request is recorded (`requests`: method, path, authorization, body).

    with FakeRagServer() as rag:
        rag.url                       # "http://127.0.0.1:PORT"
        rag.requests[-1]["authorization"]
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

PETS_COLLECTION_ID = "4f1c7a3e-2b8d-4e6a-9c1f-0a5b3d7e9f21"
PETS_TOOL_NAME = "Cats___Dogs"  # "Cats & Dogs" with invalid characters replaced

_WORD = re.compile(r"\w+")
_SEARCH_PATH = re.compile(r"^/collections/([^/]+)/documents/search$")
_COLLECTION_PATH = re.compile(r"^/collections/([^/]+)$")


@dataclass
class Collection:
    """One collection: its display data and its documents."""

    name: str
    description: str
    documents: list[dict[str, Any]] = field(default_factory=list)


def default_collections() -> dict[str, Collection]:
    """The pets collection the tests use."""
    documents = [
        {"id": "doc-cats-1", "page_content": "Cats sleep up to sixteen hours a day.", "metadata": {}},
        {"id": "doc-cats-2", "page_content": "A group of cats is called a clowder.", "metadata": {}},
        {"id": "doc-dogs-1", "page_content": "Dogs can smell about 40 times better than us.", "metadata": {}},
    ]
    return {PETS_COLLECTION_ID: Collection("Cats & Dogs", "Facts about pets", documents)}


class FakeRagServer:
    """A LangConnect-like server in a background thread.

    Attributes:
        collections: id -> Collection served (mutable between requests).
        search_status: when set, searches answer with this HTTP status (error-path tests).
        requests: every request as `{"method", "path", "authorization", "body"}`.
    """

    def __init__(self, collections: dict[str, Collection] | None = None, host: str = "127.0.0.1") -> None:
        self.collections = collections if collections is not None else default_collections()
        self.search_status: int | None = None
        self.host = host
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. `http://127.0.0.1:PORT` (what `rag.rag_url` holds)."""
        if self._httpd is None:
            raise RuntimeError("FakeRagServer is not started.")
        return f"http://{self.host}:{self._httpd.server_port}"

    def start(self) -> Self:
        """Serve from a daemon thread; returns self."""
        if self._httpd is None:
            self._httpd = ThreadingHTTPServer((self.host, 0), _make_handler(self))
            self._httpd.daemon_threads = True
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="fake-rag", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        if self._httpd is None:
            return
        self._httpd.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd.server_close()
        self._httpd = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def record(self, entry: dict[str, Any]) -> None:
        """Remember one request."""
        with self._lock:
            self.requests.append(entry)

    def search(self, collection: Collection, query: str, limit: int) -> list[dict[str, Any]]:
        """Documents whose content contains a word of `query` (case-insensitive), at most `limit`."""
        words = {w.lower() for w in _WORD.findall(query)}
        hits = [
            doc
            for doc in collection.documents
            if not words or any(word in doc["page_content"].lower() for word in words)
        ]
        return hits[: max(0, limit)]


def _make_handler(server: FakeRagServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def _handle(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            authorization = self.headers.get("Authorization")
            path = self.path.split("?", 1)[0].rstrip("/")
            server.record({"method": method, "path": path, "authorization": authorization, "body": body})
            scheme, _, token = (authorization or "").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                self._send(401, {"detail": "Missing or invalid bearer token"})
                return
            if method == "GET" and (match := _COLLECTION_PATH.match(path)):
                self._collection(match.group(1))
            elif method == "POST" and (match := _SEARCH_PATH.match(path)):
                self._search(match.group(1), body)
            else:
                self._send(404, {"detail": "Not Found"})

        def _collection(self, collection_id: str) -> None:
            collection = server.collections.get(collection_id)
            if collection is None:
                self._send(404, {"detail": "Collection not found"})
                return
            payload = {
                "uuid": collection_id,
                "name": collection.name,
                "metadata": {"description": collection.description},
            }
            self._send(200, payload)

        def _search(self, collection_id: str, body: Any) -> None:
            collection = server.collections.get(collection_id)
            if collection is None:
                self._send(404, {"detail": "Collection not found"})
                return
            if server.search_status is not None:
                self._send(server.search_status, {"detail": "Search is unavailable"})
                return
            if not isinstance(body, dict) or not isinstance(body.get("query"), str):
                self._send(422, {"detail": "query is required"})
                return
            limit = body.get("limit", 10)
            self._send(200, server.search(collection, body["query"], limit if isinstance(limit, int) else 10))

        def _send(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
