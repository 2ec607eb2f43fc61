"""Automation triggers and actions: strict models, clear errors, sensible pairs, cron."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import uuid4

import pytest

from runtime.automations.cron import parse_cron
from runtime.automations.definition import (
    TASK_PLACEHOLDERS,
    combination_problems,
    parse_action,
    parse_trigger,
)
from runtime.automations.destinations import check_webhook_url
from runtime.automations.models import (
    ACTIONS_BY_TYPE,
    TRIGGERS_BY_TYPE,
    ActivityOnMyDeals,
    AutoApprove,
    InboxItemCreated,
    Schedule,
    StoredAutomation,
    Webhook,
    config_of,
)
from runtime.errors import InvalidInputError, StorageError

# One valid config per kind, as a client would send it.
TRIGGERS: dict[str, dict[str, Any]] = {
    "inbox_item_created": {"item_types": ["approval"], "min_confidence": 0.2},
    "activity_on_my_deals": {"statuses": ["failed", "rejected"], "action_types": ["update"]},
    "anomaly_on_my_agents": {"severities": ["error"], "anomaly_types": ["high_failure_rate"]},
    "meeting_of_call_type": {"call_types": ["discovery", "demo"]},
    "schedule": {"cron": "*/15 9-17 * * mon-fri", "timezone": "Europe/Berlin"},
}
ACTIONS: dict[str, dict[str, Any]] = {
    "auto_approve": {"fields": ["amount", "closedate"], "min_confidence": 0.9},
    "notify": {"channels": ["slack", "desktop"]},
    "digest": {"frequency": "daily", "time_of_day": "07:45", "timezone": "Asia/Tokyo"},
    "create_crm_task": {"subject_template": "Follow up", "due_in_days": 3},
    "webhook": {"url": "https://hooks.example.com/crm", "secret": "0123456789abcdef"},
}


def problems(call: Any) -> list[tuple[str, str]]:
    with pytest.raises(InvalidInputError) as caught:
        call()
    return list(caught.value.problems)


def fields(call: Any) -> list[str]:
    return [field for field, _ in problems(call)]


def action(kind: str, config: dict[str, Any], *, allow_private_hosts: bool = False) -> Any:
    return parse_action(kind, config, allow_private_hosts=allow_private_hosts)


def test_every_kind_has_a_sample_and_round_trips_through_its_stored_config() -> None:
    assert set(TRIGGERS) == set(TRIGGERS_BY_TYPE)
    assert set(ACTIONS) == set(ACTIONS_BY_TYPE)
    for kind, config in TRIGGERS.items():
        trigger = parse_trigger(kind, config)
        assert trigger.type == kind
        assert parse_trigger(kind, config_of(trigger)) == trigger
    for kind, config in ACTIONS.items():
        parsed = action(kind, config)
        assert parsed.type == kind
        assert "type" not in config_of(parsed)
        again = action(kind, config_of(parsed))
        # The secret is never part of the stored or shown config.
        assert again == (
            parsed.model_copy(update={"secret": None}) if kind == "webhook" else parsed
        )


def test_defaults_cover_every_value_and_a_config_may_repeat_its_type() -> None:
    trigger = parse_trigger("inbox_item_created", {"type": "inbox_item_created"})
    assert trigger == InboxItemCreated(item_types=["approval", "question", "alert"])
    assert parse_trigger("activity_on_my_deals", {}) == ActivityOnMyDeals(
        statuses=["pending", "success", "failed", "rejected"],
        action_types=["create", "update", "skip"],
    )
    digest = action("digest", {"frequency": "daily", "time_of_day": "18:00"})
    assert (digest.timezone, digest.channels, digest.weekday) == ("UTC", ["email"], None)


def test_unknown_keys_wrong_types_and_bad_values_are_named_with_every_problem() -> None:
    found = problems(
        lambda: parse_trigger(
            "inbox_item_created",
            {
                "item_types": ["approval", "memo", "approval"],
                "min_confidence": "0.5",
                "confidence_min": 0.5,
            },
        )
    )
    assert [field for field, _ in found] == [
        "trigger_config.item_types.1",
        "trigger_config.min_confidence",
        "trigger_config.confidence_min",
    ]
    assert found[2][1] == "is not a known key"
    assert "'approval', 'question' or 'alert'" in found[0][1]
    assert (
        fields(lambda: parse_trigger("inbox_item_created", {"item_types": ["alert", "alert"]}))[0]
        == "trigger_config.item_types"
    )
    assert fields(lambda: parse_trigger("inbox_item_created", {"item_types": []})) == [
        "trigger_config.item_types"
    ]
    assert fields(lambda: action("notify", {"channels": ["slack"], "to": "me"})) == [
        "action_config.to"
    ]
    assert fields(lambda: action("auto_approve", {"fields": ["amount"]})) == [
        "action_config.min_confidence"
    ]
    assert fields(
        lambda: action("auto_approve", {"fields": ["deal amount"], "min_confidence": 1})
    ) == ["action_config.fields.0"]
    assert fields(lambda: parse_trigger("meeting_of_call_type", {"call_types": [" "]})) == [
        "trigger_config.call_types.0"
    ]
    assert fields(lambda: parse_trigger("anomaly_on_my_agents", {"anomaly_types": ["Odd!"]})) == [
        "trigger_config.anomaly_types.0"
    ]


def test_confidence_bounds_and_their_order() -> None:
    for bad in (-0.1, 1.01, True):
        assert fields(
            lambda bad=bad: parse_trigger("inbox_item_created", {"max_confidence": bad})
        ) == ["trigger_config.max_confidence"]
    [(field, reason)] = problems(
        lambda: parse_trigger("inbox_item_created", {"min_confidence": 0.8, "max_confidence": 0.5})
    )
    assert field == "trigger_config.max_confidence"
    assert reason == "must not be below min_confidence (0.8)"
    assert parse_trigger("inbox_item_created", {"min_confidence": 0, "max_confidence": 1})


def test_the_kind_and_the_config_shape_are_checked_first() -> None:
    [(field, reason)] = problems(lambda: parse_trigger("on_tuesdays", {}))
    assert field == "trigger_type"
    assert "inbox_item_created" in reason
    assert fields(lambda: action("fax", {})) == ["action_type"]
    assert fields(lambda: parse_trigger("schedule", ["every_minutes", 5])) == ["trigger_config"]
    assert fields(lambda: action("notify", {"type": "webhook", "channels": ["email"]})) == [
        "action_config.type"
    ]


EVERY = "trigger_config.every_minutes"
CRON = "trigger_config.cron"


@pytest.mark.parametrize(
    ("config", "field", "reason"),
    [
        ({}, EVERY, "give every_minutes, or cron (e.g. '0 9 * * mon-fri')"),
        ({"cron": "0 9 * * *", "every_minutes": 60}, EVERY, "give cron or every_minutes, not both"),
        ({"every_minutes": 1}, EVERY, "Input should be greater than or equal to 5"),
        (
            {"every_minutes": 60, "timezone": "Europe/Atlantis"},
            "trigger_config.timezone",
            "'Europe/Atlantis' is not an IANA timezone (e.g. UTC, Europe/Paris)",
        ),
        (
            {"cron": "0 9 * *"},
            CRON,
            "needs 5 fields (minute hour day-of-month month day-of-week), got 4;"
            " e.g. '0 9 * * mon-fri'",
        ),
        ({"cron": "0 24 * * *"}, CRON, "hour field: 24 is outside 0-23"),
        (
            {"cron": "0 9 * * fri-mon"},
            CRON,
            "day-of-week field: the range 'fri-mon' runs backwards",
        ),
        (
            {"cron": "*/0 9 * * *"},
            CRON,
            "minute field: the step in '*/0' must be a positive number",
        ),
        ({"cron": "0 9 1,,15 * *"}, CRON, "day-of-month field: '1,,15' has an empty list item"),
        ({"cron": "0 9 * smarch *"}, CRON, "month field: 'smarch' is not a number"),
    ],
)
def test_schedules_are_validated_with_reasons(
    config: dict[str, Any], field: str, reason: str
) -> None:
    assert problems(lambda: parse_trigger("schedule", config)) == [(field, reason)]


def test_cron_expressions_allow_what_cron_allows() -> None:
    weekdays = parse_cron("30 9 * * mon-fri")
    assert weekdays.matches(datetime(2026, 3, 2, 9, 30))  # a Monday
    assert not weekdays.matches(datetime(2026, 3, 1, 9, 30))  # a Sunday
    assert not weekdays.matches(datetime(2026, 3, 2, 9, 31))
    steps = parse_cron("*/20 8-10/2 * jan,jul *")
    assert steps.minutes == {0, 20, 40}
    assert steps.hours == {8, 10}
    assert steps.months == {1, 7}
    assert parse_cron("0 0 * * 7").weekdays == {0}  # 7 is Sunday too
    assert parse_cron("5/15 * * * *").minutes == {5, 20, 35, 50}
    # Both day fields restricted: either one matches, as in cron.
    either = parse_cron("0 12 1 * fri")
    assert either.matches(datetime(2026, 3, 1, 12, 0))  # the 1st, a Sunday
    assert either.matches(datetime(2026, 3, 6, 12, 0))  # a Friday
    assert not either.matches(datetime(2026, 3, 7, 12, 0))
    schedule = parse_trigger("schedule", {"cron": "  0   9 * *   MON "})
    assert isinstance(schedule, Schedule)
    assert schedule.cron == "0 9 * * MON"
    cron = schedule.cron_schedule()
    assert cron is not None
    assert cron.weekdays == {1}


def test_digests_need_a_time_and_a_weekday_only_when_weekly() -> None:
    assert fields(lambda: action("digest", {"frequency": "weekly", "time_of_day": "8:00"})) == [
        "action_config.time_of_day",
        "action_config.weekday",
    ]
    assert problems(
        lambda: action("digest", {"frequency": "daily", "time_of_day": "08:00", "weekday": "mon"})
    ) == [("action_config.weekday", "is only for a weekly digest")]
    assert fields(lambda: action("digest", {"frequency": "hourly", "time_of_day": "08:00"})) == [
        "action_config.frequency"
    ]
    weekly = action("digest", {"frequency": "weekly", "time_of_day": "23:59", "weekday": "sun"})
    assert weekly.weekday == "sun"


NOT_A_PLACEHOLDER = "is not a placeholder: use a plain {name}"


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("Call {}", f"{{}} {NOT_A_PLACEHOLDER}"),
        ("Call {0}", f"{{0}} {NOT_A_PLACEHOLDER}"),
        ("Call {meeting.title}", f"{{meeting.title}} {NOT_A_PLACEHOLDER}"),
        ("Call {meeting_title!r}", f"{{meeting_title}} {NOT_A_PLACEHOLDER}"),
        (
            "Call {meeting_title",
            "is not a template: expected '}' before end of string (write {{ for a literal brace)",
        ),
        ("   ", "must not be empty"),
    ],
)
def test_task_subjects_take_plain_placeholders(template: str, reason: str) -> None:
    assert problems(lambda: action("create_crm_task", {"subject_template": template})) == [
        ("action_config.subject_template", reason)
    ]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/x", "must be an https:// URL"),
        (
            "https://user:pw@hooks.example.com/x",
            "must not carry credentials; use the secret to sign requests",
        ),
        ("https:///x", "has no host"),
        ("https://hooks.example.com:99999/x", "is not a URL: Port out of range 0-65535"),
    ],
)
def test_webhooks_go_over_https_without_credentials(url: str, reason: str) -> None:
    assert problems(lambda: action("webhook", {"url": url})) == [("action_config.url", reason)]


PRIVATE = "is a private, loopback or reserved address"
NOT_CANONICAL = "is not a canonical IP address"


@pytest.mark.parametrize(
    ("url", "host", "why"),
    [
        ("https://127.0.0.1/x", "127.0.0.1", PRIVATE),
        ("https://10.1.2.3/x", "10.1.2.3", PRIVATE),
        ("https://169.254.169.254/latest", "169.254.169.254", PRIVATE),
        ("https://[::1]/x", "::1", PRIVATE),
        ("https://[::ffff:127.0.0.1]/x", "::ffff:127.0.0.1", PRIVATE),
        ("https://127.1/x", "127.1", NOT_CANONICAL),
        ("https://2130706433/x", "2130706433", NOT_CANONICAL),
        ("https://0x7f000001/x", "0x7f000001", NOT_CANONICAL),
        ("https://localhost/x", "localhost", "is a local name"),
        ("https://api.localhost./x", "api.localhost", "is a local name"),
        ("https://metadata.google.internal/x", "metadata.google.internal", "is a local name"),
        ("https://intranet/x", "intranet", "is not a fully qualified domain name"),
    ],
)
def test_webhooks_go_to_public_hosts_only(url: str, host: str, why: str) -> None:
    reason = f"host {host!r} {why}; webhooks go to public hosts only"
    assert problems(lambda: action("webhook", {"url": url})) == [("action_config.url", reason)]


def test_the_setting_opens_private_hosts_but_not_plain_http() -> None:
    local = action("webhook", {"url": "https://127.0.0.1:8443/hook"}, allow_private_hosts=True)
    assert isinstance(local, Webhook)
    assert local.url == "https://127.0.0.1:8443/hook"
    assert check_webhook_url("https://LOCALHOST/x", allow_private=True) == "https://LOCALHOST/x"
    assert fields(
        lambda: action("webhook", {"url": "http://127.0.0.1/x"}, allow_private_hosts=True)
    ) == ["action_config.url"]
    public = action("webhook", {"url": "https://8.8.8.8/hook"})
    assert public.url == "https://8.8.8.8/hook"


def test_a_webhook_secret_is_never_echoed() -> None:
    [(field, reason)] = problems(
        lambda: action("webhook", {"url": "https://hooks.example.com", "secret": "hunter2"})
    )
    assert (field, reason) == ("action_config.secret", "must be 16 to 256 characters")
    hook = action("webhook", ACTIONS["webhook"])
    assert "0123456789abcdef" not in repr(hook)
    assert "0123456789abcdef" not in str(config_of(hook))
    with pytest.raises(InvalidInputError) as caught:
        action("webhook", {"url": "https://hooks.example.com", "secret": 1234567890123456789})
    assert "1234567890123456789" not in str(caught.value)


ALLOWED = {
    "auto_approve": {"inbox_item_created"},
    "notify": set(TRIGGERS),
    "digest": set(TRIGGERS) - {"schedule"},
    "create_crm_task": set(TRIGGERS) - {"anomaly_on_my_agents"},
    "webhook": set(TRIGGERS),
}


@pytest.mark.parametrize("action_type", sorted(ACTIONS))
def test_which_triggers_each_action_may_follow(action_type: str) -> None:
    made = action(action_type, ACTIONS[action_type])
    for trigger_type, config in TRIGGERS.items():
        pair = combination_problems(parse_trigger(trigger_type, config), made)
        if trigger_type in ALLOWED[action_type]:
            assert pair == [], (trigger_type, action_type)
        else:
            [(field, reason)] = pair
            assert field == "action_type"
            assert reason.startswith(f"{action_type} cannot follow {trigger_type}: ")


def test_auto_approval_needs_approval_items_only() -> None:
    approve = action("auto_approve", ACTIONS["auto_approve"])
    assert isinstance(approve, AutoApprove)
    every_item = parse_trigger("inbox_item_created", {})
    assert combination_problems(every_item, approve) == [
        (
            "trigger_config.item_types",
            'auto_approve approves approval items only: set it to ["approval"]',
        )
    ]


def test_task_placeholders_must_be_known_after_the_trigger() -> None:
    task = action("create_crm_task", {"subject_template": "Review {item_title} ({record_id})"})
    after_item = parse_trigger("inbox_item_created", {})
    assert combination_problems(after_item, task) == []
    after_meeting = parse_trigger("meeting_of_call_type", {"call_types": ["demo"]})
    assert combination_problems(after_meeting, task) == [
        (
            "action_config.subject_template",
            "{item_title} is not known after meeting_of_call_type"
            " (known: {meeting_title}, {call_type})",
        )
    ]
    on_schedule = parse_trigger("schedule", {"every_minutes": 60})
    [(_, reason)] = combination_problems(on_schedule, task)
    assert reason.endswith("(known: none)")
    assert set(TASK_PLACEHOLDERS) == set(TRIGGERS)


def test_a_stored_row_reads_back_and_a_kind_this_version_lacks_is_a_storage_error() -> None:
    row = {
        "id": uuid4(),
        "workspace_id": uuid4(),
        "user_id": uuid4(),
        "name": "Mine",
        "trigger_type": "schedule",
        "trigger_config": {"every_minutes": 30, "cron": None, "timezone": "UTC"},
        "action_type": "notify",
        "action_config": {"channels": ["email"]},
        "is_active": None,
        "has_webhook_secret": False,
        "created_at": datetime(2026, 3, 2),
        "updated_at": datetime(2026, 3, 2),
    }
    stored = StoredAutomation.from_row(row)
    assert stored.is_active is True  # the seed's default for NULL
    assert stored.trigger == Schedule(every_minutes=30)
    with pytest.raises(StorageError, match="cannot be read"):
        StoredAutomation.from_row({**row, "action_type": "telegram"})
