"""Platform status: each component up/down/ready with the reason, the queue and job counts."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard_streamlit import formatting, session
from dashboard_streamlit.status_view import (
    COLUMN_ORDER,
    COMPONENTS,
    component_rows,
    component_state,
    not_ready,
)
from toy_platform.client import PlatformClient

REFRESH_S = 5.0
STATE_LABELS = {
    "ready": ":green[:material/check_circle: **ready**]",
    "up": ":orange[:material/warning: **up, not ready**]",
    "down": ":red[:material/cancel: **down**]",
}

client = session.require_client()

st.title("Platform status")
session.show_flash()


fmt = formatting.number
COLUMNS = {
    "component": st.column_config.TextColumn("Component", width=110),
    "state": st.column_config.TextColumn("State", width=80),
    "latency": st.column_config.TextColumn("Latency", width=80),
    "restarts": st.column_config.TextColumn("Restarts", width=70),
    "last_exit_code": st.column_config.TextColumn("Last exit", width=70),
    "uptime": st.column_config.TextColumn("Uptime", width=80),
    "version": st.column_config.TextColumn("Version", width=80),
    "url": st.column_config.TextColumn("URL", width=190),
    "reason": st.column_config.TextColumn("Reason"),
}


@st.fragment(run_every=REFRESH_S)
@session.guarded
def status_section(client: PlatformClient) -> None:
    if session.client() is None:
        st.rerun()
    status = session.call(client.platform_status, "read the platform status")
    if status is None:
        return
    session.remember_status(status)
    problems = not_ready(status)
    if problems:
        st.error("Not everything is ready: " + "; ".join(problems))
    else:
        st.success("All components are up and ready.")

    components = status.get("components", {})
    for column, name in zip(st.columns(len(COMPONENTS)), COMPONENTS, strict=True):
        c = components.get(name, {})
        with column.container(border=True):
            st.markdown(f"**{name}**")
            st.markdown(STATE_LABELS[component_state(c)])
            if c.get("reason"):
                st.caption(str(c.get("reason")))
            st.caption(
                f"latency {formatting.latency(name, c.get('latency_ms'))}"
                f" · restarts {fmt(c.get('restarts'))}"
            )

    st.subheader("Components")
    st.dataframe(
        pd.DataFrame(component_rows(status), columns=list(COLUMN_ORDER)),
        hide_index=True,
        key="components_table",
        width="stretch",
        column_order=COLUMN_ORDER,
        column_config=COLUMNS,
    )

    st.subheader("Queue and jobs")
    queue, waiting, callbacks, oldest = st.columns(4)
    queue.metric("Core queue size", fmt(status.get("queue_size")))
    waiting.metric("Waiting for the core", fmt(status.get("jobs_waiting_for_core")))
    callbacks.metric("Callbacks pending", fmt(status.get("callbacks_pending")))
    oldest.metric("Oldest queued job", formatting.duration(status.get("oldest_queued_age_s")))
    counts = status.get("jobs_by_status") or {}
    if counts:
        st.caption("Jobs on the platform (all users)")
        count_cols = st.columns(len(counts))
        for column, (name, count) in zip(count_cols, counts.items(), strict=True):
            column.metric(f"Jobs {name}", count)
    st.subheader("Job types")
    types = session.call(client.job_types, "read the job types")
    for line in job_type_lines(types):
        st.markdown(line)
    checked = formatting.local_clock(status.get("checked_at"))
    st.caption(f"Checked at {checked} · refreshes every {REFRESH_S:g} s")


def job_type_lines(types: list[Any] | None) -> list[str]:
    """A line per job type: who offers it, or why nobody does."""
    if types is None:
        return ["The job types cannot be read now."]
    lines = []
    for info in types:
        if info["available"]:
            who = ", ".join(info["offered_by"]) or "the platform"
            lines.append(f"- **{info['name']}** — offered by {who}")
        else:
            lines.append(f"- **{info['name']}** — :orange[not offered: {info['reason']}]")
    return lines


status_section(client)
