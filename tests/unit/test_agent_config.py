"""Agent config validation: every problem names its field and the reason."""

from __future__ import annotations

import json
from typing import Any

import pytest

from runtime.agents.config import AgentConfig, parse_agent_config
from runtime.errors import InvalidInputError


def _config(**changes: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "crm_type": "hubspot",
        "call_types": ["discovery"],
        "fields": {"amount": {"auto_apply_threshold": 0.9}},
    }
    config.update(changes)
    return config


def _problems(raw: Any) -> dict[str, str]:
    with pytest.raises(InvalidInputError) as caught:
        parse_agent_config(raw, source="agent.json")
    return dict(caught.value.problems)


def test_a_valid_config_parses_with_the_trust_ramp_on() -> None:
    config = parse_agent_config(json.dumps(_config(call_types=[" Discovery ", "demo"])))
    assert isinstance(config, AgentConfig)
    assert config.call_types == ("discovery", "demo")
    assert config.review_only is True
    assert config.expiry.after_hours == 72.0
    assert config.expiry.then == "remind"


def test_salesforce_is_refused_as_not_supported_yet() -> None:
    problems = _problems(_config(crm_type="salesforce"))
    assert "not supported yet" in problems["crm_type"]


def test_a_threshold_above_one_names_the_field_path() -> None:
    problems = _problems(_config(fields={"amount": {"auto_apply_threshold": 1.5}}))
    assert "fields.amount.auto_apply_threshold" in problems


def test_a_misspelled_policy_key_is_named() -> None:
    problems = _problems(_config(fields={"amount": {"auto_apply_treshold": 0.9}}))
    assert any("auto_apply_treshold" in field for field in problems)


def test_an_unknown_top_level_key_is_named() -> None:
    problems = _problems(_config(autopilot=True))
    assert "autopilot" in problems


def test_empty_call_types_are_refused() -> None:
    problems = _problems(_config(call_types=[]))
    assert "call_types" in problems


def test_a_blank_call_type_is_refused() -> None:
    problems = _problems(_config(call_types=["  "]))
    assert "must not be empty" in problems["call_types"]


def test_an_unknown_overwrite_policy_is_refused() -> None:
    problems = _problems(_config(fields={"amount": {"overwrite": "replace"}}))
    assert "fields.amount.overwrite" in problems


def test_not_json_is_reported_for_the_file() -> None:
    problems = _problems("{not json")
    assert "is not JSON" in problems["(file)"]
