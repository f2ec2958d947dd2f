"""Commands that run the platform: `serve` (everything, supervised) and each service alone."""

from __future__ import annotations

import logging
import os
import signal
import sys
from importlib import resources
from pathlib import Path
from typing import NoReturn

import click

from toy_platform import cpu, httpserver
from toy_platform.auth.users import UserStore
from toy_platform.cli.apps import APP_FACTORIES
from toy_platform.cli.options import Group, common_options
from toy_platform.config import SERVICES, Settings, settings_to_env
from toy_platform.cpu import log_placement, place_service
from toy_platform.extras import missing_extra
from toy_platform.lifeline import watch_supervisor
from toy_platform.log import configure_logging, skip_unused_record_fields
from toy_platform.ops.supervisor import (
    EXIT_CANNOT_LISTEN,
    ChildSpec,
    StartError,
    Supervisor,
    bypass_proxy_for_own_services,
    check_previous,
    service_argv,
)

logger = logging.getLogger(__name__)


def ensure_admin(settings: Settings) -> str | None:
    """On first start, create the admin user; return its password to show once."""
    return UserStore(settings.users_file).ensure_admin(settings.admin_password)


def announce_admin(settings: Settings, password: str | None) -> None:
    if password is None:
        return
    generated = not settings.admin_password
    click.echo("First start: created user 'admin' (role admin).")
    if generated:
        click.echo(f"admin password: {password}")
    click.echo(f"  users file: {settings.users_file}")
    click.echo("  change it with: toy-platform user passwd admin")


class CannotListen(click.ClickException):
    """The port is taken: a distinct exit code tells serve to stop rather than retry."""

    exit_code = EXIT_CANNOT_LISTEN


def _stop_on_break() -> None:
    """Windows' Ctrl+Break (how serve stops a child there) stops the service as Ctrl+C does."""
    if hasattr(signal, "SIGBREAK"):
        signal.signal(signal.SIGBREAK, signal.default_int_handler)


def run_service(settings: Settings, name: str) -> None:
    """Run one service in this process under waitress until it is stopped."""
    configure_logging(settings, name)
    skip_unused_record_fields()
    watch_supervisor(settings.supervisor_pid)
    _stop_on_break()
    port = getattr(settings, f"{name}_port")
    if name == "auth":
        announce_admin(settings, ensure_admin(settings))
    # Before the app starts its threads: each new thread gets the CPU of its creator.
    supervised = settings.supervisor_pid is not None
    log_placement(name, place_service(settings.cpu, name, supervised))
    try:
        app = APP_FACTORIES[name](settings)
    except Exception as exc:
        logger.exception("%s could not start", name, extra={"event": "start_failed"})
        raise click.ClickException(f"{name} could not start: {exc}") from exc
    logger.info(
        "%s starting on http://%s:%d",
        name,
        settings.host,
        port,
        extra={"event": "service_started", "port": port},
    )
    try:
        httpserver.serve(
            app,
            host=settings.host,
            port=port,
            threads=settings.threads,
            ident=f"toy-platform-{name}",
            channel_timeout=30,
            connection_limit=500,
        )
    except OSError as exc:
        logger.error(
            "cannot listen on %s:%d: %s",
            settings.host,
            port,
            exc,
            extra={"event": "listen_failed", "port": port},
        )
        raise CannotListen(
            f"{name}: cannot listen on {settings.host}:{port}: {exc}"
            f" (is something else using port {port}? try"
            " `toy-platform doctor`)"
        ) from exc


SERVICE_GROUPS: tuple[Group, ...] = ("dirs", "addresses", "service", "backends", "logging")


def _service_command(
    name: str, help_text: str, groups: tuple[Group, ...] = SERVICE_GROUPS
) -> click.Command:
    @click.command(name=name, help=help_text)
    @common_options(*groups)
    def command(settings: Settings) -> None:
        run_service(settings, name)

    return command


