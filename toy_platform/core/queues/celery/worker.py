"""`toy-platform worker`: a Celery worker for the platform's tasks, on any machine.

It needs the broker's URL (--queue-url redis://...), the middleware's URL it reports to
(--middleware-url, or --callback-url), and the service key its callbacks are signed
with: TOY_PLATFORM_SERVICE_KEY, --service-key-file, or config/service.key of --config-dir.
Ctrl+C is a warm shutdown: running jobs finish (or, if stopped harder, go back to the
queue, unacknowledged), and tasks it had taken but not started go back at once.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from toy_platform.config import Settings, address_problem
from toy_platform.core.queues.celery.app import celery_app
from toy_platform.core.queues.celery.config import (
    CALLBACKS_QUEUE,
    JOBS_QUEUE,
    WORKER_TYPES_EVERY_S,
    WORKER_TYPES_KEY,
    WORKER_TYPES_TTL_S,
    broker_client,
    celery_url_problem,
    default_pool,
    is_celery_url,
    jobs_queue,
    kombu_problem,
    visibility_timeout,
)
from toy_platform.jobs.types import JobModuleError, JobType, JobTypeError, load_job_types
from toy_platform.lifeline import EXIT_SUPERVISOR_GONE, WATCH_INTERVAL_S, same_process
from toy_platform.log import configure_logging, worker_log_name
from toy_platform.loops import describe
from toy_platform.security import SERVICE_KEY_FILE
from toy_platform.urls import mask_url

logger = logging.getLogger(__name__)
POOLS = ("prefork", "threads", "solo")
RESTART_FIRST_S = 1.0
RESTART_MAX_S = 30.0
RESTART_RESET_S = 60.0
"""A worker that ran this long before it stopped on an error is started again after
RESTART_FIRST_S; one that keeps stopping waits twice as long each time, up to RESTART_MAX_S."""


class WorkerSetupError(Exception):
    """The worker cannot start; the message says what to give it."""


@dataclass(frozen=True)
class WorkerOptions:
    concurrency: int | None = None
    hostname: str | None = None
    pool: str | None = None


def nodename(hostname: str | None) -> str:
    """Celery's node name: NAME@HOST; `%h` is this machine's host name; default celery@HOST."""
    host = socket.gethostname()
    name = (hostname or "celery@%h").replace("%h", host).replace("%n", host.split(".")[0])
    return name if "@" in name else f"celery@{name}"


def check_worker_settings(settings: Settings) -> None:
    """Refuse, with what to do, a worker that could not work: no broker, a broker URL or
    kombu that cannot work, nowhere to report to, or no service key."""
    if not is_celery_url(settings.queue_url):
        raise WorkerSetupError(
            f"a worker needs the platform's Celery broker: --queue-url redis://HOST:6379/0"
            f" (or TOY_PLATFORM_QUEUE_URL), not {mask_url(settings.queue_url)!r}; with the"
            " embedded sqlite queue, the workers run inside core"
        )
    problem = celery_url_problem(settings.queue_url) or kombu_problem() or address_problem(settings)
    if problem:
        raise WorkerSetupError(problem)
    key_file = settings.config_dir / SERVICE_KEY_FILE
    if settings.service_key or settings.service_key_file or key_file.exists():
        return
    raise WorkerSetupError(
        "a worker needs the platform's service key to sign its callbacks: set"
        " TOY_PLATFORM_SERVICE_KEY, or give --service-key-file with a copy of"
        f" {SERVICE_KEY_FILE} from the API machine's config dir (none at {key_file})"
    )


def run_worker(settings: Settings, options: WorkerOptions) -> int:
    """Run a Celery worker in this process until it is stopped; its exit code."""
    check_worker_settings(settings)
    try:
        types = load_job_types(settings.job_modules)
    except (JobModuleError, JobTypeError) as exc:
        raise WorkerSetupError(str(exc)) from exc
    name = nodename(options.hostname)
    configure_logging(settings, "worker", log_name=worker_log_name(name), fields={"worker": name})
    _keep_our_logging()
    _watch_parent(settings)
    pool = options.pool or default_pool()
    concurrency = options.concurrency or os.cpu_count() or 1
    queues = [JOBS_QUEUE, CALLBACKS_QUEUE] + sorted({jobs_queue(t) for t in types} - {JOBS_QUEUE})
    _announce(settings, name, pool, concurrency)
    _offer_types(settings, name, types)

    def make_worker() -> Any:
        return _kept_worker_class(celery_app(settings))(
            hostname=name,
            pool_cls=pool,
            concurrency=concurrency,
            queues=queues,
            loglevel=settings.log_level,
            optimization="fair",
            without_mingle=True,
            without_gossip=True,
            quiet=True,
        )

    worker = run_until_stopped(make_worker)
    logger.info("worker %s stopped", name, extra={"event": "worker_stopped"})
    return int(worker.exitcode or 0)


def run_until_stopped(make_worker: Callable[[], Any]) -> Any:
    """Run a worker made by MAKE_WORKER; while one stops on an error of its own (a broker
    library's bug, say), start a new one after a back-off: the last worker, once one stops
    because it was asked to."""
    from celery.worker import state

    restarts = 0
    while True:
        started = time.monotonic()
        worker = make_worker()
        worker.start()
        if worker.crashed is None or _stop_asked(state):
            return worker
        restarts = 0 if time.monotonic() - started > RESTART_RESET_S else restarts + 1
        delay = min(RESTART_MAX_S, RESTART_FIRST_S * 2 ** max(0, restarts - 1))
        error = describe(worker.crashed)
        logger.error(
            "the worker stopped on an error of its own (%s): started again in %g s",
            error,
            delay,
            extra={"event": "worker_restarted", "error": error, "restarts": restarts},
        )
        time.sleep(delay)
        if _stop_asked(state):
            return worker


def _stop_asked(state: Any) -> bool:
    """Whether a shutdown was asked for (Celery's own test: an exit code 0 is one too)."""
    return any(
        asked is not None and asked is not False
        for asked in (state.should_stop, state.should_terminate)
    )


def _kept_worker_class(app: Any) -> Any:
    """APP's worker, noting an error that stops it (Celery logs it 'Unrecoverable error' and
    exits with 1, as it does on Ctrl+C), so that run_worker starts it again."""

    class KeptWorker(app.Worker):  # type: ignore[misc]
        crashed: BaseException | None = None

        def start(self) -> None:
            start_blueprint = self.blueprint.start

            def start_noting_crash(parent: Any) -> None:
                try:
                    start_blueprint(parent)
                except Exception as exc:  # a shutdown asked for is SystemExit: not caught
                    self.crashed = exc
                    raise

            self.blueprint.start = start_noting_crash
            super().start()

    return KeptWorker


def _watch_parent(settings: Settings) -> None:
    """Under serve (or core), stop warmly when that process is gone: running jobs finish,
    taken ones go back; exit hard only if that takes far longer than a job."""
    pid = settings.supervisor_pid
    if pid is None:
        return
    parent = same_process(pid)
    if parent is None:
        raise WorkerSetupError(f"the process that started this worker (PID {pid}) is gone")
    created = parent.create_time()

    def watch() -> None:
        stop = threading.Event()
        while not stop.wait(WATCH_INTERVAL_S):
            if same_process(pid, created) is None:
                break
        logger.warning(
            "the process that started this worker (PID %d) is gone: stopping",
            pid,
            extra={"event": "supervisor_gone", "supervisor_pid": pid},
        )
        from celery.worker import state

        state.should_stop = 0  # what Ctrl+C does: a warm shutdown
        if not stop.wait(settings.job_delay + 30):
            logging.shutdown()
            os._exit(EXIT_SUPERVISOR_GONE)

    threading.Thread(target=watch, name="supervisor-watch", daemon=True).start()


def _offer_types(settings: Settings, name: str, types: dict[str, JobType]) -> None:
    """Say in the broker, while this worker runs, which job types it offers (core's
    /job_types reads it; a worker gone stops offering them within WORKER_TYPES_TTL_S)."""
    offered = json.dumps([t.describe() for t in types.values()])
    key = WORKER_TYPES_KEY.format(name)

    def offer() -> None:
        redis = broker_client(settings.queue_url)
        while True:
            try:
                redis.set(key, offered, ex=WORKER_TYPES_TTL_S)
            except Exception as exc:  # the broker is down: said again once it is back
                logger.debug("cannot offer the job types now: %s", exc)
            time.sleep(WORKER_TYPES_EVERY_S)

    threading.Thread(target=offer, name="offer-job-types", daemon=True).start()
    logger.info(
        "job types offered: %s",
        ", ".join(sorted(types)),
        extra={"event": "job_types_offered", "job_types": sorted(types)},
    )


def _keep_our_logging() -> None:
    """Celery sets up logging only when nobody answers its setup_logging signal: ours is set."""
    from celery import signals

    def _ours(**_kwargs: Any) -> None:
        return None

    signals.setup_logging.connect(_ours, weak=False)


def _announce(settings: Settings, name: str, pool: str, concurrency: int) -> None:
    from celery import signals

    def _ready(**_kwargs: Any) -> None:
        logger.info(
            "worker %s ready: %d at once (%s pool), broker %s, reporting to %s",
            name,
            concurrency,
            pool,
            mask_url(settings.queue_url),
            settings.callback_url,
            extra={
                "event": "worker_ready",
                "concurrency": concurrency,
                "pool": pool,
                "broker": mask_url(settings.queue_url),
                "visibility_timeout_s": visibility_timeout(settings),
            },
        )

    signals.worker_ready.connect(_ready, weak=False)
