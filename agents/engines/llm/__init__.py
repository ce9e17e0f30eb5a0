"""The LLM triage engine: any OpenAI-compatible server, hosted or self-hosted."""

from agents.engines.llm._calls import LLMCounters
from agents.engines.llm._config import LLMConfig
from agents.engines.llm._engine import (
    FEW_SHOT_EXAMPLES,
    FEW_SHOT_MIN_SIMILARITY,
    LLMEngine,
    ProbeResult,
)
from agents.engines.llm._errors import (
    InvalidOutputError,
    LLMUnavailableError,
    MethodUnsupportedError,
    failure_reason,
)
from agents.engines.llm._memory import InMemoryMethods, MethodMemory
from agents.engines.llm._messages import (
    MAX_FEEDBACK_CHARS,
    classification_messages,
    corrections_block,
    delimit_feedback,
    filter_labels,
    spec_messages,
)
from agents.engines.llm._methods import METHODS, MethodSetting, StructuredMethod
from agents.engines.llm._schema import wire_schema

__all__ = [
    "FEW_SHOT_EXAMPLES",
    "FEW_SHOT_MIN_SIMILARITY",
    "MAX_FEEDBACK_CHARS",
    "METHODS",
    "InMemoryMethods",
    "InvalidOutputError",
    "LLMConfig",
    "LLMCounters",
    "LLMEngine",
    "LLMUnavailableError",
    "MethodMemory",
    "MethodSetting",
    "MethodUnsupportedError",
    "ProbeResult",
    "StructuredMethod",
    "classification_messages",
    "corrections_block",
    "delimit_feedback",
    "failure_reason",
    "filter_labels",
    "spec_messages",
    "wire_schema",
]
