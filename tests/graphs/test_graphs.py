"""Deterministic graphs for the test suite (registered in `tests/graphs/langgraph.json`).

The first four mirror the reference peer's graphs (`shared/peers/langgraph_dev`): same node
names, state keys, outputs, tool-call ids, custom events and error messages, so that our
SSE output can be compared with the reference transcripts. Names that leak onto the wire
(the model class -> `ls_provider`, the router -> `events` mode, state class names -> schema
titles) are kept identical on purpose.

- `chat`: `agent` <-> `tools` over `messages`. A scripted model streams whitespace tokens;
  "weather" (optionally "in <City>") first calls `get_weather` with id `call_weather_<n>`
  (n = earlier AI messages with tool calls); "fail" raises `ValueError`. Each model call
  emits custom `{"node": "agent", "n_messages": N}`. `configurable.token_delay` (seconds)
  slows streaming.
- `hitl`: `draft` -> `review` (`interrupt({"question": "Approve the draft?", "draft": ...})`)
  -> `finish` (AI message "Decision recorded: <json of the resume value>").
- `nested`: `prepare` -> `child` (subgraph `left` -> `right`) -> `done` over `{"trail": [...]}`,
  each step emitting custom `{"visited": name}`.
- `slow`: input `{"seconds", "steps", "fail"}`; sleeps in steps emitting `{"step": i, "of": n}`,
  then raises `RuntimeError` if `fail`, else appends to `log`.

Extra graphs for engine features:

- `factory`: `factory_graph(config)`, an async one-argument factory. It records in
  `FACTORY_CALLS` what `get_config()` / `get_store()` returned while it ran, and builds a
  graph whose node `remember` writes `{"seen": <configurable.marker of the factory config>}`
  and puts `{"marker": ...}` under namespace ("factory", "calls"), key = the marker (or
  "none"), in the run's store.
- `uncompiled`: an uncompiled `StateGraph`; node `increment` adds 1 to `count`.
- `ctx`: `context_schema=GreetingContext` (dataclass, `greeting: str = "Hello"`); node `greet`
  writes `{"reply": "<greeting>, <name>!"}` using `runtime.context`.
- `echo_config`: node `echo` writes `{"seen": {"configurable": ..., "metadata": ...}}`, the run
  config the node received (JSON-safe entries only, no `__` keys), so tests can see what a graph
  is given (`configurable` itself is a reserved channel name).
"""

from __future__ import annotations

import asyncio
import json
import operator
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool
from langgraph.config import get_config, get_store, get_stream_writer
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode
from langgraph.runtime import Runtime
from langgraph.types import interrupt
from typing_extensions import TypedDict

# ---------------------------------------------------------------------------------------------
# chat
# ---------------------------------------------------------------------------------------------


def message_text(message: BaseMessage) -> str:
    """The plain text of a message (text blocks joined by spaces)."""
    if isinstance(message.content, str):
        return message.content
    texts = []
    for block in message.content:
        if isinstance(block, str):
            texts.append(block)
        elif isinstance(block, dict) and block.get("type") == "text":
            texts.append(str(block.get("text", "")))
    return " ".join(texts)


def scripted_reply(messages: list[BaseMessage]) -> AIMessage:
    """The model's answer, a pure function of the conversation."""
    if not messages:
        return AIMessage(content="Hello! Ask me about the weather.")
    last = messages[-1]
    if isinstance(last, ToolMessage):
        return AIMessage(content=f"Tool said: {message_text(last)}. Anything else?")
    text = message_text(last)
    lowered = text.lower()
    if "fail" in lowered:
        raise ValueError("fake model failure requested by input")
    if "weather" not in lowered:
        return AIMessage(content=f"You said: {text}. This is a deterministic fake reply.")
    city_match = re.search(r"\bin\s+([A-Za-z]+)", text)
    earlier_calls = len([m for m in messages if isinstance(m, AIMessage) and m.tool_calls])
    call = {
        "name": "get_weather",
        "args": {"city": city_match.group(1) if city_match else "Paris"},
        "id": f"call_weather_{earlier_calls}",
        "type": "tool_call",
    }
    return AIMessage(content="", tool_calls=[call])


def reply_chunks(reply: AIMessage) -> list[AIMessageChunk]:
    """Split a reply into streamed chunks: words and whitespace, then one chunk per tool call."""
    tokens = [t for t in re.split(r"(\s)", str(reply.content)) if t] if reply.content else []
    chunks = [AIMessageChunk(content=token) for token in tokens]
    chunks.extend(
        AIMessageChunk(
            content="",
            tool_call_chunks=[
                {
                    "name": call["name"],
                    "args": json.dumps(call["args"]),
                    "id": call["id"],
                    "index": index,
                    "type": "tool_call_chunk",
                }
            ],
        )
        for index, call in enumerate(reply.tool_calls)
    )
    if chunks:
        chunks[-1].chunk_position = "last"
    return chunks


