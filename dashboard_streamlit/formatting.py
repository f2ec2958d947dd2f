"""How values read in the dashboard's tables and captions (no Streamlit calls, easy to test).

A missing value is a dash, not Python's `None`; times are the local clock, as
`toy-platform status` shows them; a result that is not text is JSON.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

MISSING = "—"
OWN_LATENCY = "middleware"
"""The component platform_status is asked of: it answers for itself, with latency_ms 0.0
(it measured nothing), so its latency is shown as missing."""


def cell(value: Any) -> str:
    """VALUE as a table cell: a dash for None (or NaN), JSON for lists and objects."""
    if value is None or (isinstance(value, float) and value != value):
        return MISSING
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def local_clock(value: Any) -> str:
    """An ISO time as HH:MM:SS local time; a dash when missing, the text when not a time."""
    moment = parse_time(value)
    if moment is None:
        return MISSING if value in (None, "") else str(value)
    return moment.astimezone().strftime("%H:%M:%S")


def local_clock_ms(value: Any) -> str:
    """An ISO time as HH:MM:SS.mmm local time (a timeline's steps are often ms apart)."""
    moment = parse_time(value)
    if moment is None:
        return MISSING if value in (None, "") else str(value)
    return moment.astimezone().strftime("%H:%M:%S.%f")[:-3]


def local_datetime(value: Any) -> str:
    """An ISO time as YYYY-MM-DD HH:MM:SS local time; a dash when missing."""
    moment = parse_time(value)
    if moment is None:
        return MISSING if value in (None, "") else str(value)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def latency(component: str, latency_ms: float | None) -> str:
    """A probe's latency: `<0.1 ms` rather than `0.0 ms`; a dash for none, and for the
    middleware, which platform_status does not probe (it is the one answering)."""
    if latency_ms is None or component == OWN_LATENCY:
        return MISSING
    if latency_ms < 0.1:
        return "<0.1 ms"
    return f"{latency_ms:.1f} ms" if latency_ms < 100 else f"{latency_ms:.0f} ms"


def number(value: float | int | None, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return MISSING
    if isinstance(value, float):
        return f"{value:.{digits}f}{unit}"
    return f"{value}{unit}"


def duration(seconds: float | None) -> str:
    """An uptime or age for people: 42 s, 3m05s, 2h04m, 3d02h."""
    if seconds is None:
        return MISSING
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def result_text(result: Any) -> str:
    """A job's result for its detail: the text itself, else JSON indented for reading."""
    if isinstance(result, str):
        return result
    return json.dumps(result, indent=2, ensure_ascii=False)
