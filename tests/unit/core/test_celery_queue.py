"""The Celery queue's parts: settings, callbacks, logs, doctor, events (a task run in this
process, with a redis-server of the tests' own as its broker)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from prometheus_client import CollectorRegistry
from redis import Redis
from support.harness import free_ports
from support.http_stub import HttpStub, Received
from support.redis_server import RedisServer, why_unavailable

from toy_platform.config import Settings, load_settings
from toy_platform.core.queues.base import QueueSetupError
from toy_platform.core.queues.celery.app import celery_app
from toy_platform.core.queues.celery.config import (
    DELIVER_CALLBACK,
    DELIVERED_TTL_S,
    RUN_JOB,
    copy_wait,
    visibility_timeout,
)
from toy_platform.core.queues.celery.tasks import WorkerState, _deliver, rebased
from toy_platform.core.queues.celery.worker import (
    WorkerSetupError,
    check_worker_settings,
    nodename,
)
from toy_platform.core.queues.choice import open_queue, queue_kind
from toy_platform.log import worker_log_name
from toy_platform.ops import logview, statusview
from toy_platform.ops.doctor import check_queue_broker
from toy_platform.security import verify_signature
from toy_platform.service import ServiceState
from toy_platform.tracing import REQUEST_ID_HEADER
from toy_platform.urls import mask_url
from unit.middleware.test_middleware import callback, submit


def test_broker_urls_are_shown_without_their_password() -> None:
    assert mask_url("redis://:s3cret@redis.lan:6379/0") == "redis://:***@redis.lan:6379/0"
    assert mask_url("redis://app:s3cret@10.0.0.5/1") == "redis://app:***@10.0.0.5/1"
    assert mask_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_the_visibility_timeout_is_the_same_on_every_host_and_outlasts_callback_waits(
    tmp_path: Path,
) -> None:
    """Each host once computed it from its own --job-delay: a worker with a short delay put a
    slower worker's running tasks back in the queue."""
    settings = load_settings(home=tmp_path, job_delay=2.0)
    assert visibility_timeout(settings) == 30.0
    assert visibility_timeout(settings.replace(job_delay=20.0)) == 30.0
    assert visibility_timeout(settings.replace(visibility_timeout=8.0)) == 8.0
    # A copy of a running job waits for it, but not so long that it looks lost itself.
    assert copy_wait(settings) == 15.0 and copy_wait(settings.replace(visibility_timeout=8.0)) == 4


def test_the_app_acks_late_and_hands_back_a_lost_workers_task(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, queue_url="redis://127.0.0.1:1/0", job_delay=1.0)
    conf = celery_app(settings).conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.worker_hijack_root_logger is False
    transport = conf.broker_transport_options
    assert transport["visibility_timeout"] == 30.0
    assert transport["unacked_restore_interval"] * transport["unacked_restore_throttle"] <= 5


def test_a_worker_reports_to_its_own_view_of_the_middleware() -> None:
    url = "http://127.0.0.1:6302/job_callback/abc?attempt=2"
    assert rebased(url, "http://api.lan:6302") == "http://api.lan:6302/job_callback/abc?attempt=2"
    assert rebased(url, "") == url


def test_node_names_and_their_log_files() -> None:
    assert nodename("alpha@box") == "alpha@box"
    assert nodename("alpha").startswith("celery@alpha")
    assert "%h" not in nodename("w1@%h")
    assert worker_log_name("w1@box.lan") == "worker-w1@box.lan"
    assert worker_log_name("a b/c@d") == "worker-a_b_c@d"


def test_a_worker_without_broker_or_service_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(WorkerSetupError, match="--queue-url redis://"):
        check_worker_settings(load_settings(home=tmp_path))
    with pytest.raises(WorkerSetupError, match="TOY_PLATFORM_SERVICE_KEY"):
        check_worker_settings(load_settings(home=tmp_path, queue_url="redis://h:6379/0"))
    key = tmp_path / "key"
    key.write_text("k")
    check_worker_settings(
        load_settings(home=tmp_path, queue_url="redis://h/0", service_key_file=key)
    )