class ScriptedChatModel(BaseChatModel):
    """A chat model that answers from `scripted_reply` and streams `reply_chunks`."""

    token_delay: float = 0.0

    @property
    def _llm_type(self) -> str:
        return "scripted-fake-chat-model"

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedChatModel:
        return self

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=scripted_reply(messages))])

    def _stream(self, messages, stop=None, run_manager=None, **kwargs) -> Iterator[ChatGenerationChunk]:
        for chunk in reply_chunks(scripted_reply(messages)):
            generation = ChatGenerationChunk(message=chunk)
            if run_manager:
                run_manager.on_llm_new_token(str(chunk.content), chunk=generation)
            yield generation

    async def _astream(
        self, messages, stop=None, run_manager=None, **kwargs
    ) -> AsyncIterator[ChatGenerationChunk]:
        for chunk in reply_chunks(scripted_reply(messages)):
            if self.token_delay:
                await asyncio.sleep(self.token_delay)
            generation = ChatGenerationChunk(message=chunk)
            if run_manager:
                await run_manager.on_llm_new_token(str(chunk.content), chunk=generation)
            yield generation


def token_delay_of(config: RunnableConfig | None) -> float:
    """`configurable.token_delay` as seconds; anything unusable means no delay."""
    value = ((config or {}).get("configurable") or {}).get("token_delay")
    try:
        return float(value or 0.0)
    except (TypeError, ValueError):
        return 0.0


@tool
def get_weather(city: str) -> str:
    """Return a canned weather report for a city."""
    return f"It is always sunny in {city}"


async def call_model(state: MessagesState, config: RunnableConfig) -> dict:
    get_stream_writer()({"node": "agent", "n_messages": len(state["messages"])})
    model = ScriptedChatModel(token_delay=token_delay_of(config))
    return {"messages": [await model.ainvoke(state["messages"], config)]}


def route_after_agent(state: MessagesState) -> str:
    last = state["messages"][-1]
    return "tools" if isinstance(last, AIMessage) and last.tool_calls else END


chat_builder = StateGraph(MessagesState)
chat_builder.add_node("agent", call_model)
chat_builder.add_node("tools", ToolNode([get_weather]))
chat_builder.add_edge(START, "agent")
chat_builder.add_conditional_edges("agent", route_after_agent, ["tools", END])
chat_builder.add_edge("tools", "agent")
chat = chat_builder.compile()

# ---------------------------------------------------------------------------------------------
# hitl
# ---------------------------------------------------------------------------------------------


class HitlState(MessagesState, total=False):
    draft: str
    decision: Any


def write_draft(state: HitlState) -> dict:
    messages = state.get("messages")
    return {"draft": f"Plan for: {message_text(messages[-1]) if messages else 'nothing'}"}


def ask_reviewer(state: HitlState) -> dict:
    return {"decision": interrupt({"question": "Approve the draft?", "draft": state["draft"]})}


def record_decision(state: HitlState) -> dict:
    text = f"Decision recorded: {json.dumps(state.get('decision'))}"
    return {"messages": [AIMessage(content=text)]}


hitl_builder = StateGraph(HitlState)
hitl_builder.add_node("draft", write_draft)
hitl_builder.add_node("review", ask_reviewer)
hitl_builder.add_node("finish", record_decision)
hitl_builder.add_edge(START, "draft")
hitl_builder.add_edge("draft", "review")
hitl_builder.add_edge("review", "finish")
hitl_builder.add_edge("finish", END)
hitl = hitl_builder.compile()

# ---------------------------------------------------------------------------------------------
# nested
# ---------------------------------------------------------------------------------------------


class NestedState(TypedDict, total=False):
    trail: list[str]


def visit(name: str):
    """A node that announces itself and appends its name to the trail."""

    def node(state: NestedState) -> dict:
        get_stream_writer()({"visited": name})
        return {"trail": [*(state.get("trail") or []), name]}

    node.__name__ = name
    return node


child_builder = StateGraph(NestedState)
child_builder.add_node("left", visit("left"))
child_builder.add_node("right", visit("right"))
child_builder.add_edge(START, "left")
child_builder.add_edge("left", "right")
child_builder.add_edge("right", END)

nested_builder = StateGraph(NestedState)
nested_builder.add_node("prepare", visit("prepare"))
nested_builder.add_node("child", child_builder.compile())
nested_builder.add_node("done", visit("done"))
nested_builder.add_edge(START, "prepare")
nested_builder.add_edge("prepare", "child")
nested_builder.add_edge("child", "done")
nested_builder.add_edge("done", END)
nested = nested_builder.compile()

# ---------------------------------------------------------------------------------------------
# slow
# ---------------------------------------------------------------------------------------------


class SlowState(TypedDict, total=False):
    seconds: float
    steps: int
    fail: bool
    log: Annotated[list[str], operator.add]


async def work(state: SlowState) -> dict:
    emit = get_stream_writer()
    steps = max(1, int(state.get("steps") or 1))
    pause = float(state.get("seconds") or 0.0) / steps
    for step in range(1, steps + 1):
        await asyncio.sleep(pause)
        emit({"step": step, "of": steps})
    if state.get("fail"):
        raise RuntimeError("slow graph failure requested by input")
    return {"log": [f"slept {pause * steps:.3f}s in {steps} steps"]}


