"""`toy-platform chaos ...`: break things on purpose and watch what the platform does.

Only a child of a `toy-platform serve` that is running is ever signalled, and only after
checking that the recorded pid is still that child (command line and start time): a pid in
an old record may belong to any process by now.
"""

from __future__ import annotations

import click
import psutil
import urllib3

from toy_platform.cli.options import observing_options
from toy_platform.config import COMPONENTS, SERVICES, Settings
from toy_platform.health import SUPERVISOR_FILE, Record, read_record
from toy_platform.http_errors import describe_error
from toy_platform.ops import serve_record
from toy_platform.ops.supervisor import hold_file
from toy_platform.security import load_service_key
from toy_platform.service_http import service_session


@click.group(name="chaos")
def chaos_group() -> None:
    """Make a component fail on purpose (kill it, or make it hang)."""


def running_serve(settings: Settings, action: str) -> Record:
    """The record of the serve running on this home; a clear error when there is none."""
    path = settings.data_dir / SUPERVISOR_FILE
    record = read_record(settings.data_dir)
    if record is None:
        raise click.ClickException(
            f"no `toy-platform serve` recorded in {path}; is it running with this --home"
            " (or --data-dir)?"
        )
    state = serve_record.serve_state(record)
    if not state.running:
        raise click.ClickException(
            f"`toy-platform serve` is not running ({state.reason}; its record {path} was last"
            f" updated at {serve_record.local_clock(state.updated_at)}): nothing would"
            f" {action}, so nothing was done"
        )
    return record


@chaos_group.command(name="kill")
@click.argument("component", type=click.Choice(COMPONENTS))
@observing_options("dirs")
def kill(settings: Settings, component: str) -> None:
    """Kill COMPONENT hard; `toy-platform serve` notices and restarts it."""
    record = running_serve(settings, f"restart {component}")
    try:
        process = serve_record.verify_child(record, component)
    except serve_record.NotThatProcess as exc:
        raise click.ClickException(f"not killing {component}: {exc}") from exc
    try:
        process.kill()  # psutil refuses if the pid was reused since it was checked
        process.wait(5)
    except psutil.NoSuchProcess as exc:
        raise click.ClickException(f"{component} (pid {process.pid}) is not running") from exc
    except psutil.TimeoutExpired as exc:
        raise click.ClickException(
            f"{component} (pid {process.pid}) did not exit within 5 s of SIGKILL"
        ) from exc
    click.echo(
        f"killed {component} (pid {process.pid}); watch it come back with"
        " `toy-platform status --watch`"
    )


@chaos_group.command(name="pause")
@click.argument("component", type=click.Choice(SERVICES))
@click.argument("seconds", type=click.FloatRange(0, 600, min_open=True))
@observing_options("dirs", "addresses")
def pause(settings: Settings, component: str, seconds: float) -> None:
    """Make COMPONENT hang for SECONDS without dying: it accepts calls but does not answer."""
    url = f"{settings.url_of(component)}/_chaos/pause"
    with service_session(load_service_key(settings)) as session:
        try:
            response = session.post(url, json={"seconds": seconds}, timeout=5)
        except urllib3.exceptions.HTTPError as exc:
            raise click.ClickException(f"{component} at {url}: {describe_error(exc, 5)}") from exc
    if response.status_code != 202:
        raise click.ClickException(
            f"{component} refused: HTTP {response.status_code} {response.text[:200]}"
        )
    click.echo(f"{component} hangs for {seconds:g} s; try `toy-platform status` meanwhile")


@chaos_group.command(name="stop")
@click.argument("component", type=click.Choice(COMPONENTS))
@observing_options("dirs")
def stop(settings: Settings, component: str) -> None:
    """Stop COMPONENT and keep it down (the supervisor does not restart it) until `start`."""
    record = running_serve(settings, f"stop {component}")
    if component not in serve_record.children(record):
        raise click.ClickException(f"this `toy-platform serve` does not run {component}")
    path = hold_file(settings.data_dir, component)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("held by `toy-platform chaos stop`\n", encoding="utf-8")
    click.echo(
        f"{component} is being stopped and stays down; `toy-platform chaos start"
        f" {component}` brings it back"
    )


@chaos_group.command(name="start")
@click.argument("component", type=click.Choice(COMPONENTS))
@observing_options("dirs")
def start(settings: Settings, component: str) -> None:
    """Let the supervisor start COMPONENT again after `chaos stop`."""
    path = hold_file(settings.data_dir, component)
    held = path.exists()
    path.unlink(missing_ok=True)
    record = read_record(settings.data_dir)
    state = serve_record.serve_state(record) if record else None
    if state is None or not state.running:
        why = state.reason if state else f"no record in {settings.data_dir / SUPERVISOR_FILE}"
        raise click.ClickException(
            f"{'released the hold on ' + component if held else component + ' was not held'},"
            f" but `toy-platform serve` is not running ({why}): nothing starts it now"
        )
    if not held:
        click.echo(f"{component} was not held by `chaos stop`; nothing to do")
        return
    click.echo(f"{component} may run again; the supervisor starts it within a second or two")
