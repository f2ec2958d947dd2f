"""What a service depends on cannot be used right now: its store, or its queue's broker.

Each backend translates its driver's errors (sqlite3, psycopg, kombu, redis-py) into one of
these itself; the services answer all of them the same way (errors.py): 503 with
Retry-After, naming what is down, never a 500. Nothing was stored or queued, so the caller
may send the same request again.
"""

from __future__ import annotations


class Unavailable(Exception):
    """A dependency is down or busy; its message names it (any password masked)."""

    code = "unavailable"
    retry_after_s = 5

    def answer(self) -> str:
        """The error text a caller of the API reads."""
        return f"A service this one needs cannot be used right now ({self}); try again shortly"


class StoreUnavailable(Unavailable):
    """A service's own store cannot be reached or written right now."""

    code = "store_unavailable"

    def answer(self) -> str:
        return f"The service's store cannot be used right now ({self}); try again shortly"


class QueueUnavailable(Unavailable):
    """The queue cannot take or purge jobs now (its broker is down): the middleware keeps
    the jobs and sends them again."""

    code = "queue_unavailable"

    def answer(self) -> str:
        return f"The queue cannot be used now: {self}"
