"""`toy-platform chaos ...`: break things on purpose and watch what the platform does."""

from __future__ import annotations

import click
import psutil
import requests

from toy_platform.cli.options import common_options
from toy_platform.config import Settings
from toy_platform.health import SUPERVISOR_FILE, child_pid, describe_error
from toy_platform.security import ServiceAuth, load_service_key
from toy_platform.supervisor import hold_file

CHILDREN = ("auth", "core", "middleware", "web", "dashboard")


@click.group(name="chaos")
def chaos_group() -> None:
    """Make a component fail on purpose (kill it, or make it hang)."""


@chaos_group.command(name="kill")
@click.argument("component", type=click.Choice(CHILDREN))
@common_options
def kill(settings: Settings, component: str) -> None:
    """Kill COMPONENT hard; `toy-platform serve` notices and restarts it."""
    state_file = settings.data_dir / SUPERVISOR_FILE
    pid = child_pid(settings, component)
    if pid is None:
        raise click.ClickException(
            f"no running {component} recorded in {state_file};"
            " is `toy-platform serve` running with this --home?"
        )
    try:
        process = psutil.Process(pid)
        process.kill()
        process.wait(5)
    except psutil.NoSuchProcess as exc:
        raise click.ClickException(f"{component} (pid {pid}) is not running") from exc
    click.echo(
        f"killed {component} (pid {pid}); watch it come back with `toy-platform status --watch`"
    )


@chaos_group.command(name="pause")
@click.argument("component", type=click.Choice(("auth", "core", "middleware")))
@click.argument("seconds", type=click.FloatRange(0, 600, min_open=True))
@common_options
def pause(settings: Settings, component: str, seconds: float) -> None:
    """Make COMPONENT hang for SECONDS without dying: it accepts calls but does not answer."""
    session = requests.Session()
    session.auth = ServiceAuth(load_service_key(settings))
    url = f"{settings.url_of(component)}/_chaos/pause"
    try:
        response = session.post(url, json={"seconds": seconds}, timeout=5)
    except requests.RequestException as exc:
        raise click.ClickException(f"{component} at {url}: {describe_error(exc, 5)}") from exc
    if response.status_code != 202:
        raise click.ClickException(
            f"{component} refused: HTTP {response.status_code} {response.text[:200]}"
        )
    click.echo(f"{component} hangs for {seconds:g} s; try `toy-platform status` meanwhile")


@chaos_group.command(name="stop")
@click.argument("component", type=click.Choice(CHILDREN))
@common_options
def stop(settings: Settings, component: str) -> None:
    """Stop COMPONENT and keep it down (the supervisor does not restart it) until `start`."""
    path = hold_file(settings.data_dir, component)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("held by `toy-platform chaos stop`\n")
    click.echo(
        f"{component} is being stopped and stays down; `toy-platform chaos start"
        f" {component}` brings it back"
    )


@chaos_group.command(name="start")
@click.argument("component", type=click.Choice(CHILDREN))
@common_options
def start(settings: Settings, component: str) -> None:
    """Let the supervisor start COMPONENT again after `chaos stop`."""
    hold_file(settings.data_dir, component).unlink(missing_ok=True)
    click.echo(f"{component} may run again; the supervisor starts it within a second or two")
