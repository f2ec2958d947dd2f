"""The `toy-platform` command."""

from __future__ import annotations

import click

from toy_platform import __version__
from toy_platform.cli.chaos import chaos_group
from toy_platform.cli.observe import doctor_command, logs_command, status_command
from toy_platform.cli.services import (
    auth_command,
    core_command,
    dashboard_command,
    middleware_command,
    serve_command,
    web_command,
)
from toy_platform.cli.users import user_group


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
    user_group,
    chaos_group,
    status_command,
    logs_command,
    doctor_command,
):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="toy-platform")


def serve_main() -> None:
    """`toy-platform-serve`: the same as `toy-platform serve`."""
    serve_command(prog_name="toy-platform-serve")
