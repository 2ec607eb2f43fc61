"""The LLM extractor: any OpenAI-compatible chat-completions endpoint proposes the values.

One request per meeting, ``POST {base_url}/chat/completions``::

    {"model": ..., "temperature": ..., "max_tokens": ...,
     "messages": [{"role": "system", ...}, {"role": "user", ...}],
     "response_format": {"type": "json_schema",
                         "json_schema": {"name": "deal_updates", "strict": true,
                                         "schema": <LlmAnswer's JSON schema>}}}

with ``Authorization: Bearer <api_key>`` when a key is set. ``choices[0].message.content``
is validated by ``llm_answer.parse_answer``. Every failure (connection, timeout, HTTP
error, an answer that is not JSON or breaks the schema) raises ``ExtractionError`` and
yields no candidates at all; nothing is retried here, the caller decides. The API key
never appears in an error message.
"""

from __future__ import annotations

from typing import Any

import httpx

from runtime.agents.extraction import Candidate, ExtractionContext
from runtime.agents.extractors.llm_answer import answer_schema, parse_answer
from runtime.agents.extractors.llm_prompt import messages
from runtime.errors import ExtractionError, InvalidInputError
from runtime.settings import LlmSettings

__all__ = ["SCHEMA_NAME", "LlmExtractor"]

SCHEMA_NAME = "deal_updates"
_DETAIL_CHARS = 200


class LlmExtractor:
    """Asks a chat-completions endpoint for candidates as JSON (see the module docstring)."""

    name = "llm"

    def __init__(self, settings: LlmSettings, *, http: httpx.AsyncClient | None = None) -> None:
        """Check the settings; ``http`` is used (and left open) instead of a client per call.

        Raises:
            InvalidInputError: ``base_url`` or ``model`` is not set, naming its variable.
        """
        if not settings.base_url:
            raise InvalidInputError.one(
                "CRM_AGENTS_LLM__BASE_URL", "is required by the llm extractor", source="settings"
            )
        if not settings.model:
            raise InvalidInputError.one(
                "CRM_AGENTS_LLM__MODEL", "is required by the llm extractor", source="settings"
            )
        self._settings = settings
        self._url = settings.base_url.rstrip("/") + "/chat/completions"
        self._model = settings.model
        self._http = http

    def request_body(self, context: ExtractionContext) -> dict[str, Any]:
        """The JSON body sent for ``context``."""
        return {
            "model": self._model,
            "messages": messages(context),
            "temperature": self._settings.temperature,
            "max_tokens": self._settings.max_output_tokens,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": answer_schema()},
            },
        }

    async def extract(self, context: ExtractionContext) -> list[Candidate]:
        """Ask the endpoint once and validate its answer.

        Raises:
            ExtractionError: the endpoint failed or answered outside the schema.
        """
        if self._http is not None:
            body = await self._post(self._http, context)
        else:
            async with httpx.AsyncClient() as http:
                body = await self._post(http, context)
        return parse_answer(_content(body, self._settings.max_output_tokens), context)

    async def _post(self, http: httpx.AsyncClient, context: ExtractionContext) -> Any:
        headers = {"Accept": "application/json"}
        if self._settings.api_key is not None:
            headers["Authorization"] = f"Bearer {self._settings.api_key.get_secret_value()}"
        timeout_s = self._settings.timeout_s
        try:
            response = await http.post(
                self._url, json=self.request_body(context), headers=headers, timeout=timeout_s
            )
        except httpx.TimeoutException as exc:
            raise ExtractionError(f"LLM endpoint timed out after {timeout_s} s") from exc
        except httpx.HTTPError as exc:
            reason = self._redact(str(exc)) or type(exc).__name__
            raise ExtractionError(f"LLM endpoint could not be reached: {reason}") from exc
        if response.is_error:
            detail = self._redact(_error_detail(response))
            suffix = f": {detail}" if detail else ""
            raise ExtractionError(f"LLM endpoint answered {response.status_code}{suffix}")
        try:
            return response.json()
        except ValueError as exc:
            raise ExtractionError("LLM endpoint answer is not JSON") from exc

    def _redact(self, text: str) -> str:
        key = self._settings.api_key
        secret = key.get_secret_value() if key is not None else ""
        return text.replace(secret, "***") if secret else text


def _content(body: Any, max_output_tokens: int) -> str:
    """``choices[0].message.content`` of a chat completion, or why there is none."""
    try:
        choice = body["choices"][0]
        message = choice["message"]
    except (KeyError, IndexError, TypeError) as exc:
        raise ExtractionError(
            "LLM endpoint answer is not a chat completion (no choices[0].message)"
        ) from exc
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str) and content.strip():
        if choice.get("finish_reason") == "length":
            raise ExtractionError(
                f"LLM answer was cut off at max_output_tokens ({max_output_tokens})"
            )
        return content
    refusal = message.get("refusal") if isinstance(message, dict) else None
    if refusal:
        raise ExtractionError(f"LLM refused to answer: {str(refusal)[:_DETAIL_CHARS]}")
    raise ExtractionError("LLM answer has no content")


def _error_detail(response: httpx.Response) -> str:
    """The error message of an OpenAI-style error body, shortened; else empty."""
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else error
    return str(message)[:_DETAIL_CHARS] if message else ""
