"""The graph registry: the graphs a `langgraph.json` names, loaded once and built per use.

Graphs are imported when the registry is created, so a broken config fails at start-up.
What a graph id names may be a compiled graph, an uncompiled `StateGraph` (compiled once) or
a factory; factories are called on every `build` (and for schemas), inside a runnable
context, the way langgraph-api calls them. Every `build` yields a copy of the graph bound to
the caller's checkpointer and store, so the shared graph is never mutated.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import importlib.util
import inspect
import json
import logging
import os
import re
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from dotenv import dotenv_values
from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import ensure_config, var_child_runnable_config
from langgraph._internal._constants import CONFIG_KEY_CHECKPOINTER, CONFIG_KEY_RUNTIME
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.errors import EmptyChannelError
from langgraph.graph import StateGraph
from langgraph.pregel import Pregel
from langgraph.runtime import Runtime
from langgraph.store.base import BaseStore

from robyn_server import errors
from robyn_server.engine.graph_schemas import drawable_graph, graph_schemas, subgraph_schemas

logger = logging.getLogger(__name__)

SYSTEM_ASSISTANT_NAMESPACE = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")

# The name langgraph gives a compiled graph that was not named; builds rename it to the graph id.
_DEFAULT_GRAPH_NAME = "LangGraph"


def system_assistant_id(graph_id: str) -> str:
    """The stable id of a graph's system assistant: uuid5(SYSTEM_ASSISTANT_NAMESPACE, graph_id)."""
    return str(uuid.uuid5(SYSTEM_ASSISTANT_NAMESPACE, graph_id))


class InvalidGraph(errors.ServerError):
    """424: a graph factory produced something that is not a graph."""

    status_code = 424


@dataclass(frozen=True)
class ServerRuntime:
    """What a graph factory receives when it declares a second (`runtime`) parameter.

    Attributes:
        access_context: `"threads.create_run"` when building for a run, `"assistants.read"`
            for schemas and drawings (a factory may skip expensive set-up then).
        store: the server's store, also reachable as `langgraph.config.get_store()`.
    """

    access_context: str
    store: BaseStore | None


# A factory normalised to the signature (config, runtime) -> graph | awaitable | context manager.
_FactoryCall = Callable[[RunnableConfig, ServerRuntime], Any]


@dataclass(frozen=True)
class GraphSpec:
    """One registered graph.

    Attributes:
        graph_id: the id clients use (`assistant_id` may be a graph id too).
        description: from the config's `{"path", "description"}` form, else None.
        source: the reference as written in the config, e.g. `"./agent.py:graph"`.
    """

    graph_id: str
    description: str | None
    source: str
    _graph: Pregel | None = field(default=None, repr=False, compare=False)
    _factory: _FactoryCall | None = field(default=None, repr=False, compare=False)

    @property
    def is_factory(self) -> bool:
        """Whether the graph is made by a factory on every use."""
        return self._factory is not None