def test_unknown_queue_urls_and_no_embedded_workers_are_refused(settings: Settings) -> None:
    svc = ServiceState("core", settings, b"key", CollectorRegistry())
    with pytest.raises(QueueSetupError, match="not a queue"):
        open_queue(settings.replace(queue_url="amqp://x"), svc)
    with pytest.raises(QueueSetupError, match="--workers 0"):
        open_queue(settings.replace(workers=0), svc)


@pytest.fixture
def stub() -> Iterator[HttpStub]:
    answers = {"/job_callback/ok": 200, "/job_callback/gone": 404, "/job_callback/bad": 400}
    server = HttpStub(lambda r: (answers.get(r.path.split("?")[0], 503), {"error": "x"}))
    try:
        yield server
    finally:
        server.close()


def test_callbacks_are_signed_and_classified(stub: HttpStub, settings: Settings) -> None:
    state = WorkerState(settings.replace(service_key="shared"))
    body = {"status": "succeeded", "worker": "w@h"}
    assert _deliver(state, f"{stub.url}/job_callback/ok?attempt=1", body, "rid-7") == "delivered"
    sent: Received = stub.received[0]
    assert sent.headers[REQUEST_ID_HEADER] == "rid-7"
    raw = json.dumps(sent.body).encode()
    assert verify_signature(b"shared", "POST", sent.path, sent.headers, raw)
    assert _deliver(state, f"{stub.url}/job_callback/gone", body, None).startswith("dropped")
    assert _deliver(state, f"{stub.url}/job_callback/bad", body, None).startswith("refused")
    assert _deliver(state, f"{stub.url}/job_callback/busy", body, None).startswith("retry")
    (port,) = free_ports(1)
    down = _deliver(state, f"http://127.0.0.1:{port}/job_callback/x", body, None)
    assert down.startswith(f"retry: cannot reach the middleware at http://127.0.0.1:{port}:")


