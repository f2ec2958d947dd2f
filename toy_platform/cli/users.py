"""`toy-platform user ...`: manage the users in users.json."""

from __future__ import annotations

import sys

import click

from toy_platform.auth.users import UserError, UserStore
from toy_platform.cli.options import common_options
from toy_platform.config import Settings


def _password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    value: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


def _store(settings: Settings) -> UserStore:
    return UserStore(settings.users_file)


@click.group(name="user")
def user_group() -> None:
    """Add, list, remove users and change passwords."""


@user_group.command(name="add")
@click.argument("name")
@click.option("--admin", is_flag=True, help="Give the user the admin role.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@common_options("dirs")
def add(settings: Settings, name: str, admin: bool, password_stdin: bool) -> None:
    """Add user NAME."""
    try:
        user = _store(settings).add(
            name, _password(password_stdin), role="admin" if admin else "user"
        )
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"added user '{user.username}' ({user.role}) to {settings.users_file}")


@user_group.command(name="list")
@common_options("dirs")
def list_users(settings: Settings) -> None:
    """List the users and their roles."""
    try:
        users = _store(settings).all()
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    if not users:
        click.echo(f"no users in {settings.users_file}")
    for user in users:
        click.echo(f"{user.username:<24} {user.role:<6} created {user.created_at}")


@user_group.command(name="remove")
@click.argument("name")
@click.option(
    "--force", is_flag=True, help="Remove NAME even if it is the last admin (no admin is left)."
)
@common_options("dirs")
def remove(settings: Settings, name: str, force: bool) -> None:
    """Remove user NAME."""
    try:
        _store(settings).remove(name, force=force)
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"removed user '{name}'")


@user_group.command(name="passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@common_options("dirs")
def passwd(settings: Settings, name: str, password_stdin: bool) -> None:
    """Change the password of user NAME."""
    try:
        _store(settings).set_password(name, _password(password_stdin))
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"changed the password of '{name}'")
