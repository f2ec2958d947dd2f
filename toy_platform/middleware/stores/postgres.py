"""The shared job store: PostgreSQL, so that several middlewares serve one platform.

Every middleware reads and writes the same tables. What must happen once happens inside the
database: a job is claimed for forwarding with SELECT ... FOR UPDATE SKIP LOCKED and a lease
(so a middleware that dies gives its jobs up when the lease runs out), an Idempotency-Key is
a unique index (INSERT ... ON CONFLICT), and a callback takes the job's row lock.
"""

from __future__ import annotations

import functools
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from toy_platform.clock import utc_now
from toy_platform.db import Batcher
from toy_platform.jobs.lifecycle import (
    LEASE_S,
    REPORT_ROW,
    CountDeltas,
    Event,
    ReportOutcome,
    apply_reports,
    cancel,
    carries_events,
    handed_over_again_event,
    refused_event,
    reports_held_up_event,
    retry_event,
    said_already,
)
from toy_platform.jobs.model import NewJob, Report, encode, new_job, new_job_id, public
from toy_platform.middleware.stores.base import (
    StoreDown,
    StoreSetupError,
)
from toy_platform.middleware.stores.sql import (
    FORWARD_COLUMNS,
    INSERT_JOB_COLUMNS,
    UNFINISHED,
    SqlJobStore,
    insert_job_params,
)
from toy_platform.urls import mask_url, without_password

logger = logging.getLogger(__name__)
# The pool logs each failed reconnection (several lines each); the middleware says once that
# the store is unavailable, and its /readyz why.
logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
F = TypeVar("F", bound=Callable[..., Any])
Conn = psycopg.Connection[dict[str, Any]]

CONNECT_TIMEOUT_S = 3
LOCK_TIMEOUT_MS = 2000
"""How long a statement waits for a row or table lock another session holds (an operator's
open transaction): a request answers 503 in seconds, never hangs for minutes."""
STATEMENT_TIMEOUT_MS = 5000
FAILURE_SHOWN_S = 10.0
"""/readyz names a failed write this long after it (unless a write went through since)."""
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 3,
    "keepalives_count": 3,
}
"""TCP keepalives: a connection to a server that is gone (a network that drops packets)
fails within about 20 s instead of waiting for the OS's two hours."""
ANSWER_WITHIN_S = 6.0
"""The longest the store waits for PostgreSQL to answer on a connection it uses: a server
that takes connections but never answers (stopped with SIGSTOP, a VM paused, a network that
drops packets) cannot be caught by any server-side timeout, nor by TCP keepalives (the
kernel still acknowledges): past this the connection is dropped and the caller told. Above
the server's own statement_timeout, so that a slow statement is named as such."""
WAIT_FOR_CONNECTION_S = 5.0
CHECK_WAIT_S = 1.0  # /readyz must answer well within the 2 s status gives it
POOL_MAX = 12
SCHEMA_LOCK = 7_311_230_013  # pg_advisory_xact_lock key: one middleware migrates at a time

