"""Settings and the TOY_PLATFORM_* variables: named once, in config, both ways."""

from __future__ import annotations

from pathlib import Path

from toy_platform.config import (
    ENV_ONLY,
    load_settings,
    settings_from_env,
    settings_to_env,
)


def test_a_childs_environment_gives_it_the_same_settings(tmp_path: Path) -> None:
    settings = load_settings(
        home=tmp_path, core_port=7001, job_delay=0.5, queue_url="sqlite", log_level="DEBUG"
    )
    env = settings_to_env(settings)
    assert env["TOY_PLATFORM_CORE_PORT"] == "7001"
    assert env["TOY_PLATFORM_DATA_DIR"] == str(tmp_path / "data")
    names = ("config_dir", "data_dir", "log_dir", "core_port", "job_delay", "log_level")
    again = settings_from_env(env, names)
    for name in names:
        assert getattr(again, name) == getattr(settings, name), name


def test_serve_passes_its_request_threads_on_to_each_service(tmp_path: Path) -> None:
    env = settings_to_env(load_settings(home=tmp_path, threads=3))
    assert settings_from_env(env, ["threads"]).threads == 3


def test_the_admin_password_and_serves_facts_are_not_passed_on(tmp_path: Path) -> None:
    settings = load_settings(
        home=tmp_path, admin_password="p" * 12, instance_id="i-1", service_key="k" * 32
    )
    env = settings_to_env(settings)
    assert env["TOY_PLATFORM_SERVICE_KEY"] == "k" * 32  # every service signs with it
    for name in set(ENV_ONLY) - {"service_key"}:
        assert f"TOY_PLATFORM_{name.upper()}" not in env


def test_a_variable_of_the_wrong_type_keeps_the_default() -> None:
    settings = settings_from_env({"TOY_PLATFORM_AUTH_PORT": "not-a-port"}, ["auth_port"])
    assert settings.auth_port == load_settings().auth_port
