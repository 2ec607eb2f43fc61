"""Event channels and payloads: the names the triggers use are the names listeners use."""

from __future__ import annotations

import re
import uuid

import pytest

from runtime.db.migrate import DEFAULT_MIGRATIONS_DIR
from runtime.events import ALL_CHANNELS, INBOX_ITEMS, Event

_CHANNEL = re.compile(r"'(crm_agents_[a-z_]+)'")


def test_the_triggers_notify_exactly_the_channels_listeners_know() -> None:
    sql = "\n".join(p.read_text() for p in sorted(DEFAULT_MIGRATIONS_DIR.glob("*.sql")))
    used = {name for name in _CHANNEL.findall(sql) if not name.startswith("crm_agents_notify")}
    assert used == set(ALL_CHANNELS)


def test_a_payload_parses_into_an_event() -> None:
    item, workspace = uuid.uuid4(), uuid.uuid4()
    payload = f'{{"id": "{item}", "workspace_id": "{workspace}", "user_id": null,'
    payload += ' "status": "pending", "op": "insert"}'
    event = Event.parse(INBOX_ITEMS, payload)
    assert (event.channel, event.id, event.workspace_id, event.user_id, event.status) == (
        INBOX_ITEMS,
        item,
        workspace,
        None,
        "pending",
    )


@pytest.mark.parametrize("payload", ["", "not json", '{"id": "x"}', "[]"])
def test_a_payload_that_is_not_ours_is_refused(payload: str) -> None:
    with pytest.raises(ValueError, match="not an event payload"):
        Event.parse(INBOX_ITEMS, payload)