class GraphRegistry:
    """The graphs a server serves, by id, in config order."""

    def __init__(self, specs: Sequence[GraphSpec]) -> None:
        self._specs = {spec.graph_id: spec for spec in specs}

    @classmethod
    def from_config_file(cls, path: str | Path) -> GraphRegistry:
        """Load a `langgraph.json`-compatible file: `graphs`, `env`, `dependencies`.

        Raises:
            ValueError: the file is missing or invalid, or a graph fails to load; the message
                names the file (and the graph id).
        """
        path = Path(path).absolute()
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ValueError(f"Cannot read graph config {path}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise ValueError(f"Invalid graph config {path}: {exc}") from None
        if not isinstance(config, dict):
            raise ValueError(f"Invalid graph config {path}: expected a JSON object")
        graphs = config.get("graphs")
        if not isinstance(graphs, dict) or not graphs:
            raise ValueError(f"Invalid graph config {path}: 'graphs' must be a non-empty object")
        dependencies = config.get("dependencies", [])
        if not isinstance(dependencies, list) or not all(isinstance(d, str) for d in dependencies):
            raise ValueError(f"Invalid graph config {path}: 'dependencies' must be a list of strings")
        env = config.get("env")
        if env is not None and not isinstance(env, str | dict):
            raise ValueError(f"Invalid graph config {path}: 'env' must be a file path or an object")
        return cls.from_mapping(
            graphs, base_dir=path.parent, env=env, dependencies=dependencies, origin=str(path)
        )

    @classmethod
    def from_mapping(
        cls,
        graphs: Mapping[str, str | dict],
        *,
        base_dir: Path,
        env: Mapping[str, str] | str | Path | None = None,
        dependencies: Sequence[str] = (),
        origin: str | None = None,
    ) -> GraphRegistry:
        """Load graphs from a `{graph_id: "path.py:attr" | "module:attr" | {"path", "description"}}` map.

        Args:
            graphs: the config's `graphs` section.
            base_dir: what relative file paths (`./x.py`, `x.py`) and `.`-dependencies are relative to.
            env: variables, or a dotenv file (relative to `base_dir`), put into `os.environ`
                before importing; variables already set are kept.
            dependencies: the config's `dependencies`; local directories among them (and
                `base_dir`) are put on `sys.path` so module references import.
            origin: how errors name the config (default: `base_dir`).

        Raises:
            ValueError: an entry is malformed or its graph fails to import.
        """
        base_dir = Path(base_dir).absolute()
        origin = origin or str(base_dir)
        _load_env(env, base_dir, origin)
        local_dirs = [base_dir / dep for dep in dependencies if dep.startswith((".", "/"))]
        for directory in reversed([base_dir, *local_dirs]):
            resolved = str(directory.resolve())
            if resolved not in sys.path:
                sys.path.insert(0, resolved)
        specs = []
        for graph_id, entry in graphs.items():
            source, description = _parse_entry(graph_id, entry, origin)
            try:
                value = _load_attribute(source, base_dir)
                specs.append(_make_spec(graph_id, description, source, value))
            except Exception as exc:
                raise ValueError(
                    f"Graph '{graph_id}' ({source}) in {origin} failed to load: {type(exc).__name__}: {exc}"
                ) from exc
        return cls(specs)

    def ids(self) -> list[str]:
        """The graph ids, in config order."""
        return list(self._specs)

    def spec(self, graph_id: str) -> GraphSpec:
        """The spec of a graph.

        Raises:
            errors.NotFound: unknown id (the reference's text, listing the known ids).
        """
        try:
            return self._specs[graph_id]
        except KeyError:
            raise errors.NotFound(
                f"Graph '{graph_id}' not found. Expected one of: {sorted(self._specs)}"
            ) from None

    def state_values(self, graph_id: str, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Order raw checkpoint values like the graph's state and fill never-written reducer defaults.

        Only possible without running code for graphs registered as graph objects; values of
        factory graphs are returned as stored. (`GET /state` builds the graph and is exact.)
        """
        spec = self._specs.get(graph_id)
        if spec is None or spec._graph is None:
            return dict(raw)
        channels = spec._graph.channels
        keys = spec._graph.stream_channels
        keys = keys if isinstance(keys, list) else [keys]
        values: dict[str, Any] = {}
        for key in keys:
            if key in raw:
                values[key] = raw[key]
            elif key in channels:
                with contextlib.suppress(EmptyChannelError):
                    values[key] = copy.deepcopy(channels[key].get())
        return values

    def __contains__(self, graph_id: object) -> bool:
        return graph_id in self._specs

    @asynccontextmanager
    async def build(
        self,
        graph_id: str,
        config: RunnableConfig,
        *,
        checkpointer: BaseCheckpointSaver | None,
        store: BaseStore | None,
    ) -> AsyncIterator[Pregel]:
        """Yield the graph ready to run: a copy bound to `checkpointer` and `store`.

        A factory is called with `config` (see `_instantiate`); a factory that returns a
        context manager stays entered until the block exits. An unnamed graph is named
        after its id, as langgraph-api does (it shows up as the root run's name).

        Raises:
            errors.NotFound: unknown graph id.
            InvalidGraph: the factory returned something that is not a graph.
        """
        async with self._bound(
            graph_id, config, checkpointer=checkpointer, store=store, access_context="threads.create_run"
        ) as graph:
            yield graph

    async def schemas(
        self, graph_id: str, config: RunnableConfig, *, store: BaseStore | None = None
    ) -> dict[str, Any]:
        """`{graph_id, input_schema, output_schema, state_schema, config_schema, context_schema}`."""
        async with self._bound(graph_id, config, store=store) as graph:
            return {"graph_id": graph_id, **graph_schemas(graph)}

    async def drawable(
        self,
        graph_id: str,
        config: RunnableConfig,
        *,
        xray: bool | int,
        store: BaseStore | None = None,
    ) -> dict[str, Any]:
        """The drawable graph `{nodes, edges}`; `xray` (True or a depth) expands subgraphs."""
        async with self._bound(graph_id, config, store=store) as graph:
            return await drawable_graph(graph, xray=xray)

    async def subgraphs(
        self,
        graph_id: str,
        config: RunnableConfig,
        *,
        namespace: str | None,
        recurse: bool,
        store: BaseStore | None = None,
    ) -> dict[str, Any]:
        """`{namespace: {input_schema, output_schema, state_schema, config_schema, context_schema}}`."""
        async with self._bound(graph_id, config, store=store) as graph:
            return await subgraph_schemas(graph, namespace=namespace, recurse=recurse)

    @asynccontextmanager
    async def _bound(
        self,
        graph_id: str,
        config: RunnableConfig,
        *,
        store: BaseStore | None,
        checkpointer: BaseCheckpointSaver | None = None,
        access_context: str = "assistants.read",
    ) -> AsyncIterator[Pregel]:
        spec = self.spec(graph_id)
        async with AsyncExitStack() as stack:
            if spec._graph is not None:
                graph = spec._graph
            else:
                runtime = ServerRuntime(access_context=access_context, store=store)
                graph = await _instantiate(spec, config, runtime, checkpointer, stack)
            update: dict[str, Any] = {"checkpointer": checkpointer, "store": store}
            if graph.name == _DEFAULT_GRAPH_NAME:
                update["name"] = graph_id
            yield graph.copy(update=update)


async def _instantiate(
    spec: GraphSpec,
    config: RunnableConfig,
    runtime: ServerRuntime,
    checkpointer: BaseCheckpointSaver | None,
    stack: AsyncExitStack,
) -> Pregel:
    """Call a factory inside a runnable context and return the compiled graph it made.

    While the factory (and the `__aenter__` of a context manager it returns) runs,
    `var_child_runnable_config` holds the config passed to it, with a langgraph `Runtime`
    carrying the store, so `get_config()` returns that config and `get_store()` the store.
    The context is reset before the graph is used, so it cannot leak into the run's config.
    """
    factory_config = ensure_config(config)
    configurable = factory_config["configurable"]
    configurable[CONFIG_KEY_RUNTIME] = Runtime(store=runtime.store)
    if checkpointer is not None:
        configurable.setdefault(CONFIG_KEY_CHECKPOINTER, checkpointer)
    assert spec._factory is not None
    token = var_child_runnable_config.set(factory_config)
    try:
        value = spec._factory(factory_config, runtime)
        if inspect.isawaitable(value):
            value = await value
        if hasattr(value, "__aenter__") and hasattr(value, "__aexit__"):
            value = await stack.enter_async_context(value)
        elif hasattr(value, "__enter__") and hasattr(value, "__exit__"):
            value = stack.enter_context(value)
    finally:
        var_child_runnable_config.reset(token)
    if isinstance(value, StateGraph):
        value = value.compile()
    if not isinstance(value, Pregel):
        raise InvalidGraph(f"Graph '{spec.graph_id}' is not valid. Review graph registration. {value!r}")
    return value


def _load_env(env: Mapping[str, str] | str | Path | None, base_dir: Path, origin: str) -> None:
    if env is None:
        return
    if isinstance(env, Mapping):
        values: Mapping[str, str | None] = env
    else:
        env_path = base_dir / env
        if not env_path.is_file():
            # Like `langgraph dev`: the variables may come from the real environment instead.
            logger.warning("env file %s (named in %s) not found; skipping it", env_path, origin)
            return
        values = dotenv_values(env_path)
    for key, value in values.items():
        if value is not None and key not in os.environ:
            os.environ[key] = str(value)


def _parse_entry(graph_id: str, entry: Any, origin: str) -> tuple[str, str | None]:
    """(source, description) of one `graphs` entry."""
    if isinstance(entry, str):
        return entry, None
    if isinstance(entry, dict) and isinstance(entry.get("path"), str):
        description = entry.get("description")
        return entry["path"], description if isinstance(description, str) else None
    raise ValueError(
        f'Graph \'{graph_id}\' in {origin}: expected "path/to/file.py:attr", "module:attr" '
        f'or {{"path": ..., "description": ...}}, got {entry!r}'
    )


def _load_attribute(source: str, base_dir: Path) -> Any:
    """Import what `source` ("file.py:attr", "module.path:attr", or no ":attr") names."""
    location, _, attr = source.rpartition(":") if ":" in source else (source, "", "")
    if location.endswith(".py") or location.startswith((".", "/")):
        module = _import_file(base_dir / location)
    else:
        module = importlib.import_module(location)
    if not attr:
        return _find_graph(module)
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ValueError(f"'{location}' has no attribute '{attr}'") from None


def _import_file(path: Path) -> ModuleType:
    path = path.resolve()
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    # One module per file: several graph ids often share a file, and the file may already be
    # imported under its package name; a second copy would split its module-level state.
    for existing in list(sys.modules.values()):
        if getattr(existing, "__file__", None) == str(path):
            return existing
    name = re.sub(r"\W", "_", str(path.with_suffix("")).lstrip("/"))
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise ValueError(f"cannot import {path}")
    module = importlib.util.module_from_spec(module_spec)
    # Registered before running it: dataclasses and postponed annotations look the module up.
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _find_graph(module: ModuleType) -> Any:
    """The first compiled graph in a module, else its first `StateGraph` (langgraph-api's rule)."""
    members = inspect.getmembers(module)
    for kind in (Pregel, StateGraph):
        for _, member in members:
            if isinstance(member, kind):
                return member
    raise ValueError(f"no graph found in module {module.__name__}")


def _make_spec(graph_id: str, description: str | None, source: str, value: Any) -> GraphSpec:
    if isinstance(value, Pregel):
        return GraphSpec(graph_id, description, source, _graph=value)
    if isinstance(value, StateGraph):
        return GraphSpec(graph_id, description, source, _graph=value.compile())
    if callable(value):
        return GraphSpec(graph_id, description, source, _factory=_factory_call(value))
    raise ValueError(f"{type(value).__name__} is neither a graph nor a graph factory")


def _factory_call(factory: Callable[..., Any]) -> _FactoryCall:
    """Adapt a factory's signature to (config, runtime).

    A factory takes nothing, `config`, or `config` and a runtime. The runtime parameter is
    the one named `runtime` or annotated with a `...Runtime` type; otherwise the first
    parameter is the config and a second one without a default gets the runtime.
    """
    signature = inspect.signature(factory)
    params = [
        p
        for p in signature.parameters.values()
        if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    roles: list[tuple[inspect.Parameter, str]] = []
    has_config = False
    for param in params:
        if _is_runtime_param(param):
            roles.append((param, "runtime"))
        elif not has_config:
            roles.append((param, "config"))
            has_config = True
        elif param.default is inspect.Parameter.empty:
            roles.append((param, "runtime"))
    if len(roles) > 2 or [role for _, role in roles].count("runtime") > 1:
        names = [p.name for p in params]
        raise ValueError(f"a graph factory takes (), (config) or (config, runtime); got {names}")

    def call(config: RunnableConfig, runtime: ServerRuntime) -> Any:
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for param, role in roles:
            value = config if role == "config" else runtime
            if param.kind is inspect.Parameter.POSITIONAL_ONLY:
                args.append(value)
            else:
                kwargs[param.name] = value
        return factory(*args, **kwargs)

    return call


def _is_runtime_param(param: inspect.Parameter) -> bool:
    if param.name == "runtime":
        return True
    annotation = param.annotation
    if annotation is inspect.Parameter.empty:
        return False
    return "Runtime" in (annotation if isinstance(annotation, str) else repr(annotation))
