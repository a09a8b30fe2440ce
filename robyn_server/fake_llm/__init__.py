"""A bundled fake OpenAI-compatible chat model server (standard library only).

Run it with `python -m robyn_server.fake_llm --port 8001` or in-process with
`FakeLLMServer().start()`, then point `langchain_openai.ChatOpenAI` at its
`/v1` URL with any api_key. Replies are scripted and deterministic; the rules
are documented in `robyn_server.fake_llm.rules` and in `--help`.
"""

from .rules import Reply, ToolCall, decide
from .server import FakeLLMServer

__all__ = ["FakeLLMServer", "Reply", "ToolCall", "decide"]
