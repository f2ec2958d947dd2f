"""Turning the platform status into rows and words (no Streamlit calls, easy to test)."""

from __future__ import annotations

from typing import Any, Literal

from dashboard_streamlit import formatting
from toy_platform.client import ComponentStatus, PlatformStatus
from toy_platform.config import SERVICES_BY_PATH

State = Literal["ready", "up", "down"]
COMPONENTS = SERVICES_BY_PATH


def component_state(component: ComponentStatus) -> State:
    if not component.get("up"):
        return "down"
    return "ready" if component.get("ready") else "up"


COLUMN_ORDER = (
    "component",
    "state",
    "latency",
    "restarts",
    "last_exit_code",
    "uptime",
    "version",
    "url",
    "reason",
)
"""The components table's columns: the short ones first, with fixed widths, and the reason,
which can be long, last, so it takes the width left and nothing is pushed out of view."""


def component_rows(status: PlatformStatus) -> list[dict[str, Any]]:
    """The components table: every cell text, a dash where a value is missing."""
    components = status.get("components", {})
    rows = []
    for name in COMPONENTS:
        c = components.get(name, {})
        rows.append(
            {
                "component": name,
                "state": component_state(c),
                "latency": formatting.latency(name, c.get("latency_ms")),
                "restarts": formatting.cell(c.get("restarts")),
                "last_exit_code": formatting.cell(c.get("last_exit_code")),
                "uptime": formatting.duration(c.get("uptime_s")),
                "version": formatting.cell(c.get("version")),
                "url": formatting.cell(c.get("url")),
                "reason": c.get("reason") or "",
            }
        )
    return rows


def not_ready(status: PlatformStatus) -> list[str]:
    """One line per component that is not ready, with the reason."""
    lines = []
    for row in component_rows(status):
        if row["state"] != "ready":
            why = f": {row['reason']}" if row["reason"] else ""
            state = "up but not ready" if row["state"] == "up" else row["state"]
            lines.append(f"{row['component']} is {state}{why}")
    return lines
