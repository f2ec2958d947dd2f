"""Who holds a port, and whether it is free: what serve and doctor ask before they blame."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import psutil
import pytest
from support.harness import free_ports

from toy_platform.ops import processes


@pytest.fixture
def listening_port() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def test_port_owner_names_the_process(listening_port: int) -> None:
    owner = processes.port_owner(listening_port)
    assert owner is not None
    assert not owner.ours  # pytest is not one of our programs
    if owner.pid is not None:  # some systems hide it
        assert owner.pid == os.getpid()
        assert f"PID {os.getpid()}" in owner.description


def test_port_owner_of_a_free_port() -> None:
    assert processes.port_owner(free_ports(1)[0]) is None


@pytest.mark.parametrize(
    ("args", "ours"),
    [
        (["/usr/bin/python3", "-m", "toy_platform", "core"], True),
        (["/home/x/.venv/bin/toy-platform", "serve"], True),
        (["C:\\venv\\Scripts\\toy-platform.exe", "serve"], True),
        (["python", "-m", "streamlit", "run", "/site/dashboard_streamlit/app.py"], True),
        (["/home/toy_platform/.venv/bin/python", "-m", "http.server", "6301"], False),
        (["nginx", "-g", "daemon off;"], False),
    ],
)
def test_is_our_program(args: list[str], ours: bool) -> None:
    assert processes.is_our_program(args) is ours


def _no_system_wide_view(*args: object, **kwargs: object) -> None:
    raise psutil.AccessDenied()  # what a user who is not root gets on macOS


def test_without_root_a_port_of_our_own_process_is_still_named(
    listening_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(psutil, "net_connections", _no_system_wide_view)
    owner = processes.port_owner(listening_port)
    assert owner is not None and owner.pid == os.getpid()
    assert f"PID {os.getpid()}" in owner.description


def test_without_root_a_free_port_is_free(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(psutil, "net_connections", _no_system_wide_view)
    assert processes.port_owner(free_ports(1)[0]) is None


def test_without_root_a_port_nobody_of_ours_holds_is_somebody_elses(
    listening_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(psutil, "net_connections", _no_system_wide_view)
    monkeypatch.setattr(psutil, "process_iter", lambda *a, **k: iter(()))  # another user's
    owner = processes.port_owner(listening_port)
    assert owner is not None and owner.pid is None
    assert "the OS did not say which" in owner.description
