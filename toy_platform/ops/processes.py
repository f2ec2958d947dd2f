"""Processes and ports as the operator side sees them, on every OS: who holds a port,
whether a port is free, and stopping processes left behind."""

from __future__ import annotations

import socket
import sys
from dataclasses import dataclass
from typing import Any

import psutil

from toy_platform.ops import serve_record


@dataclass(frozen=True)
class PortOwner:
    """The process listening on a port, as far as the OS lets us see it."""

    pid: int | None
    description: str
    ours: bool


def port_owner(port: int) -> PortOwner | None:
    """Who listens on PORT (None: nobody); the pid may be hidden by the OS."""
    try:
        connections = psutil.net_connections(kind="tcp")
    except (psutil.AccessDenied, OSError):
        return _owner_among_ours(port)
    for conn in connections:
        if _listens_on(conn, port):
            return describe_process(conn.pid) if conn.pid else _unknown_owner(port)
    return None


def _owner_among_ours(port: int) -> PortOwner | None:
    """port_owner where the OS shows every process's sockets only to root (macOS): the
    user's own processes' sockets, else a bind test (free, or someone else's)."""
    for process in psutil.process_iter():
        try:
            list_connections = getattr(process, "net_connections", None) or process.connections
            if any(_listens_on(conn, port) for conn in list_connections(kind="tcp")):
                return describe_process(process.pid)
        except (psutil.Error, OSError):
            continue
    return None if _nobody_listens(port) else _unknown_owner(port)


def _listens_on(conn: Any, port: int) -> bool:
    return bool(conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port)


def _nobody_listens(port: int) -> bool:
    """Whether PORT is free on every address (a bind to the wildcard address succeeds)."""
    return port_free("0.0.0.0", port) and (not socket.has_ipv6 or port_free("::", port))


def describe_process(pid: int) -> PortOwner:
    """`PID 1234 nginx: nginx -g daemon off;` and whether it is one of ours."""
    try:
        process = psutil.Process(pid)
        args = process.cmdline()
        name = process.name()
    except (psutil.Error, OSError):
        return PortOwner(pid, f"PID {pid}", False)
    command = " ".join(" ".join(args).split())
    return PortOwner(pid, f"PID {pid} {name}: {command[:120]}", is_our_program(args))


def is_our_program(args: list[str]) -> bool:
    """True for `python -m toy_platform ...`, `toy-platform ...` and our Streamlit dashboard."""
    return serve_record.our_command(args) is not None


def _unknown_owner(port: int) -> PortOwner:
    how = f"`lsof -i :{port}` or `netstat -ano | findstr :{port}`"
    return PortOwner(None, f"the OS did not say which; see {how}", False)


def port_free(host: str, port: int) -> bool:
    """Whether a service could listen on HOST:PORT now (binding it as waitress does)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except OSError:
        return True  # a host that does not resolve: the service will say so itself
    with socket.socket(family, kind, proto) as sock:
        if sys.platform != "win32":  # POSIX: a closed connection's TIME_WAIT holds nothing
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError:
            return False
    return True


def stop_processes(
    processes: list[psutil.Process], leftover_grace_s: float = 2.0, stop_grace_s: float = 5.0
) -> None:
    """Let them exit on their own (they watch their supervisor), else stop them."""
    _, alive = psutil.wait_procs(processes, timeout=leftover_grace_s)
    for process in alive:
        _signal(process, stop=True)
    _, alive = psutil.wait_procs(alive, timeout=stop_grace_s)
    for process in alive:
        _signal(process, stop=False)
    psutil.wait_procs(alive, timeout=stop_grace_s)


def _signal(process: psutil.Process, stop: bool) -> None:
    try:
        if stop:
            process.terminate()
            process.resume()  # a frozen (SIGSTOP) process acts on the signal only once resumed
        else:
            process.kill()
    except (psutil.Error, OSError):
        pass
