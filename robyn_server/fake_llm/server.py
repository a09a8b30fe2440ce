"""Standard-library HTTP server speaking enough of the OpenAI Chat Completions API.

Endpoints (the `/v1` prefix is optional):
  POST   /v1/chat/completions   scripted reply (see `robyn_server.fake_llm.rules`), JSON or SSE
  GET    /v1/models             the configured model names
  GET    /v1/models/{id}        one model object
  GET    /health                {"status": "ok"}
  GET    /_requests             recorded chat requests (newest last)
  DELETE /_requests             clear the record
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import urlsplit

from .rules import (
    DEFAULT_MODEL,
    ChatRequest,
    Reply,
    RequestError,
    completion_tokens,
    decide,
    parse_request,
    prompt_tokens,
    split_arguments,
    tokenize,
)

MAX_BODY_BYTES = 32 * 1024 * 1024
DELAY_HEADER = "x-fake-token-delay"
_DONE = b"data: [DONE]\n\n"


class RequestLog:
    """Thread-safe, bounded in-memory record of received chat requests."""

    def __init__(self, max_entries: int = 200) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=max_entries)
        self._lock = threading.Lock()

    def record(self, entry: dict[str, Any]) -> None:
        """Append one entry, dropping the oldest beyond the bound."""
        with self._lock:
            self._entries.append(entry)

    def snapshot(self) -> list[dict[str, Any]]:
        """Return a copy of the entries, oldest first."""
        with self._lock:
            return list(self._entries)

    def clear(self) -> int:
        """Drop all entries and return how many there were."""
        with self._lock:
            count = len(self._entries)
            self._entries.clear()
            return count


def error_payload(message: str, error_type: str, code: str | None = None) -> dict[str, Any]:
    """Build an error body in OpenAI's shape."""
    return {"error": {"message": message, "type": error_type, "param": None, "code": code}}


def usage_payload(request: ChatRequest, reply: Reply) -> dict[str, Any]:
    """Build the `usage` object for a request/reply pair."""
    prompt = prompt_tokens(request.messages)
    completion = completion_tokens(reply)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }


def completion_payload(
    request: ChatRequest, reply: Reply, completion_id: str, created: int
) -> dict[str, Any]:
    """Build a non-streaming `chat.completion` response body."""
    message: dict[str, Any] = {"role": "assistant", "content": reply.content, "refusal": None}
    if reply.tool_calls:
        message["content"] = None
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in reply.tool_calls
        ]
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": request.model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if reply.tool_calls else "stop",
            }
        ],
        "usage": usage_payload(request, reply),
        "system_fingerprint": None,
    }


