"""SQLite in WAL mode with one connection per thread and short transactions."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Database:
    """A SQLite file shared by the threads of one process.

    WAL lets readers run beside the one writer; synchronous=NORMAL keeps every
    committed transaction across a process crash (only power loss can take the last ones).
    """

    def __init__(self, path: Path, schema: str) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self.connection().executescript(schema)

    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, taken at once (BEGIN IMMEDIATE) to avoid upgrade deadlocks."""
        conn = self.connection()
        # Writers of this process queue on a lock rather than on SQLite's busy handler,
        # which sleeps for up to 100 ms at a time when another thread holds the database.
        with self._write_lock, self._transaction_held(conn):
            yield conn

    @contextmanager
    def _transaction_held(self, conn: sqlite3.Connection) -> Iterator[None]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        return self.connection().execute(sql, params).fetchall()

    def count(self, sql: str, params: tuple[object, ...] = ()) -> int:
        """The integer a SELECT COUNT(*) ... query returns."""
        row = self.connection().execute(sql, params).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def number(self, sql: str, params: tuple[object, ...] = ()) -> float | None:
        """The number a SELECT MIN/MAX(...) query returns, None when there are no rows."""
        row = self.connection().execute(sql, params).fetchone()
        return float(row[0]) if row and row[0] is not None else None

    def check_writable(self) -> str | None:
        """None when a write transaction can be taken, else why not."""
        try:
            with self.transaction():
                pass
        except sqlite3.Error as exc:
            return f"{self.path}: {exc}"
        return None


class _Pending(Generic[T, R]):
    __slots__ = ("item", "result", "error", "done")

    def __init__(self, item: T) -> None:
        self.item = item
        self.result: R | None = None
        self.error: BaseException | None = None
        self.done = False


class GroupCommit(Generic[T, R]):
    """Writes from many threads, committed together: one transaction for all that are waiting.

    A thread queues its item and takes the write lock; whoever gets the lock first writes every
    queued item in one transaction, so the others find theirs done and return at once. Under
    load this turns N small transactions into a few larger ones with no extra thread and no
    added latency when there is no load. Each call still returns only after its item is committed.
    """

    def __init__(self, db: Database, write: Callable[[sqlite3.Connection, T], R]) -> None:
        self.db, self.write = db, write
        self._queue: list[_Pending[T, R]] = []
        self._queue_lock = threading.Lock()

    def __call__(self, item: T) -> R:
        pending: _Pending[T, R] = _Pending(item)
        with self._queue_lock:
            self._queue.append(pending)
        with self.db._write_lock:
            if not pending.done:
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                self._commit(batch)
        if pending.error is not None:
            raise pending.error
        return pending.result  # type: ignore[return-value]

    def _commit(self, batch: list[_Pending[T, R]]) -> None:
        conn = self.db.connection()
        try:
            with self.db._transaction_held(conn):
                results = [self.write(conn, p.item) for p in batch]
        except Exception as exc:
            if len(batch) > 1:  # one bad item must not fail the others: write each on its own
                for pending in batch:
                    self._commit([pending])
                return
            batch[0].error = exc
        except BaseException as exc:
            for pending in batch:
                pending.error, pending.done = exc, True
            raise
        else:
            for pending, result in zip(batch, results, strict=True):
                pending.result = result
        for pending in batch:
            pending.done = True
