"""The `toy-platform` command."""

from __future__ import annotations

import sys
from collections.abc import Callable

import click

from toy_platform import __version__
from toy_platform.auth.users import UserError
from toy_platform.cli.chaos import chaos_group
from toy_platform.cli.observe import doctor_command, logs_command, status_command
from toy_platform.cli.services import (
    auth_command,
    core_command,
    dashboard_command,
    middleware_command,
    serve_command,
    web_command,
    worker_command,
)
from toy_platform.cli.users import user_group
from toy_platform.console import tolerant_console
from toy_platform.log import LogDirError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="toy-platform")
def cli() -> None:
    """toy-platform: a small job platform you can watch working."""


for command in (
    serve_command,
    auth_command,
    core_command,
    middleware_command,
    web_command,
    dashboard_command,
    worker_command,
    user_group,
    chaos_group,
    status_command,
    logs_command,
    doctor_command,
):
    cli.add_command(command)


def main() -> None:
    _run(lambda: cli(prog_name="toy-platform"))


def serve_main() -> None:
    """`toy-platform-serve`: the same as `toy-platform serve`."""
    _run(lambda: serve_command(prog_name="toy-platform-serve"))


def _run(command: Callable[[], object]) -> None:
    """Run COMMAND; a setup problem met on the way (users.json, the log directory, the
    admin password) ends it with its one-line message and exit code 1, not a traceback."""
    tolerant_console()
    try:
        command()
    except (UserError, LogDirError) as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