# Ordered migrations: schema_version holds the number applied.
MIGRATIONS: tuple[str, ...] = (
    """
CREATE TABLE jobs (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id TEXT NOT NULL UNIQUE,
    job_name TEXT NOT NULL,
    owner TEXT NOT NULL,
    data TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued',
    created_at TEXT NOT NULL,
    created_epoch DOUBLE PRECISION NOT NULL,
    started_at TEXT,
    completed_at TEXT,
    result TEXT,
    error TEXT,
    request_id TEXT,
    attempt INTEGER NOT NULL DEFAULT 1,
    forwarded BOOLEAN NOT NULL DEFAULT FALSE,
    lease_until DOUBLE PRECISION,
    idempotency_key TEXT
);
CREATE INDEX jobs_owner ON jobs (owner, seq);
CREATE INDEX jobs_status ON jobs (status, seq);
CREATE INDEX jobs_owner_status ON jobs (owner, status, seq);
CREATE INDEX jobs_waiting ON jobs (seq) WHERE NOT forwarded AND status = 'queued';
CREATE UNIQUE INDEX jobs_idempotency ON jobs (owner, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE TABLE job_events (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id TEXT NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
    at TEXT NOT NULL,
    status TEXT NOT NULL,
    service TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX job_events_job ON job_events (job_id, seq);
CREATE TABLE job_counts (
    owner TEXT NOT NULL,
    status TEXT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (owner, status)
);
""",
    # Who holds a claim to forward a job, so that only its holder gives it back; leases are
    # stamped with the database's clock (below), never a middleware's own.
    """
ALTER TABLE jobs ADD COLUMN lease_holder TEXT;
""",
    # Job types: data and results become any JSON value (kept as JSON text), a job has a
    # type (the platform's own `reverse` for every earlier one), its last progress, and
    # whether a cancel was asked while it ran.
    """
ALTER TABLE jobs ADD COLUMN job_type TEXT NOT NULL DEFAULT 'reverse';
ALTER TABLE jobs ADD COLUMN progress TEXT;
ALTER TABLE jobs ADD COLUMN cancel_requested BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE jobs SET data = to_json(data)::text;
UPDATE jobs SET result = to_json(result)::text WHERE result IS NOT NULL;
""",
)
DATABASE_NOW = "EXTRACT(EPOCH FROM clock_timestamp())"
"""The time leases are stamped and compared with: the database's, the one clock every
middleware shares (15 s of skew between two hosts let one steal the other's live claims)."""
INSERT_EVENT = (
    "INSERT INTO job_events (job_id, at, status, service, detail) VALUES (%s, %s, %s, %s, %s)"
)


def _available(method: F) -> F:
    """A database that cannot be used now becomes StoreDown, saying why (see _failure)."""

    @functools.wraps(method)
    def wrapper(self: PostgresJobStore, *args: Any, **kwargs: Any) -> Any:
        try:
            result = _retried(method, self, *args, **kwargs)
        except CommitCutOff as exc:
            raise self._failed(exc.cause, maybe_done=True) from exc.cause
        except (
            psycopg.OperationalError,
            psycopg.InterfaceError,
            psycopg.errors.ReadOnlySqlTransaction,
            PoolTimeout,
        ) as exc:
            raise self._failed(exc) from exc
        if method.__name__ in _COUNTED_WRITES:
            self._last_failure = None
        return result

    return cast(F, wrapper)


ROLLBACK_TRIES = 4


