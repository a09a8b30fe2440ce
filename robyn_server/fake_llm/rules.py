"""Scripted, deterministic behaviour of the fake chat model.

Given the request's messages (and optional tools), the reply is chosen by the
first rule that applies:

1. No messages at all                       -> "Hello!"
2. Last message has role "tool"             -> "Tool said: <content>. Anything else?"
   (list content: the text parts are joined with a space)
3. Last user text contains the word "fail"  -> HTTP 500 with an OpenAI-style error
   (case-insensitive; the response carries `x-should-retry: false`
   so the openai client raises at once instead of retrying)
4. Tools offered and the last user text contains "use <toolname>" naming an
   offered tool                             -> a tool call to that tool.
   Arguments: `key=value` pairs found after the tool name (values are strings:
   word characters, optionally with inner "." or "-", or a double-quoted
   string). With no pairs, every property in the tool's JSON-schema `required`
   list gets the rest of the text after the tool name (or "test" if empty).
     "please use get_weather with city=Rome"  -> get_weather({"city": "Rome"})
     'use search_docs query="big cats"'       -> search_docs({"query": "big cats"})
     "use search_docs cats"                   -> search_docs({"query": "cats"})
5. Tools offered, the text contains "weather" and a tool named `get_weather`
   is offered                               -> get_weather({"city": <word after "in ">})
   (default city "Paris")
6. `tool_choice` forces a tool ({"type": "function", "function": {"name": ...}},
   or "required"/"any" meaning the first offered tool) -> a call to it with its
   required properties filled as in rule 4.
7. Otherwise                                -> "You said: <last user text>"
   ("Hello!" when there is no user message).

Tool call ids are `call_<toolname>_<n>`, n = the number of assistant messages
with tool_calls already in the conversation. System/developer messages never
influence the decision but are counted in usage.

Usage: prompt_tokens = whitespace-separated words in all input messages'
text; completion_tokens = number of content tokens (see `tokenize`), or for a
tool call 1 + the number of argument pieces; total_tokens = their sum.

Streaming: one chunk per token of `re.split(r"(\\s)", text)` (whitespace kept
as its own token), the first chunk carrying `role: assistant`; tool calls
stream a header chunk (id, type, name) and then the arguments JSON in at least
two pieces; a final chunk carries `finish_reason` ("stop" or "tool_calls"),
followed by a usage chunk when `stream_options.include_usage` is true, then
`data: [DONE]`.

Token delay: `--token-delay SECONDS` (or the request header
`x-fake-token-delay`) sleeps between streamed chunks; a non-streaming reply
sleeps delay * completion_tokens before answering.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

DEFAULT_MODEL = "fake-model"

_TOKEN_SPLIT = re.compile(r"(\s)")
_FAIL = re.compile(r"\bfail\b", re.IGNORECASE)
_USE_TOOL = re.compile(r"\buse\s+([A-Za-z0-9_-]+)", re.IGNORECASE)
_KEY_VALUE = re.compile(r'([A-Za-z_][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|(\w(?:[\w.-]*\w)?))')
_CITY = re.compile(r"\bin\s+(\w[\w-]*)")
_ESCAPE = re.compile(r"\\(.)")
_TRIM = " \t\r\n.,;:!?"


class RequestError(ValueError):
    """The request body is not a valid chat completion request (answered with HTTP 400)."""


@dataclass(frozen=True)
class ToolCall:
    """A tool call the fake model decided to make; `arguments` is a JSON string."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class Reply:
    """The scripted outcome: text content, tool calls, or an error message (HTTP 500)."""

    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    error: str | None = None


@dataclass
class ChatRequest:
    """The parts of a chat completion request the fake model cares about."""

    model: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: Any = None
    stream: bool = False
    include_usage: bool = False


def parse_request(body: Any) -> ChatRequest:
    """Validate a decoded JSON body and extract a `ChatRequest`, raising `RequestError`."""
    if not isinstance(body, dict):
        raise RequestError("Request body must be a JSON object.")
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise RequestError("'messages' must be a list.")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise RequestError(f"messages[{i}] must be an object with a string 'role'.")
    tools = body.get("tools") or []
    if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
        raise RequestError("'tools' must be a list of objects.")
    model = body.get("model", DEFAULT_MODEL)
    if not isinstance(model, str):
        raise RequestError("'model' must be a string.")
    stream_options = body.get("stream_options") or {}
    if not isinstance(stream_options, dict):
        raise RequestError("'stream_options' must be an object.")
    return ChatRequest(
        model=model,
        messages=messages,
        tools=tools,
        tool_choice=body.get("tool_choice"),
        stream=bool(body.get("stream")),
        include_usage=bool(stream_options.get("include_usage")),
    )