def stream_payloads(
    request: ChatRequest, reply: Reply, completion_id: str, created: int
) -> list[dict[str, Any]]:
    """Build the `chat.completion.chunk` bodies of a streamed reply, in order."""
    deltas: list[dict[str, Any]] = []
    if reply.tool_calls:
        for index, call in enumerate(reply.tool_calls):
            function = {"name": call.name, "arguments": ""}
            deltas.append(
                {"tool_calls": [{"index": index, "id": call.id, "type": "function", "function": function}]}
            )
            for piece in split_arguments(call.arguments):
                deltas.append({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
        deltas[0] = {"role": "assistant", "content": None, **deltas[0]}
    else:
        tokens = tokenize(reply.content or "") or [""]
        deltas = [{"content": token} for token in tokens]
        deltas[0] = {"role": "assistant", **deltas[0]}
    finish_reason = "tool_calls" if reply.tool_calls else "stop"
    choices = [[{"index": 0, "delta": d, "logprobs": None, "finish_reason": None}] for d in deltas]
    choices.append([{"index": 0, "delta": {}, "logprobs": None, "finish_reason": finish_reason}])

    def chunk(choice_list: list[dict[str, Any]]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": request.model,
            "system_fingerprint": None,
            "choices": choice_list,
        }
        if request.include_usage:
            body["usage"] = None
        return body

    payloads = [chunk(c) for c in choices]
    if request.include_usage:
        payloads.append({**chunk([]), "usage": usage_payload(request, reply)})
    return payloads


class _HTTPError(Exception):
    def __init__(self, status: int, message: str, error_type: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog of 5 drops connections under benchmark concurrency.
    request_queue_size = 1024

    def __init__(
        self, address: tuple[str, int], token_delay: float, models: list[str], log: RequestLog, verbose: bool
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.token_delay = token_delay
        self.models = models
        self.log = log
        self.verbose = verbose
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS lookup that can stall startup.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])

    def handle_error(self, request: Any, client_address: Any) -> None:
        if self.verbose:
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeLLM/1.0"
    disable_nagle_algorithm = True
    timeout = 300  # idle keep-alive connections release their thread eventually
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answer protocol-level errors (bad request line, unsupported method) in OpenAI's JSON shape."""
        self.close_connection = True
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "Error"
        self._send_json(code, error_payload(message or phrase, "invalid_request_error"))

    def end_headers(self) -> None:
        self._responded = True
        super().end_headers()

    def do_GET(self) -> None:
        self._dispatch(self._get)

    def do_POST(self) -> None:
        self._dispatch(self._post)

    def do_DELETE(self) -> None:
        self._dispatch(self._delete)

    def _route(self) -> str:
        path = urlsplit(self.path).path.rstrip("/") or "/"
        return path[3:] if path.startswith("/v1/") else path

    def _dispatch(self, handler: Callable[[], None]) -> None:
        self._responded = False
        try:
            handler()
        except _HTTPError as exc:
            self._send_json(exc.status, error_payload(exc.message, exc.error_type))
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception as exc:
            traceback.print_exc()
            self.close_connection = True
            if not self._responded:
                self._send_json(500, error_payload(f"Fake LLM internal error: {exc!r}", "server_error"))

    def _get(self) -> None:
        route = self._route()
        if route == "/health":
            self._send_json(200, {"status": "ok"})
        elif route == "/models":
            self._send_json(200, {"object": "list", "data": [self._model(m) for m in self.server.models]})
        elif route.startswith("/models/"):
            self._send_json(200, self._model(route.removeprefix("/models/")))
        elif route == "/_requests":
            self._send_json(200, self.server.log.snapshot())
        else:
            raise _HTTPError(404, f"Unknown path: {self.path}", "not_found_error")

    def _delete(self) -> None:
        self._read_body()
        if self._route() != "/_requests":
            raise _HTTPError(404, f"Unknown path: {self.path}", "not_found_error")
        self._send_json(200, {"cleared": self.server.log.clear()})

    def _post(self) -> None:
        raw = self._read_body()
        if self._route() != "/chat/completions":
            raise _HTTPError(404, f"Unknown path: {self.path}", "not_found_error")
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, ValueError) as exc:
            raise _HTTPError(400, f"Request body is not valid JSON: {exc}") from None
        self.server.log.record(
            {
                "path": self.path,
                "authorization": self.headers.get("Authorization"),
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body,
            }
        )
        try:
            request = parse_request(body)
        except RequestError as exc:
            raise _HTTPError(400, str(exc)) from None
        delay = self._token_delay()
        reply = decide(request)
        if reply.error is not None:
            self._send_json(500, error_payload(reply.error, "server_error"), {"x-should-retry": "false"})
            return
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        if request.stream:
            self._stream(stream_payloads(request, reply, completion_id, created), delay)
        else:
            if delay > 0:
                time.sleep(delay * completion_tokens(reply))
            self._send_json(200, completion_payload(request, reply, completion_id, created))

    def _token_delay(self) -> float:
        value = self.headers.get(DELAY_HEADER)
        if value is None:
            return self.server.token_delay
        try:
            delay = float(value)
        except ValueError:
            raise _HTTPError(400, f"Header {DELAY_HEADER} must be a number of seconds.") from None
        if not 0 <= delay <= 60:
            raise _HTTPError(400, f"Header {DELAY_HEADER} must be between 0 and 60 seconds.")
        return delay

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            return b""
        try:
            length = int(length_header)
        except ValueError:
            self.close_connection = True
            raise _HTTPError(400, "Invalid Content-Length header.") from None
        if not 0 <= length <= MAX_BODY_BYTES:
            self.close_connection = True
            raise _HTTPError(413, "Request body too large.")
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                raise _HTTPError(400, "Malformed chunked request body.") from None
            total += size
            if size < 0 or total > MAX_BODY_BYTES:
                self.close_connection = True
                raise _HTTPError(413, "Request body too large.")
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # skip trailers
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, payloads: list[dict[str, Any]], delay: float) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        events = [b"data: " + json.dumps(p).encode() + b"\n\n" for p in payloads] + [_DONE]
        if delay <= 0:
            # One write for the whole stream keeps the no-delay path cheap for benchmarks.
            self.wfile.write(b"".join(_http_chunk(e) for e in events) + b"0\r\n\r\n")
            return
        for i, event in enumerate(events):
            if 0 < i < len(events) - 1:
                time.sleep(delay)
            self.wfile.write(_http_chunk(event))
        self.wfile.write(b"0\r\n\r\n")

    @staticmethod
    def _model(model_id: str) -> dict[str, Any]:
        return {"id": model_id, "object": "model", "created": 0, "owned_by": "fake-llm"}


def _http_chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


class FakeLLMServer:
    """An in-process fake OpenAI-compatible server; `start()` serves from a daemon thread.

    Example:
        with FakeLLMServer() as llm:
            model = ChatOpenAI(base_url=llm.url, api_key="x", model="fake-model")
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        token_delay: float = 0.0,
        models: list[str] | None = None,
        max_recorded: int = 200,
        verbose: bool = False,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.token_delay = token_delay
        self.models = list(models) if models else [DEFAULT_MODEL]
        self.log = RequestLog(max_recorded)
        self.verbose = verbose
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    def bind(self) -> Self:
        """Bind the listening socket without serving yet (idempotent); returns self."""
        if self._httpd is None:
            address = (self.host, self.requested_port)
            self._httpd = _HTTPServer(address, self.token_delay, self.models, self.log, self.verbose)
        return self

    def start(self) -> Self:
        """Bind the socket and serve from a daemon thread; returns self."""
        if self._thread is None:
            httpd = self._server()
            self._thread = threading.Thread(
                target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="fake-llm", daemon=True
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Bind the socket and serve in the calling thread until interrupted."""
        self._server().serve_forever(poll_interval=0.5)

    def _server(self) -> _HTTPServer:
        self.bind()
        assert self._httpd is not None
        return self._httpd

    def stop(self) -> None:
        """Stop serving and close the listening socket (idempotent)."""
        if self._httpd is None:
            return
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()
        self._httpd = None

    @property
    def port(self) -> int:
        """The bound port (useful with port=0)."""
        if self._httpd is None:
            raise RuntimeError("FakeLLMServer is not started.")
        return self._httpd.server_port

    @property
    def root_url(self) -> str:
        """Base URL without the API prefix, e.g. `http://127.0.0.1:8001`."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def url(self) -> str:
        """OpenAI `base_url`, e.g. `http://127.0.0.1:8001/v1`."""
        return f"{self.root_url}/v1"

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The recorded chat requests (same entries as `GET /_requests`)."""
        return self.log.snapshot()

    def clear_requests(self) -> None:
        """Forget the recorded requests."""
        self.log.clear()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
