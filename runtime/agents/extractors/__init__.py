"""Built-in extractors: ``RulesExtractor`` (offline rule families), ``KeywordExtractor``
(the weak offline baseline it is measured against) and ``LlmExtractor`` (an
OpenAI-compatible chat-completions endpoint)."""

from __future__ import annotations

from runtime.agents.extraction import Extractor
from runtime.agents.extractors.baseline import KeywordExtractor
from runtime.agents.extractors.llm import LlmExtractor
from runtime.agents.extractors.rules import RulesExtractor
from runtime.settings import LlmSettings

__all__ = ["EXTRACTORS", "KeywordExtractor", "LlmExtractor", "RulesExtractor", "extractor_named"]

EXTRACTORS = ("rules", "baseline", "llm")


def extractor_named(name: str, llm: LlmSettings) -> Extractor:
    """The extractor called ``name`` (one of ``EXTRACTORS``); ``llm`` configures ``llm``.

    Raises:
        ValueError: ``name`` is not one of ``EXTRACTORS``.
    """
    if name == "rules":
        return RulesExtractor()
    if name == "baseline":
        return KeywordExtractor()
    if name == "llm":
        return LlmExtractor(llm)
    raise ValueError(f"{name!r} is not one of {', '.join(EXTRACTORS)}")