auth_command = _service_command("auth", "Run the auth service alone (login, JWKS).")
core_command = _service_command(
    "core", "Run the core service alone (queue and workers).", (*SERVICE_GROUPS, "jobs")
)
middleware_command = _service_command("middleware", "Run the middleware API alone.")
web_command = _service_command("web", "Serve the React web app alone.")


# A worker binds no port and calls only the middleware (through --callback-url, by default
# --middleware-url); it runs jobs with --concurrency, not core's --workers.
WORKER_UNUSED = (
    "--host",
    "--auth-port",
    "--core-port",
    "--web-port",
    "--dashboard-port",
    "--auth-url",
    "--core-url",
    "--store-url",
    "--workers",
)


@click.command(name="worker")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    help="Jobs this worker runs at once (pool processes; threads on Windows) [CPU count].",
)
@click.option(
    "--hostname",
    "-n",
    help="This worker's name, NAME@HOST (%h: this machine's host name) [celery@<host name>].",
)
@click.option(
    "--pool",
    type=click.Choice(["prefork", "threads", "solo"]),
    help="How jobs run side by side [prefork; threads on Windows].",
)
@common_options("dirs", "addresses", "backends", "jobs", "logging", hide=WORKER_UNUSED)
def worker_command(
    settings: Settings, concurrency: int | None, hostname: str | None, pool: str | None
) -> None:
    """Run a Celery worker for the platform's jobs (with --queue-url redis://...).

    Start as many as you like, on any machine that reaches Redis and the middleware. Needs
    the service key: TOY_PLATFORM_SERVICE_KEY or --service-key-file.
    """
    missing = missing_extra("celery", "toy-platform worker")
    if missing:
        raise click.ClickException(missing)
    from toy_platform.core.queues.celery.worker import (
        WorkerOptions,
        WorkerSetupError,
        run_worker,
    )

    _stop_on_break()
    try:
        code = run_worker(settings, WorkerOptions(concurrency, hostname, pool))
    except WorkerSetupError as exc:
        raise click.ClickException(str(exc)) from exc
    raise SystemExit(code)


def dashboard_argv(settings: Settings) -> list[str]:
    app = resources.files("dashboard_streamlit").joinpath("app.py")
    return [
        sys.executable,
        "-m",
        "toy_platform.ops.dashboard_process",  # Streamlit, watching its supervisor
        "run",
        str(app),
        "--server.port",
        str(settings.dashboard_port),
        "--server.address",
        settings.host,
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--global.developmentMode",
        "false",
        "--client.toolbarMode",
        "minimal",
        "--client.showErrorDetails",
        "none",
    ]


@click.command(name="dashboard")
@common_options(*SERVICE_GROUPS)
def dashboard_command(settings: Settings) -> None:
    """Run the Streamlit dashboard alone."""
    import subprocess

    env = {**os.environ, **settings_to_env(settings)}
    raise SystemExit(subprocess.call(dashboard_argv(settings), env=env))


def child_specs(settings: Settings, web: bool, dashboard: bool) -> list[ChildSpec]:
    specs = [
        ChildSpec(
            name,
            service_argv(name),
            f"{settings.url_of(name)}/healthz",
            settings.url_of(name),
            port=getattr(settings, f"{name}_port"),
            ready_url=f"{settings.url_of(name)}/readyz",
            watch_stall=name != "auth",
        )
        for name in SERVICES
    ]
    if web:
        specs.append(
            ChildSpec(
                "web",
                service_argv("web"),
                f"{settings.web_url}/healthz",
                settings.web_url,
                port=settings.web_port,
                ready_url=f"{settings.web_url}/readyz",
            )
        )
    if dashboard:
        specs.append(
            ChildSpec(
                "dashboard",
                dashboard_argv(settings),
                f"{settings.dashboard_url}/_stcore/health",
                settings.dashboard_url,
                port=settings.dashboard_port,
                has_instance_id=False,
            )
        )
    return specs


