"""Database and GroupCommit: the writes of many threads go through one connection and share
transactions, and each one still lands."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from toy_platform.db import Batcher, Database, GroupCommit

SCHEMA = "CREATE TABLE IF NOT EXISTS items (value INTEGER NOT NULL UNIQUE);"


def insert(conn: sqlite3.Connection, values: list[int]) -> list[int]:
    conn.executemany("INSERT INTO items (value) VALUES (?)", [(value,) for value in values])
    return [value * 10 for value in values]


def write_together(
    db: Database, commit: GroupCommit[int, int], threads: list[threading.Thread]
) -> None:
    """Start THREADS while the write lock is held, so they all queue before one of them writes."""
    with db._write_lock:
        for thread in threads:
            thread.start()
        while len(commit._queue) < len(threads):
            threading.Event().wait(0.001)
    for thread in threads:
        thread.join()


def stored(db: Database) -> list[int]:
    return [row["value"] for row in db.query("SELECT value FROM items ORDER BY value")]


def test_a_lone_write_is_committed_and_returns_its_result(tmp_path: Path) -> None:
    db = Database(tmp_path / "t.db", SCHEMA)
    assert GroupCommit(db, insert)(7) == 70
    assert stored(Database(tmp_path / "t.db", SCHEMA)) == [7]


def test_waiting_writers_share_a_transaction(tmp_path: Path) -> None:
    db = Database(tmp_path / "t.db", SCHEMA)
    transactions = 0
    original = db._transaction_held

    def counting(conn: sqlite3.Connection):  # type: ignore[no-untyped-def]
        nonlocal transactions
        transactions += 1
        return original(conn)

    db._transaction_held = counting  # type: ignore[method-assign]
    commit = GroupCommit(db, insert)
    results: dict[int, int] = {}

    def write(value: int) -> None:
        results[value] = commit(value)

    write_together(db, commit, [threading.Thread(target=write, args=(n,)) for n in range(40)])
    assert results == {n: n * 10 for n in range(40)}
    assert stored(db) == list(range(40))
    assert transactions == 1


def test_one_failing_write_does_not_fail_the_others(tmp_path: Path) -> None:
    db = Database(tmp_path / "t.db", SCHEMA)
    commit = GroupCommit(db, insert)
    commit(3)
    outcomes: dict[int, object] = {}

    def write(value: int) -> None:
        try:
            outcomes[value] = commit(value)
        except sqlite3.IntegrityError as exc:
            outcomes[value] = exc

    write_together(db, commit, [threading.Thread(target=write, args=(n,)) for n in (1, 2, 3, 4)])
    assert outcomes[1] == 10 and outcomes[2] == 20 and outcomes[4] == 40
    assert isinstance(outcomes[3], sqlite3.IntegrityError)
    assert stored(db) == [1, 2, 3, 4]


def test_a_failing_lone_write_raises_and_leaves_nothing(tmp_path: Path) -> None:
    db = Database(tmp_path / "t.db", SCHEMA)
    commit = GroupCommit(db, insert)
    commit(1)
    with pytest.raises(sqlite3.IntegrityError):
        commit(1)
    assert stored(db) == [1]


def test_calls_that_come_while_a_batch_is_written_go_together_in_the_next_one(
    tmp_path: Path,
) -> None:
    db = Database(tmp_path / "t.db", SCHEMA)
    batches: list[list[int]] = []
    others_queued = threading.Event()

    def slow_insert(conn: sqlite3.Connection, values: list[int]) -> list[int]:
        batches.append(list(values))
        if len(batches) == 1:  # the first call writes alone while the others come
            assert others_queued.wait(10)
        return insert(conn, values)

    commit = GroupCommit(db, slow_insert)
    results: dict[int, int] = {}

    def write(value: int) -> None:
        results[value] = commit(value)

    first = threading.Thread(target=write, args=(0,))
    first.start()
    while not batches:
        threading.Event().wait(0.001)
    others = [threading.Thread(target=write, args=(n,)) for n in range(1, 11)]
    for thread in others:
        thread.start()
    while len(commit._queue) < 10:
        threading.Event().wait(0.001)
    others_queued.set()
    for thread in [first, *others]:
        thread.join(10)
    assert results == {n: n * 10 for n in range(11)}
    assert batches[0] == [0] and sorted(batches[1]) == list(range(1, 11)) and len(batches) == 2
    assert stored(db) == list(range(11))
    assert not commit._leading  # the next call leads at once
    assert commit(11) == 110


class _Interrupted(BaseException):
    pass


def test_a_leading_call_interrupted_before_it_writes_hands_the_lead_on(tmp_path: Path) -> None:
    """A call stopped (an interrupt) while it waits for the write lock leaves its item
    unwritten, and the next waiting call leads instead of waiting for ever."""
    written: list[list[int]] = []
    batcher_queue: list[object] = []

    class FirstEntryInterrupted:
        """A write lock whose first taker is interrupted once another call is waiting."""

        def __init__(self) -> None:
            self.lock, self.entries = threading.Lock(), 0

        def __enter__(self) -> None:
            self.entries += 1
            if self.entries == 1:
                while len(batcher_queue[0]._queue) < 2:  # type: ignore[attr-defined]
                    threading.Event().wait(0.001)
                raise _Interrupted
            self.lock.acquire()

        def __exit__(self, *exc: object) -> None:
            self.lock.release()

    def write_all(items: list[int]) -> list[int]:
        written.append(list(items))
        return [item * 10 for item in items]

    batcher: Batcher[int, int] = Batcher(write_all, write_lock=FirstEntryInterrupted())  # type: ignore[arg-type]
    batcher_queue.append(batcher)
    outcomes: dict[int, object] = {}

    def call(value: int) -> None:
        try:
            outcomes[value] = batcher(value)
        except _Interrupted as exc:
            outcomes[value] = exc

    first = threading.Thread(target=call, args=(1,))
    first.start()
    while not batcher._queue:
        threading.Event().wait(0.001)
    second = threading.Thread(target=call, args=(2,))
    second.start()
    first.join(10)
    second.join(10)
    assert isinstance(outcomes[1], _Interrupted) and outcomes[2] == 20
    assert written == [[2]] and not batcher._leading and batcher(3) == 30


def _read_calls() -> int | None:
    """The read system calls this process has made so far (Linux only), else None."""
    try:
        with open("/proc/self/io") as io:
            return next(int(line.split()[1]) for line in io if line.startswith("syscr"))
    except (OSError, StopIteration):
        return None


def test_threads_write_through_one_connection_that_keeps_its_pages(tmp_path: Path) -> None:
    """A connection drops its cached pages when another connection has written since its
    last transaction: with one connection for each thread's writes, each write of a thread
    after another's began by reading its pages back from the file (two reads a write here)."""
    db = Database(tmp_path / "t.db", SCHEMA)
    used: set[int] = set()
    turns = [threading.Semaphore(0), threading.Semaphore(0)]

    def write(value: int) -> None:
        with db.transaction() as conn:
            used.add(id(conn))
            conn.execute("INSERT INTO items (value) VALUES (?)", (value,))

    def take_turns(me: int) -> None:
        for n in range(100):
            turns[me].acquire()
            write(2 * n + me)
            turns[1 - me].release()

    write(-1)
    threads = [threading.Thread(target=take_turns, args=(me,)) for me in (0, 1)]
    before = _read_calls()
    for thread in threads:
        thread.start()
    turns[0].release()
    for thread in threads:
        thread.join(10)
    after = _read_calls()

    assert len(used) == 1
    assert stored(db) == list(range(-1, 200))
    if before is not None and after is not None:
        assert (after - before) / 200 < 0.5