def test_doctor_names_a_broker_that_does_not_answer(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    url = f"redis://:pw@127.0.0.1:{port}/0"
    (problem,) = check_queue_broker(load_settings(home=tmp_path, queue_url=url))
    assert f"Redis at redis://:***@127.0.0.1:{port}/0 is not answering" in problem.problem
    assert "pw" not in problem.problem
    assert check_queue_broker(load_settings(home=tmp_path)) == []


def test_logs_of_every_worker_are_read_as_the_worker_service(tmp_path: Path) -> None:
    for name, at in (("worker-a@x", "10:00:01"), ("worker-b@y", "10:00:00")):
        record = {"time": f"2026-01-01T{at}+00:00", "service": "worker", "event": name}
        (tmp_path / f"{name}.log").write_text(json.dumps(record) + "\n")
    records = list(logview.merged(tmp_path, logview.LogFilter(services=("worker",))))
    assert [r["event"] for r in records] == ["worker-b@y", "worker-a@x"]


def test_a_job_event_names_the_worker_that_ran_it(
    mw: FlaskClient, settings: Settings, tokens: dict[str, str]
) -> None:
    job_id = submit(mw, tokens["alice"]).get_json()["job_id"]
    answer = callback(mw, settings, job_id, {"status": "running", "worker": "w1@box"})
    assert answer.status_code == 200
    events = mw.get(f"/jobs/{job_id}", headers={"Authorization": f"Bearer {tokens['alice']}"})
    running = [e for e in events.get_json()["events"] if e["status"] == "running"]
    assert running[0]["detail"] == "on worker w1@box"
    too_long = callback(mw, settings, job_id, {"status": "succeeded", "worker": "w" * 300})
    assert too_long.status_code == 400 and too_long.get_json()["field"] == "worker"


def test_status_shows_the_celery_workers_and_a_broker_that_is_down() -> None:
    metrics = {
        "toy_platform_broker_up": 1.0,
        "toy_platform_celery_workers_online": 2.0,
        "toy_platform_workers_alive": 8.0,
        "toy_platform_queue_size": 5.0,
        "toy_platform_jobs_running": 3.0,
        "toy_platform_callbacks_pending": 1.0,
        "toy_platform_callbacks_waiting_retry": 2.0,
    }
    jobs = statusview.job_figures(None)
    lines = "\n".join(statusview.figure_lines(statusview.queue_figures(metrics), jobs))
    assert "2 Celery workers online, concurrency 8 (jobs they can run at once)" in lines
    assert "2 waiting for retry, 1 pending" in lines
    down = {"toy_platform_broker_up": 0.0, "toy_platform_celery_workers_online": 0.0}
    lines = "\n".join(statusview.figure_lines(statusview.queue_figures(down), jobs))
    assert "unknown (the Celery broker does not answer)" in lines
    assert "0 Celery workers online" in lines


def test_a_report_refused_for_good_is_replaced_by_a_failed_one(tmp_path: Path) -> None:
    def answer(request: Received) -> tuple[int, Any]:
        if request.body["status"] == "succeeded":
            return 400, {"error": "'result' is too long", "code": "invalid_field"}
        return 200, {}

    server = HttpStub(answer)
    try:
        settings = load_settings(
            home=tmp_path,
            queue_url="redis://127.0.0.1:1/0",
            service_key="shared",
            middleware_url=server.url,  # where this worker reports
        )
        task = celery_app(settings).tasks[DELIVER_CALLBACK]
        body = {"status": "succeeded", "result": "x", "worker": "w@h"}
        task.apply(args=(f"{server.url}/job_callback/j1?attempt=1", body))
        sent = [r.body for r in server.received]
        assert [b["status"] for b in sent] == ["succeeded", "failed"]
        assert "refused this job's report (succeeded): HTTP 400" in sent[1]["error"]
        assert sent[1]["worker"] == "w@h"
    finally:
        server.close()


@pytest.fixture
def middleware_stub() -> Iterator[HttpStub]:
    """A middleware that takes every report."""
    server = HttpStub(lambda request: (200, {}))
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A task keeps its run's marks in the broker: without them it does not start a job."""
    if why_unavailable() is not None:
        pytest.skip(str(why_unavailable()))
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    try:
        yield server
    finally:
        server.stop()


def _run_job_task(
    tmp_path: Path, middleware: HttpStub, broker: RedisServer
) -> list[dict[str, Any]]:
    """Run one job's task in this process, reporting to MIDDLEWARE; the reports it got."""
    Redis.from_url(broker.url).flushall()  # a run the broker knows done is not run again
    settings = load_settings(
        home=tmp_path,
        queue_url=broker.url,
        service_key="shared",
        job_delay=0,
        middleware_url=middleware.url,
    )
    task = celery_app(settings).tasks[RUN_JOB]
    result = task.apply(args=("j1", "hello", f"{middleware.url}/job_callback/j1?attempt=1"))
    assert result.successful(), result.traceback
    return [r.body for r in middleware.received]


def test_a_job_task_runs_the_job_and_reports_its_result(
    tmp_path: Path, middleware_stub: HttpStub, broker: RedisServer
) -> None:
    """The task, run in this process, goes through the domain's run rule to a report."""
    (sent,) = _run_job_task(tmp_path, middleware_stub, broker)
    assert (sent["status"], sent["result"]) == ("succeeded", "olleh")


def test_a_runs_marks_go_an_hour_after_its_report_was_delivered(
    tmp_path: Path, middleware_stub: HttpStub, broker: RedisServer
) -> None:
    """Every run's marks stayed a week: about 600 bytes a job, so a week of a busy platform
    in Redis. Once the report was taken they only drop a late copy of the task."""
    _run_job_task(tmp_path, middleware_stub, broker)
    redis = Redis.from_url(broker.url)
    for key in ("toy_platform:done:j1.1", "toy_platform:runs:j1.1"):
        assert 0 < redis.ttl(key) <= DELIVERED_TTL_S, key
    assert redis.get("toy_platform:done:j1.1") == b"1"


def test_a_task_that_breaks_off_still_reports_the_job_failed(
    tmp_path: Path, middleware_stub: HttpStub, monkeypatch: pytest.MonkeyPatch, broker: RedisServer
) -> None:
    """An error of the worker's own (not the job's) never ends in a silent acknowledgement:
    the job's owner sees it failed, and why."""
    from toy_platform.jobs import execution

    def broken(*args: object) -> dict[str, Any]:
        raise TypeError("a bug of ours")

    monkeypatch.setattr(execution, "run_job", broken)
    (sent,) = _run_job_task(tmp_path, middleware_stub, broker)
    assert sent["status"] == "failed"
    assert sent["error"] == "the worker failed while running the job: TypeError: a bug of ours"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("redis:/host:6390/0", "names no host"),
        ("redis://host:6379/zero", "the database is a number"),
    ],
)
def test_a_malformed_broker_url_is_refused_at_the_door(tmp_path: Path, url: str, says: str) -> None:
    settings = load_settings(home=tmp_path, queue_url=url)
    with pytest.raises(QueueSetupError, match=says):
        queue_kind(settings)
    with pytest.raises(WorkerSetupError, match=says):
        check_worker_settings(settings.replace(service_key="k"))