def _retried(method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """METHOD, run again (after a short random pause) when PostgreSQL rolled its transaction
    back to break a deadlock or a serialization conflict: it did nothing, and the conflict
    is gone once the other transaction finished."""
    for tries in range(1, ROLLBACK_TRIES + 1):
        try:
            return method(*args, **kwargs)
        except psycopg.OperationalError as exc:
            if not rolled_back(exc) or tries == ROLLBACK_TRIES:
                raise
            logger.warning(
                "%s: the database rolled the transaction back (%s); trying again",
                method.__name__,
                exc.sqlstate,
                extra={"event": "store_retry", "reason": str(exc.sqlstate)},
            )
            time.sleep(random.uniform(0.01, 0.05) * 2**tries)
    raise AssertionError("unreachable")


def rolled_back(exc: BaseException) -> bool:
    """Whether PostgreSQL rolled the transaction back to break a conflict (SQLSTATE class 40:
    a deadlock, a serialization failure). By its code: psycopg's DeadlockDetected and
    SerializationFailure are not subclasses of its TransactionRollback."""
    return str(getattr(exc, "sqlstate", None) or "").startswith("40")


class CommitCutOff(Exception):
    """The connection broke while a transaction was being committed: whether it was is not
    known to us."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


_COUNTED_WRITES = frozenset({"_insert", "apply_reports", "retry", "refuse"})
"""Writes that take the per-user counts' rows, as every submit does: one that goes through
means writing works again."""
_SQLSTATE_REASONS = {
    "55P03": f"waited {LOCK_TIMEOUT_MS / 1000:g} s for a lock another session holds (a"
    " transaction left open?)",
    "57014": f"ran a statement past its {STATEMENT_TIMEOUT_MS / 1000:g} s (overloaded, or locked?)",
    "25006": "is read-only (a standby: after a failover, point --store-url at the primary)",
    "53100": "is out of disk space",
    "53200": "is out of memory",
    "40P01": "kept meeting deadlocks (each rolled back and tried again)",
    "40001": "kept meeting serialization conflicts (each rolled back and tried again)",
}


class NotAnswering(psycopg.OperationalError):
    """PostgreSQL did not answer within ANSWER_WITHIN_S: the connection was dropped."""


class AnsweringConnection(psycopg.Connection[Any]):
    """A connection whose every exchange with the server ends within ANSWER_WITHIN_S.

    psycopg waits for the socket in slices (`interval`, 0.1 s) and resumes the operation's
    generator after each one that ends with nothing to read (READY_NONE), in its Python and
    C wait functions alike (3.2 onwards): the generator below counts time there."""

    def wait(self, gen: Any, *args: Any, **kwargs: Any) -> Any:
        return super().wait(_answered_within(gen, self, ANSWER_WITHIN_S), *args, **kwargs)


def _answered_within(gen: Any, conn: psycopg.Connection[Any], seconds: float) -> Any:
    """GEN, given up (its connection closed: it is mid-exchange) after SECONDS."""
    deadline = time.monotonic() + seconds
    try:
        waiting = next(gen)
        while True:
            ready = yield waiting
            if time.monotonic() > deadline:
                conn.pgconn.finish()  # what follows (a ROLLBACK) fails at once, not waits
                raise NotAnswering(f"no answer from the server within {seconds:g} s")
            waiting = gen.send(ready)
    except StopIteration as done:
        return done.value


class PostgresJobStore(SqlJobStore):
    """Jobs in PostgreSQL, through a pool that checks each connection before lending it, so
    that the store comes back by itself when the database does."""

    def __init__(self, url: str, pool_max: int = POOL_MAX) -> None:
        self.url = url
        self.name = f"PostgreSQL at {mask_url(url)}"
        self._migrate()  # on a connection of its own: a bad URL or password fails at once
        self.pool: ConnectionPool[Conn] = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_max,
            kwargs={
                "row_factory": dict_row,
                "connect_timeout": CONNECT_TIMEOUT_S,
                "autocommit": True,  # reads need no BEGIN and COMMIT; writes take a transaction
                "options": f"-c lock_timeout={LOCK_TIMEOUT_MS}"
                f" -c statement_timeout={STATEMENT_TIMEOUT_MS}",
                **KEEPALIVES,
            },
            connection_class=AnsweringConnection,
            check=ConnectionPool.check_connection,
            timeout=WAIT_FOR_CONNECTION_S,
            # A failed reconnection is not retried in the background: the next caller that
            # needs a connection makes the pool try again, so it heals when the database does.
            reconnect_timeout=0,
            name="toy-platform-jobs",
            open=False,
        )
        self.pool.open(wait=False)
        self._down = False  # the last use failed: wait less for a connection until one works
        self._why_down: str | None = None  # why a new connection fails, as last found out
        self._probe_lock = threading.Lock()
        self._last_failure: tuple[float, str] | None = None  # (monotonic time, why)
        self.holder = uuid.uuid4().hex  # this middleware, as the claims it holds name it
        self._batch_insert = Batcher(self._insert_all, _retry_alone)

    MARK = "%s"
    WAITING = "NOT forwarded AND status = 'queued'"
    HANDED_OVER = "forwarded"

    @_available
    def _rows(self, sql: str, params: tuple[object, ...] = ()) -> list[dict[str, Any]]:
        with self._connection() as conn:  # one statement
            return conn.execute(sql, params).fetchall()

    @_available
    def _insert(self, new: NewJob) -> tuple[dict[str, Any], bool]:
        return self._batch_insert(new)

    def _failed(self, exc: BaseException, maybe_done: bool = False) -> StoreDown:
        """The StoreDown for EXC: a lock wait, a timeout, a read-only or full server are
        named as such; anything else is a server that does not answer."""
        reason = _SQLSTATE_REASONS.get(str(getattr(exc, "sqlstate", None) or ""))
        self._down = reason is None  # the server itself cannot be reached
        if reason is None and maybe_done:
            reason = "stopped answering while it committed"
        why = f"{self.name} {reason or 'is not answering'}: {self.describe(exc)}"
        if reason is not None:  # the server answers SELECT 1 all the same: remember it
            self._last_failure = (time.monotonic(), why)
        return StoreDown(why, maybe_done=maybe_done)

    def describe(self, exc: BaseException) -> str:
        """What went wrong, with no password in it: for a pool that found no connection, why
        a new one cannot be made."""
        text = " ".join(str(exc).split()) or type(exc).__name__
        if isinstance(exc, PoolTimeout):
            self._find_out_why()
            text = self._why_down or f"no connection within {exc_wait(text)}"
        return without_password(text, self.url)[:300]

    def _find_out_why(self) -> None:
        """In the background, try a connection of our own to learn why the pool has none
        (refused, a wrong password, no route...): /readyz must not wait for it."""
        if self._probe_lock.acquire(blocking=False):
            threading.Thread(target=self._probe, name="store-probe", daemon=True).start()

    def _probe(self) -> None:
        try:
            with psycopg.connect(self.url, connect_timeout=CONNECT_TIMEOUT_S):
                self._why_down = None
        except psycopg.Error as exc:
            self._why_down = " ".join(str(exc).split())
        finally:
            self._probe_lock.release()

    @contextmanager
    def _connection(self, timeout: float | None = None) -> Iterator[Conn]:
        """A connection of the pool (checked first), each statement its own transaction:
        for reads. While the database is down, callers wait less for one."""
        if timeout is None:
            timeout = CHECK_WAIT_S if self._down else WAIT_FOR_CONNECTION_S
        with self.pool.connection(timeout=timeout) as conn:
            yield conn
        self._down = False

    @contextmanager
    def _transaction(self, timeout: float | None = None) -> Iterator[Conn]:
        """A connection in a transaction, committed when the block ends without error. A
        connection lost during the COMMIT is CommitCutOff: the change may have been made."""
        with self._connection(timeout) as conn:
            committing = False
            try:
                with conn.transaction():
                    yield conn
                    committing = True
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                if committing and not rolled_back(exc):
                    raise CommitCutOff(exc) from exc
                raise

    def _migrate(self) -> None:
        """Create or update the schema, one middleware at a time; refuse a newer one."""
        try:
            with (
                psycopg.connect(
                    self.url, connect_timeout=CONNECT_TIMEOUT_S, row_factory=dict_row
                ) as conn,
                conn.transaction(),
            ):
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_version ("
                    " id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)"
                )
                row = conn.execute("SELECT version FROM schema_version").fetchone()
                version = row["version"] if row else 0
                if version > len(MIGRATIONS):
                    raise StoreSetupError(
                        f"{self.name} has schema version {version}, newer than this"
                        f" toy-platform knows ({len(MIGRATIONS)}): upgrade toy-platform"
                    )
                for number in range(version, len(MIGRATIONS)):
                    conn.execute(MIGRATIONS[number].encode())
                    logger.info(
                        "job store schema migrated to version %d",
                        number + 1,
                        extra={"event": "store_migrated", "store": self.name},
                    )
                conn.execute(
                    "INSERT INTO schema_version (id, version) VALUES (1, %s)"
                    " ON CONFLICT (id) DO UPDATE SET version = excluded.version",
                    (len(MIGRATIONS),),
                )
        except psycopg.Error as exc:
            raise StoreSetupError(
                f"cannot open the job store, {self.name}: {self.describe(exc)}"
            ) from exc

    # -- submitting ------------------------------------------------------------

    def _insert_all(self, batch: list[NewJob]) -> list[tuple[dict[str, Any], bool]]:
        deltas = CountDeltas()
        with self._transaction() as conn:
            results = [self._insert_one(conn, new, deltas) for new in batch]
            _write_counts(conn, deltas)
        return results

    def _insert_one(
        self, conn: Conn, new: NewJob, deltas: CountDeltas
    ) -> tuple[dict[str, Any], bool]:
        now, job_id = utc_now(), new_job_id()
        for _ in range(3):
            # ON CONFLICT waits for a concurrent insert of the same key, then does nothing:
            # two middlewares given one Idempotency-Key at once store one job.
            row = conn.execute(
                f"WITH job AS (INSERT INTO jobs ({INSERT_JOB_COLUMNS})"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (owner, idempotency_key) WHERE idempotency_key IS NOT NULL"
                " DO NOTHING RETURNING job_id, created_at, owner)"
                " INSERT INTO job_events (job_id, at, status, service, detail)"
                " SELECT job_id, created_at, 'submitted', 'middleware', 'by ' || owner FROM job"
                " RETURNING job_id",
                insert_job_params(new, job_id, now),
            ).fetchone()
            if row is not None:
                deltas.move(new.owner, None, "queued")
                return dict(new_job(new, job_id, now)), True
            existing = self._job_by_key(conn, new)
            if existing is not None:
                return existing, False
        raise RuntimeError("the Idempotency-Key kept changing hands")  # not reached in practice

    # -- reading ---------------------------------------------------------------

    # -- callbacks and retries ---------------------------------------------------

    @_available
    def apply_reports(self, reports: list[Report]) -> list[ReportOutcome]:
        """In one transaction that first takes the jobs' row locks, in job_id order (so two
        batches cannot deadlock): the same report delivered to two middlewares at once is
        applied once, and a job's events stay in order."""
        ids = sorted({report.job_id for report in reports})
        with self._transaction() as conn:
            rows = conn.execute(
                f"SELECT {REPORT_ROW} FROM jobs WHERE job_id = ANY(%s) ORDER BY job_id FOR UPDATE",
                (ids,),
            ).fetchall()
            said = _said(conn, carries_events(reports))
            batch, outcomes = apply_reports(
                {row["job_id"]: public(dict(row)) for row in rows}, reports, said
            )
            _write_reports(conn, batch.changed_jobs(), batch.events, batch.counts)
        return outcomes

    @_available
    def cancel(self, job_id: str, by: str) -> dict[str, Any] | None:
        deltas = CountDeltas()
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT job_id, status, owner, cancel_requested FROM jobs WHERE job_id = %s"
                " FOR UPDATE",
                (job_id,),
            ).fetchone()
            if row is None:
                return None
            change = cancel(row, by)
            if change.update:
                names = ", ".join(f"{name} = %s" for name in change.update)
                conn.execute(
                    f"UPDATE jobs SET {names} WHERE job_id = %s", (*change.update.values(), job_id)
                )
            if change.event:
                conn.execute(INSERT_EVENT, change.event)
            if change.move:
                deltas.move(row["owner"], *change.move)
                _write_counts(conn, deltas)
            return self._job_in(conn, job_id)

    @_available
    def retry(self, job_id: str, by: str) -> dict[str, Any] | None:
        deltas = CountDeltas()
        with self._transaction() as conn:
            row = conn.execute(
                "UPDATE jobs SET status = 'queued', attempt = attempt + 1, forwarded = FALSE,"
                " lease_until = NULL, started_at = NULL, completed_at = NULL, result = NULL,"
                " error = NULL WHERE job_id = %s AND status = 'failed' RETURNING owner",
                (job_id,),
            ).fetchone()
            if row is None:
                return None
            conn.execute(INSERT_EVENT, retry_event(job_id, by))
            deltas.move(row["owner"], "failed", "queued")
            _write_counts(conn, deltas)
            return self._job_in(conn, job_id)

    # -- forwarding --------------------------------------------------------------

    @_available
    def claim_unforwarded(self, limit: int, lease_s: float = LEASE_S) -> list[dict[str, Any]]:
        with self._connection() as conn:  # one statement
            rows = conn.execute(
                f"UPDATE jobs SET lease_until = {DATABASE_NOW} + %s, lease_holder = %s"
                " WHERE seq IN (SELECT seq FROM jobs WHERE NOT forwarded AND status = 'queued'"
                f" AND (lease_until IS NULL OR lease_until < {DATABASE_NOW})"
                " ORDER BY seq LIMIT %s FOR UPDATE SKIP LOCKED)"
                f" RETURNING seq, {FORWARD_COLUMNS}",
                (lease_s, self.holder, limit),
            ).fetchall()
        rows.sort(key=lambda r: r["seq"])
        return [{k: v for k, v in r.items() if k != "seq"} for r in rows]

    @_available
    def release(self, job_ids: Iterable[str]) -> None:
        ids = list(job_ids)
        if ids:
            with self._connection() as conn:  # one statement
                conn.execute(  # only the claims this middleware still holds
                    "UPDATE jobs SET lease_until = NULL, lease_holder = NULL"
                    " WHERE job_id = ANY(%s) AND NOT forwarded AND lease_holder = %s",
                    (ids, self.holder),
                )

    @_available
    def mark_forwarded(self, accepted: list[dict[str, Any]]) -> None:
        """One statement for the whole batch: the jobs and their two events."""
        jobs = sorted(accepted, key=lambda j: str(j["job_id"]))
        columns = (
            [str(j["job_id"]) for j in jobs],
            [int(j["attempt"]) for j in jobs],
            [str(j["sent_at"]) for j in jobs],
            [str(j.get("queued_at") or j["sent_at"]) for j in jobs],
            [f"position {j['position']}" for j in jobs],
        )
        with self._connection() as conn:  # one statement
            conn.execute(
                "WITH a AS (SELECT * FROM unnest(%s::text[], %s::int[], %s::text[],"
                " %s::text[], %s::text[]) AS a (job_id, attempt, sent_at, queued_at, detail)),"
                " u AS (UPDATE jobs SET forwarded = TRUE, lease_until = NULL FROM a"
                " WHERE jobs.job_id = a.job_id AND jobs.attempt = a.attempt"
                " AND NOT jobs.forwarded RETURNING a.*)"
                " INSERT INTO job_events (job_id, at, status, service, detail)"
                " SELECT job_id, sent_at, 'forwarded', 'middleware', NULL FROM u"
                " UNION ALL SELECT job_id, queued_at, 'queued', 'core', detail FROM u",
                columns,
            )

    @_available
    def refuse(self, job_id: str, attempt: int, error: str) -> bool:
        now = utc_now()
        deltas = CountDeltas()
        with self._transaction() as conn:
            row = conn.execute(
                "UPDATE jobs SET status = 'failed', error = %s, completed_at = %s,"
                " lease_until = NULL WHERE job_id = %s AND attempt = %s AND status = 'queued'"
                " AND NOT forwarded RETURNING owner",
                (error, now, job_id, attempt),
            ).fetchone()
            if row is None:
                return False
            conn.execute(INSERT_EVENT, refused_event(job_id, error, now))
            deltas.move(row["owner"], "queued", "failed")
            _write_counts(conn, deltas)
        return True

    @_available
    def note_held_up(self, job_id: str, attempt: int, why: str) -> bool:
        event = reports_held_up_event(job_id, why)
        with self._transaction() as conn:
            if not conn.execute(
                "SELECT 1 FROM jobs WHERE job_id = %s AND attempt = %s"
                f" AND status IN ({UNFINISHED}) FOR UPDATE",
                (job_id, attempt),
            ).fetchone():
                return False
            last = conn.execute(
                "SELECT status, detail FROM job_events WHERE job_id = %s ORDER BY seq DESC LIMIT 1",
                (job_id,),
            ).fetchone()
            if said_already((last["status"], last["detail"]) if last else None, event):
                return False
            conn.execute(INSERT_EVENT, event)
            return True

    @_available
    def hand_over_again(self, job_id: str, attempt: int) -> int:
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT status, owner FROM jobs WHERE job_id = %s AND attempt = %s AND forwarded"
                f" AND status IN ({UNFINISHED}) FOR UPDATE",
                (job_id, attempt),
            ).fetchone()
            if row is None:
                return 0
            conn.execute(
                "UPDATE jobs SET forwarded = FALSE, lease_until = NULL, status = 'queued',"
                " started_at = NULL, progress = NULL WHERE job_id = %s",
                (job_id,),
            )
            count = conn.execute(
                "SELECT COUNT(*) AS n FROM job_events WHERE job_id = %s"
                " AND status = 'forwarded_again'",
                (job_id,),
            ).fetchone()
            times = 1 + int(count["n"] if count else 0)
            conn.execute(INSERT_EVENT, handed_over_again_event(job_id, times, row["status"]))
            deltas = CountDeltas()
            deltas.move(row["owner"], row["status"], "queued")
            _write_counts(conn, deltas)
        return times

    # -- the whole store ---------------------------------------------------------

    @_available
    def reset(self) -> int:
        with self._transaction() as conn:
            conn.execute("LOCK TABLE jobs, job_counts IN EXCLUSIVE MODE")
            conn.execute("DELETE FROM job_events")
            conn.execute("DELETE FROM job_counts")
            return conn.execute("DELETE FROM jobs").rowcount

    def unavailable(self) -> str | None:
        """None when the store answers and no write failed lately; else why not."""
        try:
            with self._connection(timeout=CHECK_WAIT_S) as conn:
                conn.execute("SELECT 1")
        except (psycopg.Error, PoolTimeout) as exc:
            self._down = True
            return f"{self.name} is not answering: {self.describe(exc)}"
        failure = self._last_failure
        if failure is not None and time.monotonic() - failure[0] < FAILURE_SHOWN_S:
            return failure[1]
        return None

    def set_lock_wait(self, seconds: float) -> None:
        """Nothing to set: PostgreSQL locks rows, not the store, and a connection is waited
        for no longer than the pool's timeout."""

    def close(self) -> None:
        self.pool.close(timeout=2)


