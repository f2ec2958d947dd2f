"""GroupCommit: writes from many threads share transactions, and each one still lands."""

from __future__ import annotations

import sqlite3
import threading
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
