"""What core knows of its Celery broker and workers, kept fresh by a background thread.

Every POLL_S seconds: is Redis answering, and which workers answer a broadcast (Celery's
inspect, with a short timeout)? /readyz, /queue_size and /metrics read the cached answer,
so they stay fast whatever the broker does. With --workers N, core also runs a local worker.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from toy_platform.config import Settings, settings_to_env
from toy_platform.core.queues.celery.config import (
    CALLBACKS_QUEUE,
    ENQUEUED_AT,
    JOBS_QUEUE,
    OUTCOMES_KEY,
    describe_broker_error,
)
from toy_platform.core.queues.celery.waiting import WAITING_KEY
from toy_platform.lifeline import ask_to_stop, spawn

logger = logging.getLogger(__name__)

POLL_S = 2.0
INSPECT_TIMEOUT_S = 1.0
STATS_EVERY_S = 10.0
FORGET_AFTER_S = 600.0
"""A worker not seen for this long is no longer listed."""


@dataclass
class WorkerSeen:
    hostname: str
    concurrency: int | None
    active: int | None
    last_seen: str
    online: bool
    seen_at: float = 0.0


class BrokerWatch:
    """The broker's and the workers' state, polled in the background."""

    def __init__(self, app: Any, redis: Any, url: str) -> None:
        self.app, self.redis, self.url = app, redis, url
        self._broker_error: str | None = "not checked yet"
        self._workers: dict[str, WorkerSeen] = {}
        self._stats_at = 0.0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.check()
        self._thread = threading.Thread(target=self._run, name="broker-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()

    def _run(self) -> None:
        # While no worker answers, ask again at once (each ask waits INSPECT_TIMEOUT_S):
        # a worker that just started is seen within a second or so.
        while not self._stopping.wait(POLL_S if self.workers_problem() is None else 0.1):
            try:
                self.check()
            except Exception:  # never let the watch die: /readyz would go stale
                logger.exception("checking the broker failed", extra={"event": "broker_check"})

    # -- checking ---------------------------------------------------------------

    def check(self) -> None:
        try:
            self.redis.ping()
            active = self._ask("active") or {}
        except Exception as exc:  # the broker went away: that is the reason, not the workers
            self._broker_down(describe_broker_error(exc))
            return
        if self._broker_error is not None and self._broker_error != "not checked yet":
            logger.warning(
                "the broker at %s answers again", self.url, extra={"event": "broker_reachable"}
            )
        self._broker_error = None
        self._see_workers(active)

    def _broker_down(self, error: str) -> None:
        if self._broker_error != error:
            logger.warning(
                "cannot reach the broker at %s: %s",
                self.url,
                error,
                extra={"event": "broker_unreachable", "broker": self.url, "reason": error},
            )
        self._broker_error = error
        with self._lock:
            for worker in self._workers.values():
                worker.online = False

    def _ask(self, method: str, names: list[str] | None = None) -> dict[str, Any] | None:
        """The workers' answers to an inspect METHOD (raises when the broker fails)."""
        # A connection of its own each time: a pooled one may be stale after Redis restarted
        # (the broadcast then got no reply, and live workers looked gone).
        with self.app.connection_for_write() as connection:
            inspect = self.app.control.inspect(
                timeout=INSPECT_TIMEOUT_S, destination=names, connection=connection
            )
            answer: dict[str, Any] | None = getattr(inspect, method)()
        return answer

    def _see_workers(self, active: dict[str, Any]) -> None:
        now = time.time()
        stats: dict[str, Any] = {}
        unknown = [name for name in active if name not in self._workers]
        if active and (unknown or now - self._stats_at > STATS_EVERY_S):
            try:
                stats = self._ask("stats", list(active)) or {}
            except Exception:  # the concurrency is asked again on the next round
                stats = {}
            self._stats_at = now
        with self._lock:
            for name, tasks in active.items():
                self._seen(name, tasks, stats.get(name), now)
            for name, worker in list(self._workers.items()):
                if name not in active and worker.online:
                    worker.online = False
                    logger.warning("worker %s went away", name, extra={"event": "worker_offline"})
                if now - worker.seen_at > FORGET_AFTER_S:
                    del self._workers[name]

    def _seen(self, name: str, tasks: Any, stats: Any, now: float) -> None:
        worker = self._workers.get(name)
        concurrency = _concurrency(stats)
        if worker is None or not worker.online:
            logger.info(
                "worker %s connected", name, extra={"event": "worker_online", "worker": name}
            )
        if worker is None:
            worker = self._workers[name] = WorkerSeen(name, concurrency, 0, "", True)
        worker.online = True
        worker.active = len(tasks) if isinstance(tasks, list) else None
        worker.concurrency = concurrency or worker.concurrency
        worker.seen_at = now
        worker.last_seen = datetime.fromtimestamp(now, timezone.utc).isoformat(
            timespec="milliseconds"
        )

    # -- what others read ---------------------------------------------------------

    def workers_list(self) -> list[dict[str, Any]]:
        with self._lock:
            workers = sorted(self._workers.values(), key=lambda w: w.hostname)
            return [{k: v for k, v in asdict(w).items() if k != "seen_at"} for w in workers]

    def broker_problem(self) -> str | None:
        error = self._broker_error
        return (
            None
            if error is None
            else f"cannot reach the Celery broker (Redis) at {self.url}: {error}"
        )

    def workers_problem(self) -> str | None:
        if self._broker_error is not None:
            return None  # the broker's own reason says it
        workers = self.workers_list()
        if any(w["online"] for w in workers):
            return None
        seen = ", ".join(f"{w['hostname']} last seen {w['last_seen']}" for w in workers)
        return (
            f"no Celery worker is connected to {self.url}"
            + (f" ({seen})" if seen else "")
            + f"; start one: toy-platform worker --queue-url {self.url}"
            " --middleware-url <the middleware's URL>"
        )

    def oldest_age_s(self) -> float | None:
        """How long the next job to run has waited (kombu pushes left, takes from the right)."""
        raw = self.redis.lindex(JOBS_QUEUE, -1)
        if raw is None:
            return None
        try:
            queued_at = float(json.loads(raw)["headers"][ENQUEUED_AT])
        except (ValueError, KeyError, TypeError):
            return None
        return round(max(0.0, time.time() - queued_at), 3)

    def collector(self, size: Callable[[], int] | None = None) -> Collector:
        """/metrics of the broker; SIZE counts the jobs waiting in every job queue."""
        return _Collector(self, size)