def exc_wait(text: str) -> str:
    """'5.00 sec' from the pool's "couldn't get a connection after 5.00 sec"."""
    return text.rsplit("after ", 1)[-1] if "after " in text else "the wait"


def _retry_alone(exc: Exception) -> bool:
    """Whether the jobs of a failed batch may go one by one: not when the database is gone
    (each would wait for a connection in vain), yes after a deadlock or a bad value."""
    if rolled_back(exc):
        return True
    return not isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout))


def _write_counts(conn: Conn, deltas: CountDeltas) -> None:
    for owner, status, n in deltas.sorted():
        conn.execute(
            "INSERT INTO job_counts (owner, status, n) VALUES (%s, %s, %s)"
            " ON CONFLICT (owner, status) DO UPDATE SET n = job_counts.n + excluded.n",
            (owner, status, n),
        )


def _write_reports(
    conn: Conn, jobs: list[dict[str, Any]], events: list[Event], deltas: CountDeltas
) -> None:
    """What a batch of reports changed, in three statements."""
    if jobs:
        _update_jobs(conn, jobs)
    if events:
        conn.execute(
            "INSERT INTO job_events (job_id, at, status, service, detail)"
            " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[])",
            [list(column) for column in zip(*events, strict=True)],
        )
    _write_counts(conn, deltas)


