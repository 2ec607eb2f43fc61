"""`crm-agents emulator hubspot`: explains itself, and refuses a bad snapshot with code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runtime.cli import main


@pytest.mark.parametrize("command", [["emulator"], ["emulator", "hubspot"]])
def test_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "Usage: crm-agents emulator" in out
    if command[-1] == "hubspot":
        for option in ("--snapshot", "--token", "--ten-second-limit", "--no-latency", "--seed"):
            assert option in out


def test_a_bad_snapshot_exits_2_naming_file_field_and_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshot = tmp_path / "crm.json"
    snapshot.write_text(json.dumps({"deals": [{"id": "301", "properties": {"amount": 5}}]}))
    with pytest.raises(SystemExit) as exited:
        main(["emulator", "hubspot", "--snapshot", str(snapshot), "--port", "0"])
    assert exited.value.code == 2
    assert capsys.readouterr().err == (
        f"error: {snapshot}: deals[0].properties.amount: Input should be a valid string\n"
    )


def test_a_snapshot_that_is_not_json_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshot = tmp_path / "crm.json"
    snapshot.write_text("{\n  deals: []\n}")
    with pytest.raises(SystemExit) as exited:
        main(["emulator", "hubspot", "--snapshot", str(snapshot)])
    assert exited.value.code == 2
    assert f"error: {snapshot}: (file): is not JSON:" in capsys.readouterr().err


def test_fault_shares_over_one_exit_2_naming_the_options(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["emulator", "hubspot", "--fault-429", "0.7", "--fault-drop", "0.5"])
    assert exited.value.code == 2
    assert capsys.readouterr().err == (
        "error: --fault-429 + --fault-5xx + --fault-drop: must not add up to more than 1\n"
    )
