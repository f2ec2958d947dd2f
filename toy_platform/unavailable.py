"""What a service depends on cannot be used right now: its store, or its queue's broker.

Each backend translates its driver's errors (sqlite3, psycopg, kombu, redis-py) into one of
these itself; the services answer all of them the same way (errors.py): 503 with
Retry-After, naming what is down, never a 500. Nothing was stored or queued, so the caller
may send the same request again — unless the connection broke during the commit itself,
when the answer says that it may have been (`maybe_done`).
"""

from __future__ import annotations


class Unavailable(Exception):
    """A dependency is down or busy; its message names it (any password masked).

    MAYBE_DONE: the connection was lost while the change was being committed, so whether it
    was made is not known (the answer says so, and how to find out safely)."""

    code = "unavailable"
    retry_after_s = 5

    def __init__(self, message: str, maybe_done: bool = False) -> None:
        super().__init__(message)
        self.maybe_done = maybe_done

    def answer(self) -> str:
        """The error text a caller of the API reads."""
        return f"A service this one needs cannot be used right now ({self}); try again shortly"

    def answer_text(self) -> str:
        if not self.maybe_done:
            return self.answer()
        return self.answer() + (
            ". The connection was lost while your change was being saved, so it may have"
            " been saved: send the same request again (with the same Idempotency-Key for a"
            " submit) and it is done once"
        )


class StoreUnavailable(Unavailable):
    """A service's own store cannot be reached or written right now."""

    code = "store_unavailable"

    def answer(self) -> str:
        return f"The service's store cannot be used right now ({self}); try again shortly"


class QueueUnavailable(Unavailable):
    """The queue cannot take or purge jobs now (its broker is down): the middleware keeps
    the jobs and sends them again.

    QUEUED_FIRST: how many new jobs of a batch the queue took before it failed (a resend
    finds them held, not new: they are counted now)."""

    code = "queue_unavailable"

    def __init__(self, message: str, maybe_done: bool = False, queued_first: int = 0) -> None:
        super().__init__(message, maybe_done)
        self.queued_first = queued_first

    def answer(self) -> str:
        return f"The queue cannot be used now: {self}"
