"""SQLite in WAL mode: one connection per thread for reads, one for all of a process's
writes, and short transactions."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

LOCK_WAIT_S = 30.0
"""How long a write waits for the database's lock before 'database is locked', unless the
thread asked for another wait (see Database.set_lock_wait)."""
CHECK_LOCK_WAIT_S = 1.0


class Database:
    """A SQLite file shared by the threads of one process.

    WAL lets readers run beside the one writer; synchronous=NORMAL keeps every
    committed transaction across a process crash (only power loss can take the last ones).

    Every write of the process goes through one connection, taken under the process's write
    lock. A connection that finds the file changed by another connection since its last
    transaction drops all the pages it holds in memory and reads them again; when each
    thread wrote through its own, every write began by reading its pages back from the file.
    """

    def __init__(self, path: Path, schema: str) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._writer: sqlite3.Connection | None = None
        self._writer_wait_ms = -1
        with self.write_lock():  # the schema too: every write through the one connection
            self.write_connection().executescript(schema)

    def connection(self) -> sqlite3.Connection:
        """This thread's connection, for reads."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            conn.execute(f"PRAGMA busy_timeout={int(self.lock_wait() * 1000)}")
            self._local.conn = conn
        return conn

    def _connect(self, shared: bool = False) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=LOCK_WAIT_S, isolation_level=None, check_same_thread=not shared
        )
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def write_connection(self) -> sqlite3.Connection:
        """The process's connection for writes, waiting for another process's lock as long
        as this thread would. Only under the write lock: one thread uses it at a time."""
        if self._writer is None:
            self._writer = self._connect(shared=True)
        wait_ms = int(self.lock_wait() * 1000)
        if wait_ms != self._writer_wait_ms:
            self._writer.execute(f"PRAGMA busy_timeout={wait_ms}")
            self._writer_wait_ms = wait_ms
        return self._writer

    def lock_wait(self) -> float:
        """How long this thread's writes wait for the lock."""
        return float(getattr(self._local, "lock_wait", LOCK_WAIT_S))

    def set_lock_wait(self, seconds: float) -> None:
        """Make this thread's writes give up after SECONDS when another process (a backup,
        a `sqlite3` shell) holds the database: a background loop would rather fail fast,
        back off and try again than hang, so that it can say what holds it up."""
        self._local.lock_wait = seconds
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:  # else connection() applies it when it opens one
            conn.execute(f"PRAGMA busy_timeout={int(seconds * 1000)}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, taken at once (BEGIN IMMEDIATE) to avoid upgrade deadlocks."""
        # Writers of this process queue on a lock rather than on SQLite's busy handler,
        # which sleeps for up to 100 ms at a time when another thread holds the database.
        with self.write_lock():
            conn = self.write_connection()
            with self._transaction_held(conn):
                yield conn

    @contextmanager
    def write_lock(self) -> Iterator[None]:
        """This process's write lock, waited for no longer than this thread's lock wait."""
        if not self._write_lock.acquire(timeout=self.lock_wait()):
            raise sqlite3.OperationalError(
                "database is locked (another thread of this process waits for it)"
            )
        try:
            yield
        finally:
            self._write_lock.release()

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

    def check_writable(self, wait_s: float = CHECK_LOCK_WAIT_S) -> str | None:
        """None when a write transaction can be taken within WAIT_S, else why not."""
        previous = self.lock_wait()
        try:
            self.set_lock_wait(wait_s)
            with self.transaction():
                pass
        except sqlite3.Error as exc:
            return f"{self.path}: {exc}"
        finally:
            self.set_lock_wait(previous)
        return None

    def add_missing_columns(self, table: str, columns: dict[str, str]) -> None:
        """Add COLUMNS ({name: declaration}) that TABLE lacks: a file made by an older
        version keeps its old table (CREATE TABLE IF NOT EXISTS)."""
        with self.transaction() as conn:
            present = {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}
            for name, declaration in columns.items():
                if name not in present:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {declaration}")


class _Pending(Generic[T, R]):
    __slots__ = ("item", "result", "error", "done", "woken")

    def __init__(self, item: T) -> None:
        self.item = item
        self.result: R | None = None
        self.error: BaseException | None = None
        self.done = False
        self.woken = threading.Event()  # set when done, or when it is this call's turn to write


class Batcher(Generic[T, R]):
    """Calls from many threads, written together: one call at a time leads, and writes every
    waiting item with WRITE_ALL (one transaction) under WRITE_LOCK; the others sleep until
    their item is written, each woken on its own. Each call returns only once its item is
    written. If a batch fails, each item goes again on its own, so that one bad item cannot
    fail the others.

    The waiting calls do not queue on the write lock to find their item written: under load,
    every hand-over of a lock waits for the GIL, and a convoy of finished calls passing the
    lock one by one held up the next batch by as much as the whole batch took.
    """

    def __init__(
        self,
        write_all: Callable[[list[T]], list[R]],
        retry_alone: Callable[[Exception], bool] = lambda exc: True,
        write_lock: threading.Lock | None = None,
    ) -> None:
        self.write_all, self.retry_alone = write_all, retry_alone
        self._queue: list[_Pending[T, R]] = []
        self._queue_lock = threading.Lock()
        self._leading = False  # a call is writing, or about to
        self._write_lock = write_lock or threading.Lock()

    def __call__(self, item: T) -> R:
        pending: _Pending[T, R] = _Pending(item)
        with self._queue_lock:
            self._queue.append(pending)
            lead, self._leading = not self._leading, True
        if not lead:
            pending.woken.wait()
        if not pending.done:  # its turn: it writes what waits, its own item included
            self._lead(pending)
        if pending.error is not None:
            raise pending.error
        return pending.result  # type: ignore[return-value]

    def _lead(self, own: _Pending[T, R]) -> None:
        batch: list[_Pending[T, R]] = []
        try:
            with self._write_lock:
                with self._queue_lock:  # taken under the write lock: all that came meanwhile
                    batch, self._queue = self._queue, []
                self._write(batch)
        finally:
            for pending in batch:
                pending.done = True
                pending.woken.set()
            with self._queue_lock:  # the next waiting call leads, or none does
                if own in self._queue:  # interrupted before it wrote: nobody waits for it
                    self._queue.remove(own)
                if self._queue:
                    self._queue[0].woken.set()
                else:
                    self._leading = False

    def _write(self, batch: list[_Pending[T, R]]) -> None:
        try:
            results = self.write_all([p.item for p in batch])
        except Exception as exc:
            if len(batch) > 1 and self.retry_alone(exc):
                for pending in batch:
                    self._write([pending])
                return
            for pending in batch:
                pending.error = exc
        except BaseException as exc:
            for pending in batch:
                pending.error = exc
            raise
        else:
            for pending, result in zip(batch, results, strict=True):
                pending.result = result


class GroupCommit(Batcher[T, R]):
    """Writes from many threads, committed together: one transaction for all that are waiting.

    A thread queues its item; the first to find no write under way takes the database's
    write lock and writes every queued item in one transaction (WRITE_ALL, on the connection),
    so the others find theirs done when they are woken. Under load this turns N small
    transactions into a few larger ones with no extra thread and no added latency when there
    is no load. Each call still returns only after its item is committed.
    """

    def __init__(
        self, db: Database, write_all: Callable[[sqlite3.Connection, list[T]], list[R]]
    ) -> None:
        def in_transaction(items: list[T]) -> list[R]:
            conn = db.write_connection()
            with db._transaction_held(conn):
                return write_all(conn, items)

        super().__init__(in_transaction, write_lock=db._write_lock)