def test_each_thread_waits_for_another_process_lock_as_long_as_it_asked(tmp_path: Path) -> None:
    """The one write connection waits for a lock held outside this process (a backup, a
    sqlite3 shell) as long as the thread using it asked: a loop gives up soon, a request
    waits."""
    db = Database(tmp_path / "t.db", SCHEMA)
    outside = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    outcomes: dict[str, object] = {}

    def write(name: str, wait_s: float, value: int) -> None:
        db.set_lock_wait(wait_s)
        started = time.monotonic()
        try:
            with db.transaction() as conn:
                conn.execute("INSERT INTO items (value) VALUES (?)", (value,))
            outcomes[name] = "written"
        except sqlite3.OperationalError as exc:
            outcomes[name] = str(exc)
        outcomes[f"{name} took"] = time.monotonic() - started

    def in_thread(name: str, wait_s: float, value: int) -> threading.Thread:
        thread = threading.Thread(target=write, args=(name, wait_s, value))
        thread.start()
        return thread

    outside.execute("BEGIN IMMEDIATE")
    patient = in_thread("patient", 30.0, 1)
    time.sleep(0.3)
    outside.execute("ROLLBACK")
    patient.join(10)
    outside.execute("BEGIN IMMEDIATE")
    in_thread("impatient", 0.05, 2).join(10)
    outside.execute("ROLLBACK")
    outside.close()

    assert outcomes["patient"] == "written"
    assert outcomes["impatient"] == "database is locked"
    assert outcomes["impatient took"] < 5  # its own wait, not the 30 s the last writer had
    assert stored(db) == [1]
