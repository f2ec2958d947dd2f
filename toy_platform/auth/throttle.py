"""Slows down password guessing: too many failed logins lock a user or an address out."""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict, deque

WINDOW_S = 15 * 60
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_ADDRESS = 20


class LoginThrottle:
    """Counts failed logins in a sliding window, per username and per client address."""

    def __init__(
        self,
        window_s: float = WINDOW_S,
        per_user: int = MAX_FAILURES_PER_USER,
        per_address: int = MAX_FAILURES_PER_ADDRESS,
    ) -> None:
        self.window_s = window_s
        self.limits = {"user": per_user, "address": per_address}
        self._failures: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def retry_after(self, username: str, address: str) -> int:
        """Seconds until this user and address may try again; 0 when they may now."""
        now = time.monotonic()
        waits = [0.0]
        with self._lock:
            for key in (("user", username), ("address", address)):
                times = self._prune(key, now)
                if len(times) >= self.limits[key[0]]:
                    waits.append(times[0] + self.window_s - now)
        return math.ceil(max(waits))

    def record_failure(self, username: str, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._failures[("user", username)].append(now)
            self._failures[("address", address)].append(now)

    def record_success(self, username: str) -> None:
        with self._lock:
            self._failures.pop(("user", username), None)

    def _prune(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures[key]
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times
