"""An automation's definition from API input: its trigger and action parsed from their
types and JSON configs, and whether the pair makes sense.

Not every pair does (``combination_problems``): auto-approval acts on approval items, so it
follows ``inbox_item_created`` limited to them; a digest has its own schedule, so it follows
events, not ``schedule``; anomalies are about agents, not CRM records, so they create no CRM
task; a task's subject may only use what its trigger knows.

Errors name their field as the API input spells it before the config (``trigger_type``,
``action_config``) and then the config's own JSON keys (``trigger_config.min_confidence``,
``action_config.channels.1``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from runtime.automations.models import (
    ACTION_ADAPTER,
    ACTIONS_BY_TYPE,
    ALLOW_PRIVATE_HOSTS,
    TRIGGER_ADAPTER,
    TRIGGERS_BY_TYPE,
    Action,
    ActionType,
    AutoApprove,
    CreateCrmTask,
    InboxItemCreated,
    Trigger,
    TriggerType,
    placeholders,
)
from runtime.errors import FieldProblem, InvalidInputError

__all__ = ["TASK_PLACEHOLDERS", "combination_problems", "parse_action", "parse_trigger"]

TASK_PLACEHOLDERS: Mapping[TriggerType, tuple[str, ...]] = {
    "inbox_item_created": ("item_title", "record_type", "record_id", "meeting_title"),
    "activity_on_my_deals": ("record_type", "record_id", "meeting_title", "action_type"),
    "meeting_of_call_type": ("meeting_title", "call_type"),
    "schedule": (),
    "anomaly_on_my_agents": (),
}
"""The ``{placeholders}`` a task's subject may use after each trigger."""


# Which triggers each action may follow (module docstring).
_ALLOWED_TRIGGERS: Mapping[ActionType, frozenset[TriggerType]] = {
    "auto_approve": frozenset({"inbox_item_created"}),
    "notify": frozenset(TRIGGERS_BY_TYPE),
    "digest": frozenset(set(TRIGGERS_BY_TYPE) - {"schedule"}),
    "create_crm_task": frozenset(set(TRIGGERS_BY_TYPE) - {"anomaly_on_my_agents"}),
    "webhook": frozenset(TRIGGERS_BY_TYPE),
}
_WHY_NOT: Mapping[ActionType, str] = {
    "auto_approve": "it acts on inbox items, so it follows inbox_item_created only",
    "digest": "a digest has its own schedule, so it follows events",
    "create_crm_task": "anomalies are about agents, not CRM records",
}


def combination_problems(trigger: Trigger, action: Action) -> list[FieldProblem]:
    """What makes this trigger and action a pair that cannot work, each naming its field.

    Fields are ``action_type``, ``trigger_config.<key>`` or ``action_config.<key>``.
    """
    if trigger.type not in _ALLOWED_TRIGGERS[action.type]:
        why = _WHY_NOT[action.type]
        return [("action_type", f"{action.type} cannot follow {trigger.type}: {why}")]
    problems: list[FieldProblem] = []
    if (
        isinstance(action, AutoApprove)
        and isinstance(trigger, InboxItemCreated)
        and trigger.item_types != ["approval"]
    ):
        problems.append(
            (
                "trigger_config.item_types",
                'auto_approve approves approval items only: set it to ["approval"]',
            )
        )
    if isinstance(action, CreateCrmTask):
        known = TASK_PLACEHOLDERS[trigger.type]
        unknown = [name for name in placeholders(action.subject_template) if name not in known]
        if unknown:
            offered = ", ".join("{" + name + "}" for name in known) or "none"
            problems.append(
                (
                    "action_config.subject_template",
                    f"{{{unknown[0]}}} is not known after {trigger.type} (known: {offered})",
                )
            )
    return problems


def parse_trigger(trigger_type: str, config: object) -> Trigger:
    """A trigger from its type and JSON config (an object without ``type``, or with the same).

    Raises:
        InvalidInputError: fields ``trigger_type`` or ``trigger_config.<key path>``.
    """
    data = _config_object(trigger_type, config, TRIGGERS_BY_TYPE, "trigger")
    try:
        return TRIGGER_ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise _invalid(exc, "trigger_config") from exc


def parse_action(action_type: str, config: object, *, allow_private_hosts: bool) -> Action:
    """An action from its type and JSON config; see ``parse_trigger``.

    Raises:
        InvalidInputError: fields ``action_type`` or ``action_config.<key path>``.
    """
    data = _config_object(action_type, config, ACTIONS_BY_TYPE, "action")
    try:
        return ACTION_ADAPTER.validate_python(
            data, context={ALLOW_PRIVATE_HOSTS: allow_private_hosts}
        )
    except ValidationError as exc:
        raise _invalid(exc, "action_config") from exc


def _config_object(
    kind: str, config: object, known: Mapping[Any, type[BaseModel]], what: str
) -> dict[str, Any]:
    if kind not in known:
        raise InvalidInputError.one(
            f"{what}_type", f"{kind[:100]!r} is not one of {', '.join(known)}"
        )
    if not isinstance(config, Mapping):
        raise InvalidInputError.one(f"{what}_config", "must be a JSON object")
    data = dict(config)
    given = data.pop("type", kind)
    if given != kind:
        raise InvalidInputError.one(
            f"{what}_config.type", f"says {str(given)[:100]!r} but {what}_type is {kind}"
        )
    return {"type": kind, **data}


def _invalid(exc: ValidationError, prefix: str) -> InvalidInputError:
    """Every problem of a config, each at ``prefix.<key>.<index>`` (JSON keys kept as-is)."""
    problems: list[FieldProblem] = []
    for error in exc.errors():
        # A discriminated union puts the tag first in the location; the config has no tag.
        location = [str(part) for part in error.get("loc", ())][1:]
        problems.append((".".join([prefix, *location]), _reason(error)))
    return InvalidInputError(problems)


def _reason(error: ErrorDetails) -> str:
    kind = error.get("type", "")
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a known key"
    message = str(error.get("msg", "is invalid"))
    for noise in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(noise)
    return message
