"""Keeping a service's threads on one CPU: which CPU each setting gives, what happens where the
OS cannot or will not, and (on Linux and Windows) that the threads really stay there."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap

import psutil
import pytest
from click.testing import CliRunner

from toy_platform import cpu
from toy_platform.cli import cli
from toy_platform.cpu import Placement, place_service


class FakeAffinity:
    """The OS's side, as a test wants it: the CPUs allowed, and a pin that may be refused."""

    def __init__(self, allowed: list[int], refuse: Exception | None = None) -> None:
        self._allowed = allowed
        self.refuse = refuse
        self.pinned: list[int] = []

    def allowed(self) -> list[int]:
        return self._allowed

    def pin(self, cpu: int) -> None:
        if self.refuse is not None:
            raise self.refuse
        self.pinned.append(cpu)


def place(
    setting: str, service: str, fake: FakeAffinity | None, supervised: bool = True
) -> Placement:
    return place_service(setting, service, supervised, affinity_of=lambda: fake)


@pytest.mark.parametrize(
    ("allowed", "middleware", "core"),
    [([0, 1], 1, 0), ([0, 1, 2, 3], 3, 2), ([2, 5, 7], 7, 5)],
)
def test_auto_under_serve_gives_the_middleware_the_last_cpu_and_core_the_one_before(
    allowed: list[int], middleware: int, core: int
) -> None:
    for service, expected in (("middleware", middleware), ("core", core)):
        fake = FakeAffinity(allowed)
        placement = place("auto", service, fake)
        assert (placement.cpu, fake.pinned, placement.as_asked) == (expected, [expected], True)
        assert f"CPU {expected}" in placement.reason


@pytest.mark.parametrize("service", ["auth", "web"])
def test_auto_leaves_the_seldom_busy_services_on_any_cpu(service: str) -> None:
    fake = FakeAffinity([0, 1])
    placement = place("auto", service, fake)
    assert (placement.cpu, fake.pinned, placement.as_asked) == (None, [], True)


def test_auto_leaves_a_service_run_alone_on_any_cpu_and_says_how_to_pin_it() -> None:
    """Several middlewares may share a machine (one a port): auto would put them all on the
    last CPU."""
    fake = FakeAffinity([0, 1])
    placement = place("auto", "middleware", fake, supervised=False)
    assert (placement.cpu, fake.pinned, placement.as_asked) == (None, [], True)
    assert "--cpu N" in placement.reason


def test_auto_with_one_cpu_allowed_pins_nothing() -> None:
    fake = FakeAffinity([3])
    placement = place("auto", "middleware", fake)
    assert (placement.cpu, fake.pinned, placement.as_asked) == (None, [], True)
    assert "CPUs 3 only" in placement.reason


def test_off_pins_nothing() -> None:
    fake = FakeAffinity([0, 1])
    placement = place("off", "middleware", fake)
    assert (placement.cpu, fake.pinned, placement.as_asked) == (None, [], True)


def test_a_cpu_number_pins_any_service_even_run_alone() -> None:
    fake = FakeAffinity([0, 1, 2])
    placement = place("2", "auth", fake, supervised=False)
    assert (placement.cpu, fake.pinned, placement.as_asked) == (2, [2], True)


def test_a_cpu_the_process_may_not_use_is_a_warning_not_a_failure_to_start() -> None:
    fake = FakeAffinity([0, 1])
    placement = place("7", "middleware", fake)
    assert (placement.cpu, fake.pinned, placement.as_asked) == (None, [], False)
    assert "CPU 7 is not one this process may use (CPUs 0, 1)" in placement.reason


@pytest.mark.parametrize(
    "refusal", [PermissionError(1, "Operation not permitted"), psutil.AccessDenied(1)]
)
def test_a_refused_pin_leaves_the_service_running_on_any_cpu(refusal: Exception) -> None:
    fake = FakeAffinity([0, 1], refuse=refusal)
    placement = place("auto", "middleware", fake)
    assert (placement.cpu, placement.as_asked) == (None, False)
    assert "could not keep threads on CPU 1" in placement.reason


