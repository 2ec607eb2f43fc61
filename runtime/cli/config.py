"""`crm-agents config ...`: the settings tree."""

from __future__ import annotations

from typing import Any

import typer
from pydantic import SecretStr

from runtime.cli._common import JSON_OPTION, command_group, emit, load_settings
from runtime.settings import env_variables, render_env_example

config_app = command_group(help="Settings read from CRM_AGENTS_* variables.")


@config_app.command("show")
def show_command(as_json: bool = JSON_OPTION) -> None:
    """Print the effective settings (secrets masked) and the variable that sets each."""
    settings = load_settings()
    values: dict[str, Any] = {}
    for variable in env_variables():
        value = variable.value(settings)
        values[variable.name] = "***" if isinstance(value, SecretStr) else value
    human = "\n".join(f"{k}={'' if v is None else v}" for k, v in values.items())
    emit(values, human, as_json=as_json)


@config_app.command("env-example")
def env_example_command() -> None:
    """Print .env.example: every variable with its description and default."""
    typer.echo(render_env_example(), nl=False)
