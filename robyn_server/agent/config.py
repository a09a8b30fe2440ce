"""The tools agent's configurable schema, as Open Agent Platform renders it.

`GraphConfigPydantic` is the graph's `context_schema`, so `GET /assistants/{id}/schemas`
serves it as `config_schema`. Every property carries an `x_oap_ui_config` object at its top
level (via `json_schema_extra`), which the OAP UI reads to draw the assistant's config form.
Unknown `configurable` keys (`thread_id`, `run_id`, `apiKeys`, `x-supabase-access-token`, ...)
are ignored by pydantic's default `extra="ignore"`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

DEFAULT_MODEL = "openai:gpt-4o"
DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant that has access to a variety of tools."

# Appended to every system prompt; OAP users cannot edit it away.
UNEDITABLE_SYSTEM_PROMPT = (
    "\nIf the tool throws an error requiring authentication, provide the user with a Markdown link "
    "to the authentication page and prompt them to authenticate."
)

MODEL_OPTIONS: tuple[tuple[str, str], ...] = (
    ("Claude Sonnet 4", "anthropic:claude-sonnet-4-0"),
    ("Claude 3.7 Sonnet", "anthropic:claude-3-7-sonnet-latest"),
    ("Claude 3.5 Sonnet", "anthropic:claude-3-5-sonnet-latest"),
    ("Claude 3.5 Haiku", "anthropic:claude-3-5-haiku-latest"),
    ("o4 mini", "openai:o4-mini"),
    ("o3", "openai:o3"),
    ("o3 mini", "openai:o3-mini"),
    ("GPT 4o", "openai:gpt-4o"),
    ("GPT 4o mini", "openai:gpt-4o-mini"),
    ("GPT 4.1", "openai:gpt-4.1"),
    ("GPT 4.1 mini", "openai:gpt-4.1-mini"),
)


def _ui(**config: Any) -> dict[str, Any]:
    """`json_schema_extra` placing `x_oap_ui_config` at the top level of a property."""
    return {"x_oap_ui_config": config}


class MCPConfig(BaseModel):
    """Which MCP server to use and which of its tools to offer the model."""

    url: str | None = Field(default=None, description="Base URL of the MCP server (without /mcp)")
    tools: list[str] | None = Field(default=None, description="Names of the MCP tools to offer")
    auth_required: bool | None = Field(
        default=False, description="Exchange the user's Supabase token for an MCP access token"
    )


class RagConfig(BaseModel):
    """Which LangConnect server and collections back the RAG tools."""

    rag_url: str | None = Field(default=None, description="Base URL of the LangConnect RAG server")
    collections: list[str] | None = Field(default=None, description="Collection ids, one tool each")


class GraphConfigPydantic(BaseModel):
    """The assistant settings the tools agent reads from `config["configurable"]`."""

    model_name: str | None = Field(
        default=DEFAULT_MODEL,
        json_schema_extra=_ui(
            type="select",
            default=DEFAULT_MODEL,
            description="The model to use in all generations",
            options=[{"label": label, "value": value} for label, value in MODEL_OPTIONS],
        ),
    )
    temperature: float | None = Field(
        default=0.7,
        json_schema_extra=_ui(
            type="slider",
            default=0.7,
            min=0,
            max=2,
            step=0.1,
            description="Controls randomness (0 = deterministic, 2 = creative)",
        ),
    )
    max_tokens: int | None = Field(
        default=4000,
        json_schema_extra=_ui(
            type="number",
            default=4000,
            min=1,
            description="The maximum number of tokens to generate",
        ),
    )
    system_prompt: str | None = Field(
        default=DEFAULT_SYSTEM_PROMPT,
        json_schema_extra=_ui(
            type="textarea",
            placeholder="Enter a system prompt...",
            description=(
                "The system prompt to use in all generations. The following prompt will always be "
                f"included at the end of the system prompt:\n---{UNEDITABLE_SYSTEM_PROMPT}\n---"
            ),
            default=DEFAULT_SYSTEM_PROMPT,
        ),
    )
    mcp_config: MCPConfig | None = Field(default=None, json_schema_extra=_ui(type="mcp"))
    rag: RagConfig | None = Field(default=None, json_schema_extra=_ui(type="rag"))
    base_url: str | None = Field(
        default=None,
        json_schema_extra=_ui(
            type="text",
            placeholder="http://localhost:8000/v1",
            description=(
                "OpenAI-compatible endpoint for this assistant (e.g. vLLM). "
                "Defaults to the server's OPENAI_API_BASE."
            ),
        ),
    )
    custom_model_name: str | None = Field(
        default=None,
        json_schema_extra=_ui(
            type="text",
            placeholder="meta-llama/Llama-3.1-8B-Instruct",
            description="Model name sent to the endpoint as is; overrides 'model_name' when set.",
        ),
    )
    custom_api_key: str | None = Field(
        default=None,
        json_schema_extra=_ui(
            type="text",
            placeholder="sk-...",
            description="API key for this assistant's endpoint; overrides the server's OPENAI_API_KEY.",
        ),
    )
