"""JSON Schemas and drawings of compiled graphs, shaped like langgraph-api's.

`/assistants/{id}/schemas`, `/subgraphs` and `/graph` serve these. Each schema is computed
independently and degrades to `None` (logged) when langgraph cannot produce it, as the
reference server does.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

from langchain_core.utils.pydantic import create_model
from langgraph.pregel import Pregel
from pydantic import TypeAdapter

from robyn_server import errors

logger = logging.getLogger(__name__)

# Keys of `configurable` that are server plumbing, not assistant settings.
_HIDDEN_CONFIGURABLE = ("checkpoint_id", "checkpoint_ns", "thread_id")


def graph_schemas(graph: Pregel) -> dict[str, Any]:
    """The five schemas of a compiled graph.

    Returns:
        `{input_schema, output_schema, state_schema, config_schema, context_schema}`; a
        schema langgraph fails to build is `None`.
    """
    return {
        "input_schema": _safely(graph, "input", graph.get_input_jsonschema),
        "output_schema": _safely(graph, "output", graph.get_output_jsonschema),
        "state_schema": _safely(graph, "state", lambda: state_jsonschema(graph)),
        "config_schema": _safely(graph, "config", lambda: config_jsonschema(graph)),
        "context_schema": _safely(graph, "context", graph.get_context_jsonschema),
    }


def state_jsonschema(graph: Pregel) -> dict[str, Any]:
    """The schema of the values a thread's state holds: every stream channel, all optional.

    Titled `<graph name>State` (langchain naming: `chat_state`, `LangGraphState`). A channel
    whose update type pydantic cannot describe becomes an unconstrained property.
    """
    fields: dict[str, Any] = {}
    for name in graph.stream_channels_list:
        update_type = graph.channels[name].UpdateType
        try:
            create_model(name, __root__=(update_type, None)).model_json_schema()
            fields[name] = (update_type, None)
        except Exception:
            fields[name] = (Any, None)
    return create_model(graph.get_name("State"), **fields).model_json_schema()


def config_jsonschema(graph: Pregel) -> dict[str, Any]:
    """The schema of `config.configurable` the graph declares, `{}` when it declares none.

    In langgraph 1.x the configurable model is the graph's `context_schema`; plumbing keys
    (`__pregel_*`, `thread_id`, `checkpoint_id`, `checkpoint_ns`) are removed.
    """
    with warnings.catch_warnings():
        # `config_schema` is deprecated, but it is what langgraph-api still serves.
        warnings.simplefilter("ignore")
        config_model = graph.config_schema()
    field = config_model.model_fields.get("configurable")
    if field is None:
        return {}
    schema = TypeAdapter(field.annotation).json_schema()
    properties = schema.get("properties")
    if isinstance(properties, dict):
        for key in list(properties):
            if key.startswith("__pregel_") or key in _HIDDEN_CONFIGURABLE:
                del properties[key]
    return schema


async def drawable_graph(graph: Pregel, *, xray: bool | int = False) -> dict[str, Any]:
    """The drawable graph as `{nodes: [{id, type, data: {name}, metadata?}], edges: [...]}`.

    Raises:
        errors.InvalidInput: the graph cannot be drawn.
    """
    try:
        drawn = await graph.aget_graph(xray=xray)
    except NotImplementedError:
        raise errors.InvalidInput("The graph does not support visualization") from None
    result = drawn.to_json()
    for node in result.get("nodes", []):
        data = node.get("data")
        if isinstance(data, dict):
            # `data.id` is the runnable's import path: noise for clients, and the reference drops it.
            data.pop("id", None)
    return result


async def subgraph_schemas(graph: Pregel, *, namespace: str | None, recurse: bool) -> dict[str, Any]:
    """`{namespace: graph_schemas(subgraph)}` for the graph's subgraphs (`{}` if none).

    Raises:
        errors.InvalidInput: the graph cannot list its subgraphs.
    """
    try:
        return {
            ns: graph_schemas(subgraph)
            async for ns, subgraph in graph.aget_subgraphs(namespace=namespace, recurse=recurse)
        }
    except NotImplementedError:
        raise errors.InvalidInput("The graph does not support visualization") from None


def _safely(graph: Pregel, what: str, build: Any) -> dict[str, Any] | None:
    try:
        return build()
    except Exception as exc:
        logger.warning("Failed to get %s schema for graph %s: %s", what, graph.name, exc)
        return None
