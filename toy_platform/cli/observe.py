"""`toy-platform status`, `logs` and `doctor`: what is down, what happened, and why."""

from __future__ import annotations

import json
import sys
import time
from collections import deque
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import click

from toy_platform.cli.options import observing_options
from toy_platform.config import Settings
from toy_platform.log import LOG_SERVICES
from toy_platform.ops import doctor, logview, statusview

# -- status --------------------------------------------------------------------


@click.command(name="status")
@click.option("--json", "json_output", is_flag=True, help="Print JSON (shape below) instead.")
@click.option(
    "--watch",
    "watch",
    type=click.FloatRange(0.5),
    is_flag=False,
    flag_value=2.0,
    default=None,
    metavar="[SECONDS]",
    help="Refresh every SECONDS [2] until Ctrl+C.",
)
@observing_options("dirs", "addresses")
def status_command(settings: Settings, json_output: bool, watch: float | None) -> None:
    """Is everything OK? One line per component, then the queue and the jobs.

    Reads /healthz, /readyz and /metrics of each service: no login needed.
    The ports, URLs and dirs you do not give come from the `toy-platform serve`
    running on this home (its supervisor.json). Exit code 0 when every component
    is ready (and the supervisor, if any, is neither frozen nor gone leaving its
    services running), 1 otherwise.

    \b
    --json prints one object:
      ok, checked_at, components{name: {state (ok|not_ready|down), up, ready,
      reason, url, latency_ms, version, uptime_s, service_key_fingerprint,
      supervisor_state, restarts, last_exit_code, last_exit_at}},
      supervisor{running, state (running|
      frozen|gone), reason, orphans, pid, updated_at}|null, queue{size, oldest_age_s,
      running, callbacks_pending, callbacks_waiting_retry, callbacks_parked,
      workers_alive, callback_senders_alive, thread_restarts}, jobs{by_status,
      submitted_total, waiting_for_core, oldest_queued_age_s} (null where a
      service is down).
    """
    if watch is None:
        sys.exit(_show_status(settings, json_output))
    code = 0
    try:
        while True:
            status = statusview.gather(settings)
            click.clear()
            code = _print_status(status, json_output)
            if not json_output:
                click.echo(f"\nrefreshing every {watch:g} s; Ctrl+C to stop")
            time.sleep(watch)
    except KeyboardInterrupt:
        sys.exit(code)


def _show_status(settings: Settings, json_output: bool) -> int:
    return _print_status(statusview.gather(settings), json_output)


def _print_status(status: dict[str, Any], json_output: bool) -> int:
    if json_output:
        click.echo(json.dumps(status, indent=2))
    else:
        for line in statusview.render(status):
            click.echo(line)
    return 0 if status["ok"] else 1


# -- logs ----------------------------------------------------------------------


def _parse_since(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> datetime | None:
    """`10m`, `2h`, `30s`, `1d` or an ISO time, as the moment it means."""
    if value is None:
        return None
    try:
        return logview.parse_since(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command(name="logs")
@click.option(
    "--service",
    "-s",
    "services",
    multiple=True,
    type=click.Choice(LOG_SERVICES),
    help="Only this service (repeatable).",
)
@click.option("--request-id", "-r", help="Only lines of this request (X-Request-ID).")
@click.option("--job-id", "-j", help="Only lines about this job.")
@click.option(
    "--since",
    callback=_parse_since,
    metavar="TIME",
    help="Only lines since: 30s, 10m, 2h, 1d ago, or an ISO time.",
)
@click.option(
    "--level",
    "-l",
    type=click.Choice(logview.LEVELS, case_sensitive=False),
    help="Only this level and worse.",
)
@click.option("--lines", "-n", type=click.IntRange(0), help="Only the last N matching lines.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines until Ctrl+C.")
@click.option("--json", "json_output", is_flag=True, help="Print the JSON lines as they are.")
@observing_options("dirs")
def logs_command(
    settings: Settings,
    services: tuple[str, ...],
    request_id: str | None,
    job_id: str | None,
    since: datetime | None,
    level: str | None,
    lines: int | None,
    follow: bool,
    json_output: bool,
) -> None:
    """Every service's log merged in time order: follow one request or job across services.

    Reads <log dir>/<service>.log and its rotated files (.log.1, .log.2, ...).
    Without --log-dir: the log dir of the last `toy-platform serve` on this home.
    """
    log_filter = logview.LogFilter(
        services=services,
        request_id=request_id,
        job_id=job_id,
        since=since,
        level=level.upper() if level else None,
    )
    if not settings.log_dir.is_dir():
        click.echo(f"no logs yet: {settings.log_dir} does not exist", err=True)
        if not follow:
            return
    if lines is None and follow and since is None:
        lines = 10
    try:
        _show_logs(settings, log_filter, lines, follow, json_output)
    except KeyboardInterrupt:
        return


def _show_logs(
    settings: Settings,
    log_filter: logview.LogFilter,
    lines: int | None,
    follow: bool,
    json_output: bool,
) -> None:
    """The matching history (its last LINES), then new lines when following."""
    follower = logview.Follower(settings.log_dir, log_filter) if follow else None
    _echo_all(_last(logview.merged(settings.log_dir, log_filter), lines), json_output)
    if follower is not None:
        _echo_all(follower.records(), json_output)


def _last(records: Iterable[logview.Record], count: int | None) -> Iterable[logview.Record]:
    return records if count is None else deque(records, maxlen=count)


def _echo_all(records: Iterable[logview.Record], json_output: bool) -> None:
    try:
        for line in logview.render(records, json_output):
            click.echo(line)
    except BrokenPipeError:  # `toy-platform logs | head`
        sys.stderr.close()
        sys.exit(0)


# -- doctor --------------------------------------------------------------------


@click.command(name="doctor")
@click.option(
    "--json",
    "json_output",
    is_flag=True,
    help='Print {"ok", "problems": [...], "service_key": {"source", "path", "fingerprint"}}.',
)
@observing_options("dirs", "addresses")
def doctor_command(settings: Settings, json_output: bool) -> None:
    """Find the usual reasons the platform is down, and say what to do. No login needed.

    Checks ports, services not running or not ready (with their last logged
    error), users.json and keys, service keys that differ between services,
    clocks, the log dir, components the supervisor restarts again and again, and
    a supervisor that is frozen or gone. Also says where the service key comes
    from (TOY_PLATFORM_SERVICE_KEY, --service-key-file, or CONFIG_DIR/service.key)
    and its fingerprint, never the key. The ports, URLs and dirs you do not give
    come from the `toy-platform serve` running on this home. Exit code 0 when no
    problems are found, 1 otherwise.
    """
    problems = doctor.run_checks(settings)
    key = doctor.key_source(settings)
    if json_output:
        body = {
            "ok": not problems,
            "problems": [p.as_dict() for p in problems],
            "service_key": key.as_dict(),
        }
        click.echo(json.dumps(body, indent=2))
    else:
        _print_problems(problems, key)
    sys.exit(1 if problems else 0)


def _print_problems(problems: list[doctor.Problem], key: doctor.KeySource) -> None:
    """The problems, then where the service key is, then the count (last, as a summary)."""
    for problem in problems:
        name = click.style(f"{problem.component:<11}", fg="red", bold=True)
        click.echo(f"{name} {problem.problem} — fix: {problem.fix}")
    if problems:
        click.echo("")
    click.echo(key.describe())
    if not problems:
        click.echo(click.style("no problems found", fg="green"))
        return
    count = len(problems)
    click.echo(f"{count} problem{'s' if count != 1 else ''} found")