def content_text(content: Any) -> str:
    """Return the text of a message `content` (a string, or a list of parts whose text is joined)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
        return " ".join(texts)
    return ""


def tokenize(text: str) -> list[str]:
    """Split text into whitespace-preserving tokens, the unit of streaming and usage."""
    return [token for token in _TOKEN_SPLIT.split(text) if token]


def split_arguments(arguments: str) -> list[str]:
    """Split a tool call's arguments JSON into at least two streamable pieces."""
    pieces = tokenize(arguments)
    if len(pieces) >= 2:
        return pieces
    middle = max(1, len(arguments) // 2)
    return [arguments[:middle], arguments[middle:]]


def prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """Count whitespace-separated words across all input messages."""
    return sum(len(content_text(m.get("content")).split()) for m in messages)


def completion_tokens(reply: Reply) -> int:
    """Count the tokens a reply produces (content tokens, or 1 + argument pieces per tool call)."""
    if reply.tool_calls:
        return sum(1 + len(split_arguments(call.arguments)) for call in reply.tool_calls)
    return len(tokenize(reply.content or ""))


def decide(request: ChatRequest) -> Reply:
    """Apply the scripted rules (see the module docstring) to a request."""
    messages = request.messages
    if not messages:
        return Reply(content="Hello!")
    last = messages[-1]
    if last.get("role") in ("tool", "function"):
        return Reply(content=f"Tool said: {content_text(last.get('content'))}. Anything else?")

    text = _last_user_text(messages)
    if _FAIL.search(text):
        return Reply(error="The fake model was asked to fail.")

    tools = _tools_by_name(request.tools)
    call_index = sum(1 for m in messages if m.get("role") == "assistant" and m.get("tool_calls"))
    if tools:
        call = _use_rule(text, tools) or _weather_rule(text, tools) or _forced_rule(request, text, tools)
        if call is not None:
            name, arguments = call
            return Reply(tool_calls=(_tool_call(name, arguments, call_index),))
    if not text:
        return Reply(content="Hello!")
    return Reply(content=f"You said: {text}")


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return content_text(message.get("content"))
    return ""


def _tools_by_name(tools: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Map tool name -> JSON schema of its parameters (OpenAI and bare function shapes)."""
    by_name: dict[str, dict[str, Any]] = {}
    for tool in tools:
        function = tool.get("function") if isinstance(tool.get("function"), dict) else tool
        name = function.get("name")
        if isinstance(name, str) and name:
            parameters = function.get("parameters")
            by_name[name] = parameters if isinstance(parameters, dict) else {}
    return by_name


def _use_rule(text: str, tools: dict[str, dict[str, Any]]) -> tuple[str, dict[str, str]] | None:
    lowered = {name.lower(): name for name in tools}
    for match in _USE_TOOL.finditer(text):
        name = match.group(1)
        name = name if name in tools else lowered.get(name.lower(), "")
        if name:
            rest = text[match.end() :]
            return name, _key_values(rest) or _fill_required(tools[name], rest)
    return None


def _key_values(text: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for match in _KEY_VALUE.finditer(text):
        key, quoted, bare = match.groups()
        pairs[key] = _ESCAPE.sub(r"\1", quoted) if quoted is not None else bare
    return pairs


def _weather_rule(text: str, tools: dict[str, dict[str, Any]]) -> tuple[str, dict[str, str]] | None:
    if "get_weather" not in tools or "weather" not in text.lower():
        return None
    match = _CITY.search(text)
    return "get_weather", {"city": match.group(1) if match else "Paris"}


def _forced_rule(
    request: ChatRequest, text: str, tools: dict[str, dict[str, Any]]
) -> tuple[str, dict[str, str]] | None:
    choice = request.tool_choice
    name: str | None = None
    if isinstance(choice, dict):
        function = choice.get("function")
        name = function.get("name") if isinstance(function, dict) else choice.get("name")
    elif choice in ("required", "any"):
        name = next(iter(tools))
    if not isinstance(name, str) or name not in tools:
        return None
    return name, _fill_required(tools[name], text)


def _fill_required(schema: dict[str, Any], rest: str) -> dict[str, str]:
    required = schema.get("required")
    if not isinstance(required, list):
        return {}
    value = rest.strip(_TRIM) or "test"
    return {key: value for key in required if isinstance(key, str)}


def _tool_call(name: str, arguments: dict[str, str], index: int) -> ToolCall:
    return ToolCall(id=f"call_{name}_{index}", name=name, arguments=json.dumps(arguments))
