"""Built-in extractors: ``RulesExtractor`` (offline rule families), ``KeywordExtractor``
(the weak offline baseline it is measured against) and ``LlmExtractor`` (an
OpenAI-compatible chat-completions endpoint)."""

from __future__ import annotations

from runtime.agents.extractors.baseline import KeywordExtractor
from runtime.agents.extractors.llm import LlmExtractor
from runtime.agents.extractors.rules import RulesExtractor

__all__ = ["KeywordExtractor", "LlmExtractor", "RulesExtractor"]
