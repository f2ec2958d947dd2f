"""Turning the platform status into rows and words (no Streamlit calls, easy to test)."""

from __future__ import annotations

from typing import Any, Literal

from toy_platform.client import ComponentStatus, PlatformStatus
from toy_platform.config import SERVICES_BY_PATH

State = Literal["ready", "up", "down"]
COMPONENTS = SERVICES_BY_PATH


def component_state(component: ComponentStatus) -> State:
    if not component.get("up"):
        return "down"
    return "ready" if component.get("ready") else "up"


def component_rows(status: PlatformStatus) -> list[dict[str, Any]]:
    components = status.get("components", {})
    rows = []
    for name in COMPONENTS:
        c = components.get(name, {})
        rows.append(
            {
                "component": name,
                "state": component_state(c),
                "reason": c.get("reason") or "",
                "latency_ms": c.get("latency_ms"),
                "restarts": c.get("restarts"),
                "last_exit_code": c.get("last_exit_code"),
                "uptime_s": c.get("uptime_s"),
                "version": c.get("version") or "",
                "url": c.get("url") or "",
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
