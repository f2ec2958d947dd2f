"""What every long-lived background loop shares.

A loop must never die from one bad item or a database error: `run_loop` logs each error
(with the job and request IDs when it met one while working on a job), backs off
exponentially up to a few seconds and goes on. `Progress` records when a group of loops
last moved its work on, so /readyz can tell a stall from a dependency that is down.
`Threads` runs the loops and a watchdog that restarts any thread that dies anyway.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

from toy_platform.tracing import tagged

logger = logging.getLogger(__name__)

FIRST_BACKOFF_S = 0.1
MAX_BACKOFF_S = 3.0  # once a fault clears, the work moves again within this
WATCHDOG_EVERY_S = 1.0
QUICK_DEATH_S = 10.0
MAX_RESTART_GAP_S = 30.0
LOOP_LOCK_WAIT_S = 2.0
"""How long a loop's database writes wait for a lock another process holds before they
fail, are logged and backed off (requests wait longer: see db.LOCK_WAIT_S)."""


class Signal:
    """Wakes sleeping threads when there is new work, instead of polling fast."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._version = 0

    def notify(self) -> None:
        with self._cond:
            self._version += 1
            self._cond.notify_all()

    def wait(self, seen: int, timeout: float) -> int:
        with self._cond:
            if self._version == seen:
                self._cond.wait(timeout)
            return self._version

    @property
    def version(self) -> int:
        return self._version


def describe(exc: BaseException) -> str:
    """A short, one-line account of an error: its type and message."""
    if isinstance(exc, ItemError):
        exc = exc.cause
    text = " ".join(str(exc).split())
    text = text if len(text) <= 200 else text[:200] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Backoff:
    """Exponential back-off with jitter, capped; reset after a success."""

    def __init__(self, first: float = FIRST_BACKOFF_S, cap: float = MAX_BACKOFF_S) -> None:
        self.first, self.cap = first, cap
        self.failures = 0

    def next_delay(self) -> float:
        self.failures += 1
        delay = min(self.cap, self.first * 2 ** min(self.failures - 1, 30))
        return float(delay * random.uniform(0.8, 1.0))

    def reset(self) -> None:
        self.failures = 0


class ItemError(Exception):
    """An error met while working on one job: carries the job's IDs to the log line."""

    def __init__(self, job_id: str | None, request_id: str | None, cause: Exception) -> None:
        super().__init__(describe(cause))
        self.job_id, self.request_id, self.cause = job_id, request_id, cause


@contextmanager
def working_on(job_id: str | None, request_id: str | None) -> Iterator[None]:
    """Log lines inside name the job; an error escaping is an ItemError naming it too."""
    with tagged(job_id, request_id):
        try:
            yield
        except ItemError:
            raise
        except Exception as exc:
            raise ItemError(job_id, request_id, exc) from exc


class Progress:
    """When a group of loops last moved its work on, and what holds it up.

    Finding nothing to do counts as moving (nothing is stuck); so does waiting for a
    dependency that is down or refuses us: that is not a stall of our own work. A
    dependency's trouble is forgotten BLOCKED_FOR seconds after it was last seen (the
    loops try again well within that), so it cannot hide a stall that came after it.
    """

    def __init__(self, blocked_for: float = 15.0) -> None:
        self.blocked_for = blocked_for
        self.last_ok = time.time()
        self.last_error: str | None = None
        self._blocked: tuple[str, float] | None = None

    def moved(self) -> None:
        self.last_ok = time.time()
        self.last_error = None
        self._blocked = None

    def idle(self) -> None:
        self.last_ok = time.time()

    def failed(self, error: str) -> None:
        self.last_error = error

    def blocked(self, reason: str) -> None:
        """Our work waits for a dependency (REASON names it)."""
        self.last_ok = time.time()
        self._blocked = (reason, self.last_ok)

    def unblocked(self) -> None:
        """The dependency answers again (though our work may not have moved yet): a stall
        is counted from now."""
        if self._blocked is not None:
            self._blocked = None
            self.last_ok = time.time()

    def blocker(self) -> str | None:
        """What dependency holds the work up, as last seen; None when none does."""
        if self._blocked is None or time.time() - self._blocked[1] > self.blocked_for:
            return None
        return self._blocked[0]

    def stalled_s(self, waiting: bool, threshold: float, since: float = 0.0) -> float | None:
        """Seconds nothing moved while work was WAITING, once that reaches THRESHOLD.

        SINCE: a moment before which nothing could move anyway (e.g. the end of a pause)."""
        if not waiting or self.blocker():
            return None
        stalled = time.time() - max(self.last_ok, since)
        return round(stalled, 1) if stalled >= threshold else None


