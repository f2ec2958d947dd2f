"""SQLite in WAL mode with one connection per thread and short transactions."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


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
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
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