@click.command(name="serve")
@click.option("--no-web", is_flag=True, help="Do not start the React web app.")
@click.option("--no-dashboard", is_flag=True, help="Do not start the Streamlit dashboard.")
@common_options
def serve_command(settings: Settings, no_web: bool, no_dashboard: bool) -> None:
    """Start auth, core, middleware, the web app and the dashboard, and keep them running."""
    if settings.cpu not in (cpu.AUTO, cpu.OFF):
        raise click.UsageError(
            f"--cpu {settings.cpu}: serve runs several services, and under --cpu auto the"
            " busy ones get a CPU each; a CPU number is for a service run alone"
            " (toy-platform middleware --cpu N)"
        )
    configure_logging(settings, "supervisor")
    env = {**os.environ, **settings_to_env(settings), "PYTHONUNBUFFERED": "1"}
    env.update(bypass_proxy_for_own_services(settings, env))
    # The services' every step is in their log files; the console shows what needs a look.
    env["TOY_PLATFORM_CONSOLE_LOG_LEVEL"] = settings.console_log_level or "WARNING"
    supervisor = Supervisor(settings, child_specs(settings, not no_web, not no_dashboard), env)
    try:
        _check_backends(settings)
        check_previous(settings, lambda line: click.echo(line, err=True))
        supervisor.check_ports()
    except StartError as exc:
        _refuse(exc)
    announce_admin(settings, ensure_admin(settings))

    def _terminate(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    if hasattr(signal, "SIGBREAK"):
        signal.signal(signal.SIGBREAK, _terminate)
    failure: StartError | None = None
    try:
        failed = supervisor.start_all()
        _print_table(settings, supervisor)
        if failed:
            click.echo(
                f"Not answering yet: {', '.join(failed)} (see `toy-platform doctor`);"
                " the supervisor keeps restarting them.",
                err=True,
            )
        elif not_ready := [n for n, c in supervisor.children.items() if c.not_ready]:
            click.echo(f"Started, but not ready: {', '.join(not_ready)}. Press Ctrl+C to stop.")
        else:
            click.echo("Ready. Press Ctrl+C to stop.")
        supervisor.run()
    except StartError as exc:
        failure = exc
    except KeyboardInterrupt:
        click.echo("Stopping...")
    finally:
        # A second Ctrl+C must not cut the shutdown short and leave children behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        supervisor.stop()
    if failure is not None:
        _refuse(failure)


def _check_backends(settings: Settings) -> None:
    """Settings core or the middleware could not start with stop serve at once, not in a
    restart loop: an unknown queue or store, one whose extra is not installed, or a
    --job-module that cannot be imported."""
    from toy_platform.core.queues.base import QueueSetupError
    from toy_platform.core.queues.choice import queue_kind
    from toy_platform.jobs.types import JobModuleError, JobTypeError, load_job_types
    from toy_platform.middleware.stores.base import StoreSetupError
    from toy_platform.middleware.stores.choice import store_kind

    try:
        queue_kind(settings)
        store_kind(settings.store_url)
        load_job_types(settings.job_modules)  # a module that cannot be imported, or a bad type
    except (QueueSetupError, StoreSetupError, JobModuleError, JobTypeError) as exc:
        raise StartError(str(exc)) from exc


def _refuse(exc: StartError) -> NoReturn:
    logger.error("serve cannot start", extra={"event": "serve_refused", "reason": str(exc)})
    raise click.ClickException(f"{exc}\nNothing was left running.")


def _print_table(settings: Settings, supervisor: Supervisor) -> None:
    labels = {
        "auth": "Auth service",
        "core": "Core service",
        "middleware": "Middleware API",
        "web": "Web app (React)",
        "dashboard": "Dashboard (Streamlit)",
    }
    click.echo("")
    for name, child in supervisor.children.items():
        mark = child.state
        if child.state == "running":
            mark = f"not ready: {child.not_ready}" if child.not_ready else "up"
        click.echo(f"  {labels[name]:<22} {child.spec.url:<32} {mark}")
    click.echo(f"  {'Logs':<22} {settings.log_dir}")
    click.echo(f"  {'Users':<22} {Path(settings.users_file)}")
    click.echo("")