def run_loop(step: Callable[[], None], stopping: threading.Event, progress: Progress) -> None:
    """Call STEP until STOPPING is set; an error is logged, backed off and survived."""
    backoff = Backoff()
    while not stopping.is_set():
        try:
            step()
        except Exception as exc:
            delay = backoff.next_delay()
            progress.failed(describe(exc))
            with suppress(Exception):  # a failure to log must not end the loop either
                log_error(exc, delay, traceback=backoff.failures == 1)
            stopping.wait(delay)
        else:
            backoff.reset()


def log_error(exc: Exception, delay: float, traceback: bool = True, **extra: object) -> None:
    """Log an error a loop survives, with the job it met it on, and when it goes on
    (with the TRACEBACK for the first of a series: the same error again needs no more)."""
    fields: dict[str, object] = {
        "event": "loop_error",
        "thread_name": threading.current_thread().name,
        "error": describe(exc),
        "retry_in_s": round(delay, 2),
        **extra,
    }
    if isinstance(exc, ItemError):
        fields.update(job_id=exc.job_id, request_id=exc.request_id)
    logger.error(
        "%s: %s; going on in %.1f s",
        threading.current_thread().name,
        describe(exc),
        delay,
        exc_info=(exc.cause if isinstance(exc, ItemError) else exc) if traceback else None,
        extra=fields,
    )


class _Kept:
    """One long-lived thread: its target, why it died when it did, and when it may be
    started again (a thread that dies soon after each start is restarted less and less
    often, up to every MAX_RESTART_GAP_S, so that it cannot flood the log)."""

    def __init__(self, name: str, target: Callable[[], None]) -> None:
        self.name, self.target = name, target
        self.thread: threading.Thread | None = None
        self.death: str | None = None
        self.started_at = self.died_at = 0.0
        self.quick_deaths = 0

    def start(self) -> None:
        self.started_at = time.monotonic()
        self.thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self.thread.start()

    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def may_restart(self) -> bool:
        gap = (
            0.0 if self.quick_deaths < 2 else min(MAX_RESTART_GAP_S, 2.0 ** (self.quick_deaths - 2))
        )
        return time.monotonic() >= self.died_at + gap

    def _run(self) -> None:
        try:
            self.target()
        except BaseException as exc:  # the watchdog restarts it; say why it died
            self.died_at = time.monotonic()
            quick = self.died_at - self.started_at < QUICK_DEATH_S
            self.quick_deaths = self.quick_deaths + 1 if quick else 0
            self.death = describe(exc)
            logger.critical(
                "thread %s died: %s",
                self.name,
                self.death,
                exc_info=exc,
                extra={"event": "thread_died", "thread_name": self.name, "error": self.death},
            )


class Threads:
    """Long-lived daemon threads, and a watchdog that restarts any that dies.

    ON_RESTART(name) is called for each restart (to count it). The watchdog survives
    every error of its own; should it die anyway, `dead()` (asked by /readyz) restarts it.
    """

    def __init__(
        self,
        stopping: threading.Event,
        on_restart: Callable[[str], None] = lambda name: None,
        check_every: float = WATCHDOG_EVERY_S,
    ) -> None:
        self.stopping, self.on_restart, self.check_every = stopping, on_restart, check_every
        self._kept: list[_Kept] = []
        self._watchdog = _Kept("watchdog", self._watch)
        self._lock = threading.Lock()

    def add(self, name: str, target: Callable[[], None]) -> None:
        self._kept.append(_Kept(name, target))

    def start(self) -> None:
        for kept in self._kept:
            kept.start()
        self._watchdog.start()

    @property
    def names(self) -> list[str]:
        return [kept.name for kept in self._kept]

    def alive(self, prefix: str = "") -> int:
        return sum(1 for k in self._kept if k.name.startswith(prefix) and k.alive())

    def dead(self) -> list[str]:
        """The threads not running, each with why it died."""
        if self._watchdog.thread is not None and not self.stopping.is_set():
            self._restart_if_dead(self._watchdog)
        return [
            kept.name + (f" (died: {kept.death})" if kept.death else "")
            for kept in self._kept
            if not kept.alive()
        ]

    def check(self) -> None:
        """Restart every thread that died (one pass of the watchdog)."""
        for kept in self._kept:
            if self.stopping.is_set():
                return
            self._restart_if_dead(kept)

    def _restart_if_dead(self, kept: _Kept) -> None:
        with self._lock:
            if kept.thread is None or kept.alive() or not kept.may_restart():
                return
            death, kept.death = kept.death or "it returned", None
            kept.start()
        self.on_restart(kept.name)
        logger.error(
            "restarted thread %s, which had died: %s",
            kept.name,
            death,
            extra={"event": "thread_restarted", "thread_name": kept.name, "error": death},
        )

    def _watch(self) -> None:
        while not self.stopping.wait(self.check_every):
            try:
                self.check()
            except BaseException as exc:  # noqa: BLE001 - the watchdog must outlive anything
                logger.critical(
                    "watchdog: %s", describe(exc), exc_info=exc, extra={"event": "watchdog_error"}
                )
