"""The chat model: `langchain_openai.ChatOpenAI` against OpenAI or any OpenAI-compatible endpoint.

Resolution, highest priority first:

- model: `custom_model_name` (sent as is) > `model_name` in `provider:model` form. `openai:gpt-4o`
  means `gpt-4o`; a name without a known provider prefix (`gpt-4o`, `llama3:8b`) is sent as is.
  Other known providers (`anthropic:`, `google_genai:`, ...) raise `UnsupportedModelProvider`:
  this server ships only the OpenAI client.
- endpoint: `base_url` (assistant) > env `OPENAI_API_BASE` > OpenAI's default.
- api key: `custom_api_key` (assistant; it belongs to the assistant's endpoint) >
  `configurable.apiKeys.OPENAI_API_KEY` (the user's key, when non-empty) > env `OPENAI_API_KEY`
  > the placeholder `"No token found"`, so local endpoints without auth still work.
- `temperature` is not sent to OpenAI's o-series reasoning models (`o3`, `o4-mini`, ...), which
  reject it; `max_tokens` goes out as `max_completion_tokens` (langchain_openai's choice).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from langchain_openai import ChatOpenAI

from robyn_server.agent.config import DEFAULT_MODEL, GraphConfigPydantic

NO_TOKEN = "No token found"

# OpenAI's o-series reasoning models reject any temperature but the default.
_REASONING_MODEL = re.compile(r"^o\d")

# How long one model request may take; generations can be long, connecting should not be.
MODEL_TIMEOUT = httpx.Timeout(600.0, connect=10.0)

# Providers `init_chat_model` knows that this server cannot serve (no client package for them).
_FOREIGN_PROVIDERS = frozenset(
    {
        "anthropic",
        "azure_ai",
        "azure_openai",
        "bedrock",
        "bedrock_converse",
        "cohere",
        "deepseek",
        "fireworks",
        "google",
        "google_anthropic_vertex",
        "google_genai",
        "google_vertexai",
        "groq",
        "huggingface",
        "ibm",
        "mistralai",
        "nvidia",
        "ollama",
        "perplexity",
        "together",
        "xai",
    }
)


class UnsupportedModelProvider(ValueError):
    """The configured `model_name` names a provider this server has no client for."""

    def __init__(self, provider: str) -> None:
        super().__init__(
            f"Model provider '{provider}' is not supported by this server; use an openai: model "
            "or an OpenAI-compatible endpoint (OPENAI_API_BASE)"
        )
        self.provider = provider


@dataclass(frozen=True)
class ModelTarget:
    """Where and what to call: the resolved model name, endpoint and key."""

    model: str
    base_url: str | None
    api_key: str


def parse_model_name(model_name: str | None) -> str:
    """The model to request for a `provider:model` name (see the module docstring).

    Raises:
        UnsupportedModelProvider: the prefix is a known non-OpenAI provider.
    """
    name = (model_name or DEFAULT_MODEL).strip()
    provider, sep, rest = name.partition(":")
    if not sep:
        return name
    provider = provider.strip().lower()
    if provider == "openai":
        return rest.strip()
    if provider in _FOREIGN_PROVIDERS:
        raise UnsupportedModelProvider(provider)
    return name


def resolve_target(settings: GraphConfigPydantic, api_keys: Mapping[str, Any] | None = None) -> ModelTarget:
    """Resolve model, endpoint and api key from the assistant settings, the run and the env.

    Raises:
        UnsupportedModelProvider: no custom model and `model_name` names a foreign provider.
    """
    model = settings.custom_model_name.strip() if settings.custom_model_name else ""
    model = model or parse_model_name(settings.model_name)
    base_url = settings.base_url or os.environ.get("OPENAI_API_BASE") or None
    run_key = (api_keys or {}).get("OPENAI_API_KEY")
    api_key = (
        settings.custom_api_key
        or (run_key if isinstance(run_key, str) and run_key.strip() else None)
        or os.environ.get("OPENAI_API_KEY")
        or NO_TOKEN
    )
    return ModelTarget(model=model, base_url=base_url, api_key=api_key)


def build_chat_model(
    settings: GraphConfigPydantic,
    api_keys: Mapping[str, Any] | None = None,
    *,
    http_async_client: httpx.AsyncClient | None = None,
) -> ChatOpenAI:
    """A streaming `ChatOpenAI` for one run.

    Pass `http_async_client` (and close it after the run): langchain_openai otherwise shares
    one cached async client per base_url, which breaks when runs happen on different loops.
    """
    target = resolve_target(settings, api_keys)
    kwargs: dict[str, Any] = {
        "model": target.model,
        "api_key": target.api_key,
        "base_url": target.base_url,
        "streaming": True,
        "stream_usage": True,
        "max_retries": 2,
        "timeout": MODEL_TIMEOUT,
    }
    if settings.temperature is not None and not _REASONING_MODEL.match(target.model):
        kwargs["temperature"] = settings.temperature
    if settings.max_tokens is not None:
        kwargs["max_tokens"] = settings.max_tokens
    if http_async_client is not None:
        kwargs["http_async_client"] = http_async_client
    return ChatOpenAI(**kwargs)
