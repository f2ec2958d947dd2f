from __future__ import annotations

import itertools
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.harness import Platform
from support.pg_cluster import Cluster, find_bin_dir, why_unavailable

_counter = itertools.count()


def pytest_configure(config: pytest.Config) -> None:
    """A shell that starts the tests in the background (`cmd &` in a script) has them ignore
    SIGINT, and every service they start inherits that: Ctrl+C could not stop `serve`, and
    the tests that press it timed out. The services get SIGINT's default back."""
    if hasattr(signal, "SIGINT") and signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """The whole platform under `toy-platform serve`, web app and dashboard included."""
    running = Platform(tmp_path_factory.mktemp("platform"), job_delay=0.2, web=True, dashboard=True)
    try:
        yield running.serve()
    finally:
        running.stop()


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Platform]:
    """Auth, core and middleware run one by one, so a test can kill and restart each."""
    platform = Platform(tmp_path, job_delay=0.2)
    try:
        yield platform.start_all_services()
    finally:
        platform.stop()


@pytest.fixture
def unique_name() -> str:
    """A user name no other test uses, so tests can share one platform."""
    return f"user{next(_counter)}"


@pytest.fixture
def artifacts_dir() -> Path:
    path = Path(__file__).resolve().parent.parent / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """A PostgreSQL cluster of the tests' own, on a free loopback port, stopped at the end;
    the tests that need it are skipped (with the reason) where PostgreSQL cannot be had."""
    reason = why_unavailable()
    if reason:
        pytest.skip(reason)
    bin_dir = find_bin_dir()
    assert bin_dir is not None
    cluster = Cluster(bin_dir).start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_url(pg_cluster: Cluster) -> str:
    """The URL (password included) of a new, empty database in the tests' cluster."""
    return pg_cluster.create_database(f"t{next(_counter)}")
