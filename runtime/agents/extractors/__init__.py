"""Built-in extractors: ``KeywordExtractor`` is the offline baseline, ``LlmExtractor`` asks
an OpenAI-compatible chat-completions endpoint."""

from __future__ import annotations

from runtime.agents.extractors.baseline import KeywordExtractor
from runtime.agents.extractors.llm import LlmExtractor

__all__ = ["KeywordExtractor", "LlmExtractor"]
