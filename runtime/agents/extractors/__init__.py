"""Built-in extractors: ``KeywordExtractor`` is the offline baseline."""

from __future__ import annotations

from runtime.agents.extractors.baseline import KeywordExtractor

__all__ = ["KeywordExtractor"]