def _concurrency(stats: Any) -> int | None:
    try:
        return int(stats["pool"]["max-concurrency"])
    except (KeyError, TypeError, ValueError):
        return None


class _Collector(Collector):
    """/metrics of core with the Celery queue: read from the broker and the watch."""

    def __init__(self, watch: BrokerWatch, size: Callable[[], int] | None = None) -> None:
        self.watch = watch
        self.size = size

    def collect(self) -> Any:
        watch = self.watch
        up = watch.broker_problem() is None
        online = [w for w in watch.workers_list() if w["online"]]
        yield _gauge("toy_platform_broker_up", "1 when the Celery broker (Redis) answers.", up)
        yield _gauge("toy_platform_celery_workers_online", "Celery workers answering.", len(online))
        yield _gauge(
            "toy_platform_workers_alive",
            "Processes (or threads) of the Celery workers online that can run jobs.",
            sum(w["concurrency"] or 0 for w in online),
        )
        yield _gauge(
            "toy_platform_jobs_running",
            "Jobs the Celery workers are running.",
            sum(w["active"] or 0 for w in online),
        )
        if up:
            yield from self._from_broker()

    def _from_broker(self) -> Any:
        try:
            pipe = self.watch.redis.pipeline(transaction=False)
            pipe.llen(JOBS_QUEUE).llen(CALLBACKS_QUEUE).hgetall(OUTCOMES_KEY).zcard(WAITING_KEY)
            jobs, callbacks, outcomes, waiting = pipe.execute()
            if self.size is not None:
                jobs = self.size()
            oldest = self.watch.oldest_age_s()
        except Exception:  # down since the last check: /readyz says so
            return
        yield _gauge("toy_platform_queue_size", "Jobs waiting in the broker's queue.", jobs)
        yield _gauge(
            "toy_platform_callbacks_pending", "Callbacks waiting in the broker's queue.", callbacks
        )
        yield _gauge(
            "toy_platform_callbacks_waiting_retry",
            "Callbacks the middleware did not take, waiting in the broker for their next try.",
            waiting,
        )
        yield _gauge(
            "toy_platform_queue_oldest_age_seconds",
            "How long the oldest queued job has waited.",
            oldest or 0.0,
        )
        processed = CounterMetricFamily(
            "toy_platform_core_jobs_processed",
            "Jobs the workers finished, by outcome.",
            labels=["status"],
        )
        tasks = CounterMetricFamily(
            "toy_platform_celery_tasks",
            "Task runs of all workers, by task (job, callback) and outcome.",
            labels=["task", "outcome"],
        )
        for key, count in sorted((outcomes or {}).items()):
            task, _, outcome = _text(key).partition(":")
            tasks.add_metric([task, outcome], float(count))
            if task == "job":
                processed.add_metric([outcome], float(count))
        yield processed
        yield tasks


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=float(value))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class LocalWorker:
    """`toy-platform worker` on core's machine (--workers N: its concurrency), kept running.

    It watches core's process and shuts down warmly when core is gone.
    """

    FIRST_RESTART_S = 1.0
    MAX_RESTART_S = 30.0

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._restarts = 0

    def argv(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "toy_platform",
            "worker",
            "--concurrency",
            str(self.settings.workers),
            "--hostname",
            "core@%h",
        ]

    def env(self) -> dict[str, str]:

        env = {**os.environ, **settings_to_env(self.settings)}
        env["TOY_PLATFORM_SUPERVISOR_PID"] = str(os.getpid())
        env.setdefault("TOY_PLATFORM_CONSOLE_LOG_LEVEL", "WARNING")
        return env

    def start(self) -> None:
        self._spawn()
        atexit.register(self.stop)
        threading.Thread(target=self._keep_running, name="local-worker", daemon=True).start()

    def _spawn(self) -> None:

        self.process = spawn(self.argv(), self.env())
        logger.info(
            "started a local worker (PID %d, concurrency %d)",
            self.process.pid,
            self.settings.workers,
            extra={"event": "local_worker_started", "pid": self.process.pid},
        )

    def _keep_running(self) -> None:
        delay = self.FIRST_RESTART_S
        while not self._stopping.wait(1.0):
            process = self.process
            if process is None or process.poll() is None:
                continue
            logger.error(
                "the local worker exited with code %s; restarting it in %.0f s",
                process.returncode,
                delay,
                extra={"event": "local_worker_exited", "exit_code": process.returncode},
            )
            if self._stopping.wait(delay):
                return
            delay = min(self.MAX_RESTART_S, delay * 2)
            self._spawn()

    def stop(self) -> None:
        """A warm shutdown: running jobs finish first."""
        self._stopping.set()
        process = self.process
        if process is None or process.poll() is not None:
            return

        ask_to_stop(process)
        try:
            process.wait(self.settings.job_delay + 15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
