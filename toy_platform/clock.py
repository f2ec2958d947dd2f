"""Times as the platform writes and reads them: ISO 8601, UTC, to the millisecond."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any


def utc_now() -> str:
    """Now, as every service stamps jobs, events and records."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def utc_ago(seconds: float) -> str:
    """That long ago, written as utc_now writes times (so the two compare as text)."""
    moment = datetime.now(timezone.utc) - timedelta(seconds=seconds)
    return moment.isoformat(timespec="milliseconds")


def parse_time(value: Any) -> datetime | None:
    """An ISO-8601 time (a log record's, a record's) as an aware datetime, UTC when it has no
    zone; None when it is not one."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
