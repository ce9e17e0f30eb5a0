"""How the LLM engine reaches its server, and the bounds of each call."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import SecretStr

from agents.engines.llm._methods import MethodSetting, SystemRole

DEFAULT_ENDPOINT = "https://api.openai.com/v1"


@dataclass(frozen=True, kw_only=True)
class LLMConfig:
    """How to reach the model; built by the composition root from `LLMSettings`."""

    api_key: SecretStr | str | None
    models: Sequence[str]
    base_url: str | None = None
    requests_per_minute: float = 20.0
    timeout_seconds: float = 30.0
    attempts_per_model: int = 3
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 20.0
    structured_output_method: MethodSetting = "auto"
    temperature: float | None = 0.0
    max_tokens_classify: int = 300
    max_tokens_spec: int = 800
    max_concurrency: int = 8
    system_role: SystemRole = "system"