def test_an_os_without_a_way_macos_runs_on_any_cpu() -> None:
    auto = place("auto", "middleware", None)
    assert (auto.cpu, auto.as_asked) == (None, True)  # nothing was promised
    assert "this OS cannot" in auto.reason
    explicit = place("1", "middleware", None)
    assert (explicit.cpu, explicit.as_asked) == (None, False)  # asked for, not done: a warning


def test_a_setting_that_is_neither_auto_off_nor_a_number_is_named() -> None:
    placement = place("fast", "middleware", FakeAffinity([0, 1]))
    assert (placement.cpu, placement.as_asked) == (None, False)
    assert "'fast' is not auto, off or a CPU number" in placement.reason


def test_the_placement_is_logged_a_warning_when_not_as_asked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="toy_platform.cpu"):
        cpu.log_placement("middleware", Placement(1, "threads kept on CPU 1 (cpu=auto)"))
        cpu.log_placement("core", Placement(None, "CPU 7 is not one ...", as_asked=False))
    assert [(r.levelno, r.event, r.cpu) for r in caplog.records] == [  # type: ignore[attr-defined]
        (logging.INFO, "cpu_placement", 1),
        (logging.WARNING, "cpu_placement", None),
    ]


def test_the_option_takes_auto_off_or_a_number() -> None:
    runner = CliRunner()
    refused = runner.invoke(cli, ["middleware", "--cpu", "fast"])
    assert refused.exit_code == 2
    assert "'fast' is not auto, off or a CPU number" in refused.output
    from_env = runner.invoke(cli, ["middleware"], env={"TOY_PLATFORM_CPU": "-1"})
    assert from_env.exit_code == 2
    assert "'-1' is not auto, off or a CPU number" in from_env.output


def test_serve_refuses_a_cpu_number(tmp_path: os.PathLike[str]) -> None:
    """One CPU for every service serve starts would be the slowest choice of all."""
    result = CliRunner().invoke(cli, ["serve", "--home", str(tmp_path), "--cpu", "1"])
    assert result.exit_code == 2
    assert "a CPU number is for a service run alone" in result.output


def test_each_os_has_its_way() -> None:
    """Linux: thread by thread; Windows: the whole process; macOS: none."""
    affinity = cpu.affinity_of_this_os()
    if sys.platform.startswith("linux"):
        assert isinstance(affinity, cpu.LinuxAffinity)
    elif sys.platform == "win32":
        assert isinstance(affinity, cpu.ProcessAffinity)
    elif sys.platform == "darwin":
        assert affinity is None
        assert cpu.allowed_cpus() is None


PIN_SCRIPT = textwrap.dedent(
    """
    import json, os, sys, threading
    from toy_platform import cpu
    affinity = getattr(cpu, sys.argv[1])()
    target = affinity.allowed()[-1]
    seen = {}
    go = threading.Event()
    def report(name):
        go.wait()
        seen[name] = cpu.allowed_cpus()
    before = threading.Thread(target=report, args=("started before",))
    before.start()
    affinity.pin(target)
    after = threading.Thread(target=report, args=("started after",))
    after.start()
    go.set(); before.join(); after.join()
    seen["main"] = cpu.allowed_cpus()
    print(json.dumps({"target": target, "seen": seen}))
    """
)


@pytest.mark.skipif(cpu.affinity_of_this_os() is None, reason="this OS has no way (macOS)")
def test_every_thread_stays_on_the_cpu_those_started_before_and_after() -> None:
    """In a process of its own: this one's threads stay where they were."""
    way = type(cpu.affinity_of_this_os()).__name__
    result = subprocess.run(
        [sys.executable, "-c", PIN_SCRIPT, way], capture_output=True, text=True, check=True
    )
    answer = json.loads(result.stdout)
    target = answer["target"]
    assert answer["seen"] == {
        "started before": [target],
        "started after": [target],
        "main": [target],
    }
