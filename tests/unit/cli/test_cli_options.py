"""Option groups, and the observing commands' settings taken from a running serve's record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from support.serve_fakes import Processes, child, write_record

from toy_platform.cli import cli
from toy_platform.cli.options import common_options, observing_options
from toy_platform.config import Settings


def show(settings: Settings) -> None:
    fields = ("core_port", "auth_port", "core_url", "auth_url", "log_dir", "config_dir", "host")
    click.echo(json.dumps({name: str(getattr(settings, name)) for name in fields}))


@click.command()
@common_options("dirs")
def dirs_only(settings: Settings) -> None:
    show(settings)


@click.command()
@common_options
def everything(settings: Settings) -> None:
    show(settings)


@click.command()
@observing_options("dirs", "addresses")
def observer(settings: Settings) -> None:
    show(settings)


def run(command: click.Command, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = CliRunner().invoke(command, list(args), env=env)
    assert result.exit_code == 0, result.output
    shown: dict[str, Any] = json.loads(result.output)
    return shown


def option_names(command: click.Command) -> set[str]:
    text = CliRunner().invoke(command, ["--help"]).output
    return {word for word in text.split() if word.startswith("--")}


def test_help_lists_only_the_groups_a_command_takes() -> None:
    assert option_names(dirs_only) == {
        "--home",
        "--config-dir",
        "--data-dir",
        "--log-dir",
        "--help",
    }
    every = option_names(everything)
    assert {"--job-delay", "--core-port", "--log-level", "--cors-origin"} <= every
    assert len(every) == 34  # every setting and --help


def subcommand(*path: str) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


@pytest.mark.parametrize("path", [("status",), ("doctor",), ("chaos", "pause")])
def test_observing_commands_list_dirs_and_addresses_only(path: tuple[str, ...]) -> None:
    names = option_names(subcommand(*path))
    assert {"--core-port", "--core-url", "--home", "--data-dir"} <= names
    assert not {"--job-delay", "--workers", "--log-level", "--token-ttl"} & names


def test_logs_and_chaos_kill_list_the_dirs_only() -> None:
    for path in (("logs",), ("chaos", "kill"), ("chaos", "stop")):
        names = option_names(subcommand(*path))
        assert "--home" in names and "--core-port" not in names


def test_hidden_options_and_their_variables_still_work(tmp_path: Path) -> None:
    shown = run(dirs_only, "--home", str(tmp_path), "--core-port", "7001")
    assert shown["core_port"] == "7001"
    shown = run(dirs_only, "--home", str(tmp_path), env={"TOY_PLATFORM_AUTH_PORT": "7002"})
    assert shown["auth_port"] == "7002"


def test_worker_help_lists_only_what_a_worker_uses() -> None:
    names = option_names(subcommand("worker"))
    assert {"--middleware-url", "--queue-url", "--concurrency", "--service-key-file"} <= names
    assert not {"--web-port", "--dashboard-port", "--auth-port", "--store-url"} & names
    for other in ("core", "middleware", "serve"):  # the others still list them
        assert {"--web-port", "--dashboard-port", "--auth-port"} <= option_names(subcommand(other))


@click.command()
@common_options("dirs", "addresses", hide=("--auth-port", "--auth-url"))
def without_auth(settings: Settings) -> None:
    show(settings)


def test_options_hidden_from_a_commands_help_are_still_accepted(tmp_path: Path) -> None:
    names = option_names(without_auth)
    assert "--core-port" in names and not {"--auth-port", "--auth-url"} & names
    shown = run(without_auth, "--home", str(tmp_path), "--auth-port", "7003")
    assert shown["auth_port"] == "7003"
    shown = run(without_auth, "--home", str(tmp_path), env={"TOY_PLATFORM_AUTH_URL": "http://a:1"})
    assert shown["auth_url"] == "http://a:1"


def test_hiding_an_unknown_option_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown options"):
        common_options("dirs", hide=("--no-such-option",))


def test_unknown_group_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown option groups"):
        common_options("nonsense")  # type: ignore[arg-type]


def recorded(tmp_path: Path) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "auth_port": 7100,
        "core_port": 7101,
        "middleware_port": 7102,
        "web_port": 7103,
        "dashboard_port": 7104,
        "auth_url": "http://127.0.0.1:7100",
        "core_url": "http://127.0.0.1:7101",
        "middleware_url": "http://127.0.0.1:7102",
        "web_url": "http://127.0.0.1:7103",
        "dashboard_url": "http://127.0.0.1:7104",
        "log_dir": str(tmp_path / "run-logs"),
        "data_dir": str(tmp_path / "home" / "data"),
        "config_dir": str(tmp_path / "elsewhere-config"),
    }


def test_settings_come_from_a_running_serve(tmp_path: Path, processes: Processes) -> None:
    home = tmp_path / "home"
    write_record(home / "data", processes.ours("serve"), settings=recorded(tmp_path))
    shown = run(observer, "--home", str(home))
    assert (shown["core_port"], shown["core_url"]) == ("7101", "http://127.0.0.1:7101")
    assert shown["log_dir"] == str(tmp_path / "run-logs")
    assert shown["config_dir"] == str(tmp_path / "elsewhere-config")


def test_explicit_options_and_variables_win(tmp_path: Path, processes: Processes) -> None:
    home = tmp_path / "home"
    write_record(home / "data", processes.ours("serve"), settings=recorded(tmp_path))
    shown = run(observer, "--home", str(home), "--core-port", "7201", "--log-dir", "x")
    assert (shown["core_port"], shown["core_url"]) == ("7201", "http://127.0.0.1:7201")
    assert shown["log_dir"] == "x"
    assert shown["auth_url"] == "http://127.0.0.1:7100"  # not given: still the record's
    env = {"TOY_PLATFORM_HOME": str(home), "TOY_PLATFORM_AUTH_URL": "http://auth.example:80"}
    shown = run(observer, env=env)
    assert shown["auth_url"] == "http://auth.example:80"
    assert shown["core_url"] == "http://127.0.0.1:7101"


def test_a_gone_serve_gives_its_log_dir_but_not_its_addresses(
    tmp_path: Path, processes: Processes
) -> None:
    home = tmp_path / "home"
    write_record(home / "data", processes.exited(), settings=recorded(tmp_path))
    shown = run(observer, "--home", str(home))
    assert shown["core_port"] == "6301"  # the default: nothing answers on the old ports
    assert shown["log_dir"] == str(tmp_path / "run-logs")  # its logs are still there


def test_a_record_whose_pid_is_another_program_is_not_a_running_serve(
    tmp_path: Path, processes: Processes
) -> None:
    home = tmp_path / "home"
    write_record(home / "data", processes.unrelated(), settings=recorded(tmp_path))
    assert run(observer, "--home", str(home))["core_port"] == "6301"


def test_a_record_without_settings_or_garbage_changes_nothing(
    tmp_path: Path, processes: Processes
) -> None:
    home = tmp_path / "home"
    write_record(home / "data", processes.ours("serve"))
    assert run(observer, "--home", str(home))["core_port"] == "6301"
    (home / "data" / "supervisor.json").write_text("[not, a, record")
    assert run(observer, "--home", str(home))["core_port"] == "6301"
    bad = {**recorded(tmp_path), "core_port": 99999, "core_url": 5, "log_dir": ""}
    write_record(home / "data", processes.ours("serve"), settings=bad)
    shown = run(observer, "--home", str(home))
    assert (shown["core_port"], shown["core_url"]) == ("6301", "http://127.0.0.1:6301")
    assert shown["log_dir"] == str(home / "logs")


def test_a_gone_serve_whose_services_still_run_gives_its_addresses(
    tmp_path: Path, processes: Processes
) -> None:
    home = tmp_path / "home"
    children = {"core": child(processes.ours("core"))}
    write_record(home / "data", processes.exited(), children, settings=recorded(tmp_path))
    assert run(observer, "--home", str(home))["core_port"] == "7101"
