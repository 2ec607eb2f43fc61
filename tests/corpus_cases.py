"""Evaluation corpus cases for tests: the contract's example meeting and CRM, or given ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.meetings import example_meeting

DATA = Path(__file__).parent / "data"
GOOD_EXPECTED = {"deal_id": "301", "fields": {"amount": "60000"}, "notes": "budget of 60k"}


def write_case(root: Path, name: str, *, skip: str = "", **payloads: Any) -> Path:
    """A case folder under ``root``: ``meeting=``, ``crm=``, ``expected=`` replace the example
    payloads (a string is written as is); ``skip`` names a file to leave out.
    """
    folder = root / name
    folder.mkdir(parents=True)
    defaults = {
        "meeting.json": example_meeting(),
        "crm.json": json.loads((DATA / "crm.json").read_text()),
        "expected.json": GOOD_EXPECTED,
    }
    for file, default in defaults.items():
        if file == skip:
            continue
        payload = payloads.get(file.removesuffix(".json"), default)
        text = payload if isinstance(payload, str) else json.dumps(payload)
        (folder / file).write_text(text)
    return folder
