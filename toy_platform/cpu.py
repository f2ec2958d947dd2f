"""Keeping a busy service's threads on one CPU (`--cpu`).

Python runs one thread of a process at a time (the GIL), so a busy service's threads hand it
to each other thousands of times a second. Spread over the CPUs, each hand-over wakes a
thread on another CPU; on a virtual machine that is a trip through the hypervisor. Under 16
busy clients on 2 CPUs the middleware used 0.84 of a CPU while 0.4 stood idle; with its
threads on one CPU it used 0.95, and the platform completed about 1.5 times the jobs a
second (README, Performance).

`auto` keeps the two busy services that `toy-platform serve` starts on CPUs of their own:
the middleware on the last CPU this process may use, core on the one before. A service
started alone is left on any CPU under `auto`: several may share the machine (middlewares
on several ports), and only its operator knows which CPU each should have (`--cpu N`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import psutil

AUTO = "auto"
OFF = "off"

BUSY_SERVICES = ("middleware", "core")
"""Under serve, `auto` gives these CPUs from the last one down: the middleware the last."""

logger = logging.getLogger(__name__)


class CpuAffinity(Protocol):
    """What the OS lets a process say about the CPUs its threads run on."""

    def allowed(self) -> list[int]:
        """The CPUs this process may run on."""

    def pin(self, cpu: int) -> None:
        """Keep every thread of this process, and every one it starts later, on CPU."""


class LinuxAffinity:
    """Linux sets the CPUs of one thread at a time; a new thread gets its creator's."""

    def allowed(self) -> list[int]:
        return sorted(os.sched_getaffinity(0))

    def pin(self, cpu: int) -> None:
        for name in os.listdir("/proc/self/task"):
            try:
                os.sched_setaffinity(int(name), {cpu})
            except ProcessLookupError:  # the thread ended since the listing
                continue


class ProcessAffinity:
    """Windows (and the BSDs) set the CPUs of a whole process, through psutil."""

    def allowed(self) -> list[int]:
        return sorted(psutil.Process().cpu_affinity() or [])

    def pin(self, cpu: int) -> None:
        psutil.Process().cpu_affinity([cpu])


def affinity_of_this_os() -> CpuAffinity | None:
    """How this OS sets a process's CPUs; None where it cannot (macOS)."""
    if hasattr(os, "sched_setaffinity") and os.path.isdir("/proc/self/task"):
        return LinuxAffinity()
    if hasattr(psutil.Process, "cpu_affinity"):
        return ProcessAffinity()
    return None


@dataclass(frozen=True)
class Placement:
    """Where a service's threads run, and why; `as_asked` is False when the setting could
    not be followed (the service then runs on any CPU, and says so at WARNING)."""

    cpu: int | None
    reason: str
    as_asked: bool = True


def parse_cpu_setting(value: str) -> str:
    """AUTO, OFF or a CPU number (as text); ValueError names what is accepted."""
    text = value.strip().lower()
    if text in (AUTO, OFF) or (text.isdigit() and text.isascii()):
        return str(int(text)) if text.isdigit() else text
    raise ValueError(f"'{value}' is not auto, off or a CPU number (0, 1, ...)")


def place_service(
    setting: str,
    service: str,
    supervised: bool,
    affinity_of: Callable[[], CpuAffinity | None] = affinity_of_this_os,
) -> Placement:
    """Keep SERVICE's threads on the CPU that SETTING (AUTO, OFF or a number) names, if
    the OS allows it. SUPERVISED: started by serve, the only case where AUTO pins.
    AFFINITY_OF: the OS's way (a seam: tests play macOS, or a refusal, on any OS)."""
    try:
        setting = parse_cpu_setting(setting)
    except ValueError as exc:
        return Placement(None, f"cpu: {exc}; threads run on any CPU", as_asked=False)
    if setting == OFF:
        return Placement(None, "cpu=off: threads run on any CPU")
    if setting == AUTO and service not in BUSY_SERVICES:
        return Placement(None, f"cpu=auto leaves {service} on any CPU (it is seldom busy)")
    if setting == AUTO and not supervised:
        return Placement(
            None,
            f"cpu=auto leaves {service} on any CPU when it runs alone (others may share"
            " this machine); --cpu N keeps its threads on CPU N",
        )
    affinity = affinity_of()
    explicit = setting != AUTO
    if affinity is None:
        return Placement(
            None,
            "this OS cannot keep a process's threads on one CPU; they run on any",
            as_asked=not explicit,
        )
    try:
        allowed = affinity.allowed()
    except (OSError, psutil.Error) as exc:
        return Placement(None, f"cannot tell which CPUs may be used ({exc}); any CPU", False)
    cpu = int(setting) if explicit else _auto_cpu(service, allowed)
    if cpu is None:
        return Placement(None, f"cpu=auto: this process may use {_cpu_list(allowed)} only")
    if cpu not in allowed:
        return Placement(
            None,
            f"CPU {cpu} is not one this process may use ({_cpu_list(allowed)});"
            " threads run on any CPU",
            as_asked=False,
        )
    try:
        affinity.pin(cpu)
    except (OSError, psutil.Error) as exc:
        return Placement(None, f"could not keep threads on CPU {cpu} ({exc}); any CPU", False)
    return Placement(cpu, f"threads kept on CPU {cpu} (cpu={setting})")


def _auto_cpu(service: str, allowed: Sequence[int]) -> int | None:
    rank = BUSY_SERVICES.index(service)
    if len(allowed) <= rank or len(allowed) < 2:
        return None
    return allowed[-1 - rank]


def _cpu_list(cpus: Sequence[int]) -> str:
    return "CPUs " + ", ".join(str(cpu) for cpu in cpus) if cpus else "none known"


def allowed_cpus() -> list[int] | None:
    """The CPUs this thread may run on now; None where the OS cannot tell (macOS)."""
    affinity = affinity_of_this_os()
    if affinity is None:
        return None
    try:
        return affinity.allowed()
    except (OSError, psutil.Error):
        return None


def log_placement(service: str, placement: Placement) -> None:
    logger.log(
        logging.INFO if placement.as_asked else logging.WARNING,
        "%s: %s",
        service,
        placement.reason,
        extra={"event": "cpu_placement", "cpu": placement.cpu},
    )
