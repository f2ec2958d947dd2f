"""Commands that run the platform: `serve` (everything, supervised) and each service alone."""

from __future__ import annotations

import importlib
import logging
import os
import signal
import sys
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import click

from toy_platform import httpserver
from toy_platform.cli.options import common_options, settings_to_env
from toy_platform.config import Settings
from toy_platform.log import configure_logging, skip_unused_record_fields
from toy_platform.supervisor import ChildSpec, Supervisor, service_argv
from toy_platform.users import UserStore

logger = logging.getLogger(__name__)


def _app_factory(name: str) -> Callable[[Settings], Any]:
    """The create_app of service NAME (imported late: each process runs one service)."""
    create_app: Callable[[Settings], Any] = importlib.import_module(
        f"toy_platform.{name}"
    ).create_app
    return create_app


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


def run_service(settings: Settings, name: str) -> None:
    """Run one service in this process under waitress until it is stopped."""
    configure_logging(settings, name)
    skip_unused_record_fields()
    port = getattr(settings, f"{name}_port")
    if name == "auth":
        announce_admin(settings, ensure_admin(settings))
    try:
        app = _app_factory(name)(settings)
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
        raise click.ClickException(
            f"{name}: cannot listen on {settings.host}:{port}: {exc}"
            f" (is something else using port {port}? try"
            " `toy-platform doctor`)"
        ) from exc


def _service_command(name: str, help_text: str) -> click.Command:
    @click.command(name=name, help=help_text)
    @common_options
    def command(settings: Settings) -> None:
        run_service(settings, name)

    return command


auth_command = _service_command("auth", "Run the auth service alone (login, JWKS).")
core_command = _service_command("core", "Run the core service alone (queue and workers).")
middleware_command = _service_command("middleware", "Run the middleware API alone.")
web_command = _service_command("web", "Serve the React web app alone.")


def dashboard_argv(settings: Settings) -> list[str]:
    app = resources.files("dashboard_streamlit").joinpath("app.py")
    return [
        sys.executable,
        "-m",
        "streamlit",
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
@common_options
def dashboard_command(settings: Settings) -> None:
    """Run the Streamlit dashboard alone."""
    import subprocess

    env = {**os.environ, **settings_to_env(settings)}
    raise SystemExit(subprocess.call(dashboard_argv(settings), env=env))


def child_specs(settings: Settings, web: bool, dashboard: bool) -> list[ChildSpec]:
    specs = [
        ChildSpec(
            name, service_argv(name), f"{settings.url_of(name)}/healthz", settings.url_of(name)
        )
        for name in ("auth", "core", "middleware")
    ]
    if web:
        specs.append(
            ChildSpec("web", service_argv("web"), f"{settings.web_url}/healthz", settings.web_url)
        )
    if dashboard:
        specs.append(
            ChildSpec(
                "dashboard",
                dashboard_argv(settings),
                f"{settings.dashboard_url}/_stcore/health",
                settings.dashboard_url,
            )
        )
    return specs


@click.command(name="serve")
@click.option("--no-web", is_flag=True, help="Do not start the React web app.")
@click.option("--no-dashboard", is_flag=True, help="Do not start the Streamlit dashboard.")
@common_options
def serve_command(settings: Settings, no_web: bool, no_dashboard: bool) -> None:
    """Start auth, core, middleware, the web app and the dashboard, and keep them running."""
    configure_logging(settings, "supervisor")
    announce_admin(settings, ensure_admin(settings))
    env = {**os.environ, **settings_to_env(settings), "PYTHONUNBUFFERED": "1"}
    # The services' every step is in their log files; the console shows what needs a look.
    env["TOY_PLATFORM_CONSOLE_LOG_LEVEL"] = settings.console_log_level or "WARNING"
    supervisor = Supervisor(settings, child_specs(settings, not no_web, not no_dashboard), env)

    def _terminate(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    try:
        failed = supervisor.start_all()
        _print_table(settings, supervisor)
        if failed:
            click.echo(
                f"Not answering yet: {', '.join(failed)} (see `toy-platform doctor`);"
                " the supervisor keeps restarting them.",
                err=True,
            )
        click.echo("Ready. Press Ctrl+C to stop.")
        supervisor.run()
    except KeyboardInterrupt:
        click.echo("Stopping...")
    finally:
        # A second Ctrl+C must not cut the shutdown short and leave children behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        supervisor.stop()


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
        mark = "up" if child.state == "running" else child.state
        click.echo(f"  {labels[name]:<22} {child.spec.url:<32} {mark}")
    click.echo(f"  {'Logs':<22} {settings.log_dir}")
    click.echo(f"  {'Users':<22} {Path(settings.users_file)}")
    click.echo("")
