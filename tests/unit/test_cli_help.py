"""Every command teaches itself with --help, without touching a database."""

from __future__ import annotations

import pytest

from runtime.cli import main

COMMANDS = [
    [],
    ["migrate"],
    ["db"],
    ["db", "url"],
    ["db", "status"],
    ["db", "stop"],
    ["workspace", "create"],
    ["workspace", "list"],
    ["user", "create"],
    ["user", "list"],
    ["meetings", "import"],
    ["meetings", "list"],
    ["config", "show"],
    ["config", "env-example"],
    ["preview"],
    ["eval"],
    ["calibrate"],
    ["emulator", "hubspot"],
    ["agent"],
    ["agent", "templates"],
    ["agent", "create"],
    ["agent", "list"],
    ["agent", "show"],
    ["agent", "update"],
    ["agent", "activate"],
    ["agent", "pause"],
    ["crm"],
    ["crm", "connect"],
    ["crm", "status"],
    ["crm", "rotate-key"],
    ["webhook"],
    ["webhook", "secret"],
    ["crm", "disconnect"],
    ["worker"],
    ["activity", "list"],
    ["inbox", "list"],
    ["metrics"],
    ["token"],
    ["token", "create"],
    ["token", "list"],
    ["token", "revoke"],
    ["serve"],
    ["schema"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "crm-agents")
def test_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    assert "Usage: crm-agents" in capsys.readouterr().out


def test_an_unknown_command_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["frobnicate"])
    assert exited.value.code == 2


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("crm-agents 0.")
