"""The ``crm-agents`` command line.

Exit codes: 0 success; 1 something failed on our side (database, server); 2 bad input
(the message names the field and the reason). ``--json`` on a command prints one JSON
document for machines.
"""

from __future__ import annotations

import logging
import sys
from importlib.metadata import version

import typer

from runtime.cli._common import command_group, load_settings, report
from runtime.cli.agent_configs import agent_app
from runtime.cli.agents import calibrate_command, eval_command, preview_command
from runtime.cli.config import config_app
from runtime.cli.crm import crm_app
from runtime.cli.db import db_app, migrate_command
from runtime.cli.demo import demo_command
from runtime.cli.emulator import emulator_app
from runtime.cli.meetings import meetings_app
from runtime.cli.metrics import metrics_command
from runtime.cli.results import activity_app, inbox_app
from runtime.cli.serve import schema_command, serve_command
from runtime.cli.tenants import user_app, workspace_app
from runtime.cli.tokens import token_app
from runtime.cli.webhooks import webhook_app
from runtime.cli.worker import worker_command
from runtime.errors import CrmAgentsError

__all__ = ["app", "main"]

app = command_group(
    name="crm-agents",
    help=(
        "Run CRM agents: read each sales meeting, propose CRM updates with a confidence per"
        " field, write the confident ones and ask a human about the rest.\n\n"
        "State lives in PostgreSQL: DATABASE_URL selects an external server, otherwise an"
        " embedded one starts in CRM_AGENTS_HOME (see `crm-agents config show`).\n\n"
        "Typical start: `crm-agents migrate`, `crm-agents workspace create --name Acme`,"
        " `crm-agents user create --workspace ID --email you@example.com --role admin`,"
        " `crm-agents meetings import meeting.json --workspace ID`.\n\n"
        "Exit codes: 0 ok, 1 failure on our side, 2 bad input (the field is named)."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"crm-agents {version('crm-agents')}")
        raise typer.Exit()


@app.callback()
def _configure(
    _version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    level = load_settings().log_level
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if level != "DEBUG":
        # httpx logs every request at INFO: noise between a command's own lines.
        logging.getLogger("httpx").setLevel(logging.WARNING)


app.command("migrate")(migrate_command)
app.add_typer(db_app, name="db")
app.add_typer(workspace_app, name="workspace")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(meetings_app, name="meetings")
app.add_typer(agent_app, name="agent")
app.add_typer(config_app, name="config")
app.add_typer(emulator_app, name="emulator")
app.add_typer(crm_app, name="crm")
app.add_typer(webhook_app, name="webhook")
app.command("preview")(preview_command)
app.command("eval")(eval_command)
app.command("calibrate")(calibrate_command)
app.command("worker")(worker_command)
app.command("serve")(serve_command)
app.command("demo")(demo_command)
app.command("schema")(schema_command)
app.add_typer(activity_app, name="activity")
app.add_typer(inbox_app, name="inbox")
app.command("metrics")(metrics_command)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script; reports our errors with their exit code."""
    try:
        app(args=argv, prog_name="crm-agents")
    except CrmAgentsError as exc:
        sys.exit(report(exc))