def _update_jobs(conn: Conn, jobs: list[dict[str, Any]]) -> None:
    encoded = [
        {**job, "result": _encoded(job["result"]), "progress": _encoded(job["progress"])}
        for job in jobs
    ]
    columns = [[job[name] for job in encoded] for name in _REPORT_COLUMNS]
    conn.execute(
        "UPDATE jobs SET status = a.status, forwarded = a.forwarded,"
        " started_at = a.started_at, completed_at = a.completed_at, result = a.result,"
        " error = a.error, progress = a.progress FROM unnest(%s::text[], %s::text[], %s::bool[],"
        " %s::text[], %s::text[], %s::text[], %s::text[], %s::text[])"
        " AS a (job_id, status, forwarded, started_at, completed_at, result, error, progress)"
        " WHERE jobs.job_id = a.job_id",
        columns,
    )


_REPORT_COLUMNS = (
    "job_id",
    "status",
    "forwarded",
    "started_at",
    "completed_at",
    "result",
    "error",
    "progress",
)


def _encoded(value: Any) -> str | None:
    return None if value is None else encode(value)


def _said(conn: Conn, job_ids: list[str]) -> dict[str, set[tuple[str, str]]]:
    """Per job, core's history lines already stored (for reports that carry some)."""
    if not job_ids:
        return {}
    rows = conn.execute(
        "SELECT job_id, status, detail FROM job_events WHERE job_id = ANY(%s) AND service = 'core'",
        (job_ids,),
    ).fetchall()
    said: dict[str, set[tuple[str, str]]] = {job_id: set() for job_id in job_ids}
    for row in rows:
        said[row["job_id"]].add((row["status"], row["detail"]))
    return said