def test_a_kombu_that_ignores_the_restore_settings_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kombu.transport import redis as kombu_redis

    older = tuple(
        o
        for o in kombu_redis.Channel.from_transport_options
        if o not in ("unacked_restore_interval", "unacked_restore_throttle")
    )
    monkeypatch.setattr(kombu_redis.Channel, "from_transport_options", older)
    settings = load_settings(home=tmp_path, queue_url="redis://127.0.0.1:6379/0")
    with pytest.raises(QueueSetupError, match=r"pip install 'kombu>=5\.7'"):
        queue_kind(settings)


def test_a_worker_without_a_usable_middleware_url_is_refused(tmp_path: Path) -> None:
    settings = load_settings(
        home=tmp_path,
        queue_url="redis://127.0.0.1:6379/0",
        middleware_url="10.0.0.2:6302",
        service_key="k",
    )
    with pytest.raises(WorkerSetupError, match="--middleware-url '10.0.0.2:6302' is not an http"):
        check_worker_settings(settings)


def test_a_held_report_goes_where_the_platform_takes_reports_now(
    tmp_path: Path, middleware_stub: HttpStub
) -> None:
    """A report held for a retry carries the URL of the worker that ran the job: a worker
    with a wrong --middleware-url must not keep it pointed there once a right one takes it."""
    settings = load_settings(
        home=tmp_path,
        queue_url="redis://127.0.0.1:1/0",
        service_key="shared",
        middleware_url=middleware_stub.url,
    )
    task = celery_app(settings).tasks[DELIVER_CALLBACK]
    (port,) = free_ports(1)
    wrong = f"http://127.0.0.1:{port}/job_callback/j1?attempt=1"
    result = task.apply(args=(wrong, {"status": "succeeded", "result": "x"}))
    assert result.successful(), result.traceback
    (sent,) = middleware_stub.received
    assert sent.path == "/job_callback/j1?attempt=1"


def test_a_dead_workers_restore_lock_stops_restores_for_seconds_not_minutes(
    tmp_path: Path,
) -> None:
    """kombu's restore sweep takes a Redis lock that a worker dying mid-sweep holds until it
    expires: 300 s by default, during which no dead worker's job came back."""
    from kombu.transport import redis as kombu_redis

    settings = load_settings(home=tmp_path, queue_url="redis://127.0.0.1:1/0")
    options = celery_app(settings).conf.broker_transport_options
    honoured = kombu_redis.Channel.from_transport_options  # what kombu reads, not ignores
    for name in ("unacked_mutex_expire", "unacked_restore_interval", "unacked_restore_throttle"):
        assert name in options and name in honoured, name
    assert options["unacked_mutex_expire"] <= 15
    assert options["unacked_restore_interval"] * options["unacked_restore_throttle"] <= 5


def test_a_worker_that_stops_on_an_error_is_started_again_unless_a_stop_was_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from celery.worker import state

    from toy_platform.core.queues.celery import worker as worker_module

    monkeypatch.setattr(worker_module, "RESTART_FIRST_S", 0.01)
    made: list[Any] = []

    class Stub:
        exitcode = 1

        def __init__(self, crashed: BaseException | None) -> None:
            self.crashed = crashed

        def start(self) -> None:
            if len(made) == 3:  # the third stops as asked: Ctrl+C, or serve gone (exit code 0)
                monkeypatch.setattr(state, "should_stop", 0)

    def make() -> Stub:
        made.append(Stub(None if len(made) == 3 else AttributeError("hostname")))
        return made[-1]

    monkeypatch.setattr(state, "should_stop", None)
    assert worker_module.run_until_stopped(make) is made[2]
    assert len(made) == 3  # the stop asked of the third is not undone
