"""The sidebar of a logged-in user: the greeting, Logout, and a platform status summary."""

from __future__ import annotations

import streamlit as st

from dashboard_streamlit import session
from dashboard_streamlit.status_view import component_state
from toy_platform.client import PlatformError
from toy_platform.config import SERVICES_BY_PATH

STATE_ICONS = {
    "ready": ":green[:material/check_circle:]",
    "up": ":orange[:material/warning:]",
    "down": ":red[:material/cancel:]",
}


def render() -> None:
    with st.sidebar:
        st.subheader(f"Hi {session.md(session.username())}")
        st.button("Logout", key="logout", on_click=session.logout, icon=":material/logout:")
        st.divider()
        st.caption("Platform")
        status = session.status_snapshot()
        if isinstance(status, PlatformError):
            st.error(session.describe(status, "read the platform status"))
        elif status:
            components = status.get("components", {})
            lines = []
            for name in SERVICES_BY_PATH:
                state = component_state(components.get(name, {}))
                lines.append(f"{STATE_ICONS[state]} {name}: {state}")
            st.markdown("  \n".join(lines))
            queue = status.get("queue_size")
            st.caption(f"Queue: {queue if queue is not None else 'unknown'}")