slow_builder = StateGraph(SlowState)
slow_builder.add_node("work", work)
slow_builder.add_edge(START, "work")
slow_builder.add_edge("work", END)
slow = slow_builder.compile()

# ---------------------------------------------------------------------------------------------
# factory
# ---------------------------------------------------------------------------------------------


class FactoryState(TypedDict, total=False):
    seen: Any


FACTORY_CALLS: list[dict[str, Any]] = []
"""One entry per factory call: `{"config", "config_is_current", "store", "marker"}`."""


async def factory_graph(config: RunnableConfig):
    """An async one-argument graph factory (the shape of OAP's tools agent)."""
    current = get_config()
    store = get_store()
    marker = config["configurable"].get("marker")
    FACTORY_CALLS.append(
        {"config": config, "config_is_current": current is config, "store": store, "marker": marker}
    )

    async def remember(state: FactoryState) -> dict:
        run_store = get_store()
        if run_store is not None:
            await run_store.aput(("factory", "calls"), str(marker or "none"), {"marker": marker})
        return {"seen": marker}

    builder = StateGraph(FactoryState)
    builder.add_node("remember", remember)
    builder.add_edge(START, "remember")
    builder.add_edge("remember", END)
    return builder.compile()


# ---------------------------------------------------------------------------------------------
# uncompiled
# ---------------------------------------------------------------------------------------------


class CounterState(TypedDict, total=False):
    count: int


def increment(state: CounterState) -> dict:
    return {"count": (state.get("count") or 0) + 1}


uncompiled = StateGraph(CounterState)
uncompiled.add_node("increment", increment)
uncompiled.add_edge(START, "increment")
uncompiled.add_edge("increment", END)

# ---------------------------------------------------------------------------------------------
# ctx
# ---------------------------------------------------------------------------------------------


@dataclass
class GreetingContext:
    greeting: str = "Hello"


class GreetState(TypedDict, total=False):
    name: str
    reply: str


def greet(state: GreetState, runtime: Runtime[GreetingContext]) -> dict:
    greeting = runtime.context.greeting if runtime.context is not None else "Hello"
    return {"reply": f"{greeting}, {state.get('name') or 'world'}!"}


ctx_builder = StateGraph(GreetState, context_schema=GreetingContext)
ctx_builder.add_node("greet", greet)
ctx_builder.add_edge(START, "greet")
ctx_builder.add_edge("greet", END)
ctx = ctx_builder.compile()

# ---------------------------------------------------------------------------------------------
# echo_config
# ---------------------------------------------------------------------------------------------


class EchoConfigState(TypedDict, total=False):
    seen: dict[str, Any]


def _json_safe(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def echo(state: EchoConfigState, config: RunnableConfig) -> dict:
    """Return what the run's config looked like inside the node (JSON-safe, no `__` keys)."""
    configurable = {
        k: v
        for k, v in (config.get("configurable") or {}).items()
        if not k.startswith("__") and _json_safe(v)
    }
    metadata = {k: v for k, v in (config.get("metadata") or {}).items() if _json_safe(v)}
    return {"seen": {"configurable": configurable, "metadata": metadata}}


echo_config_builder = StateGraph(EchoConfigState)
echo_config_builder.add_node("echo", echo)
echo_config_builder.add_edge(START, "echo")
echo_config_builder.add_edge("echo", END)
echo_config = echo_config_builder.compile()

# ---------------------------------------------------------------------------------------------
# notes: store round trips in the run owner's namespace
# ---------------------------------------------------------------------------------------------


class NotesState(TypedDict, total=False):
    key: str
    note: dict[str, Any]
    log_thread: bool
    fail: bool
    found: Any


async def take_note(state: NotesState, config: RunnableConfig) -> dict:
    """Work on item `key` in `(owner, "notes")`, owner = the run's `metadata.owner` ("service" if none).

    Writes `note` if given; with `log_thread`, appends the run's thread id to the item's
    `threads` list; then raises if `fail`, else returns the item's value as `found`.
    """
    store = get_store()
    namespace = (str((config.get("metadata") or {}).get("owner") or "service"), "notes")
    key = state.get("key") or "default"
    if state.get("note") is not None:
        await store.aput(namespace, key, state["note"])
    if state.get("log_thread"):
        item = await store.aget(namespace, key)
        threads = [*(item.value.get("threads", []) if item else []), config["configurable"]["thread_id"]]
        await store.aput(namespace, key, {"threads": threads})
    if state.get("fail"):
        raise RuntimeError("notes graph failure requested by input")
    item = await store.aget(namespace, key)
    return {"found": item.value if item else None}


notes_builder = StateGraph(NotesState)
notes_builder.add_node("take_note", take_note)
notes_builder.add_edge(START, "take_note")
notes_builder.add_edge("take_note", END)
notes = notes_builder.compile()
