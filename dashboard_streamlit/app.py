"""The Streamlit dashboard's entry file: page config, navigation, and the sidebar.

Run by `toy-platform serve` / `toy-platform dashboard` as
`python -m streamlit run <package>/dashboard_streamlit/app.py ...`. Logged out, the
only page is the login form; logged in, the Jobs and Platform status pages.

The tab's icon (page_icon) is an emoji: Streamlit draws an emoji favicon itself, as an
inline SVG, but fetches a `:material/...:` favicon from fonts.gstatic.com, which fails
offline. Material icons on the page (the pages' icons in the sidebar included) are drawn with
the font Streamlit ships; a page's icon would only become the favicon if page_icon were unset.
"""

from __future__ import annotations

import streamlit as st

from dashboard_streamlit import session, sidebar

PAGE_ICON = "🧸"

st.set_page_config(page_title="toy-platform", page_icon=PAGE_ICON, layout="wide")
session.settings()  # settings and logging, once per process

if session.client() is None:
    pages = [
        st.Page(
            "app_pages/login.py",
            title="Log in",
            icon=":material/login:",
            url_path="login",
            default=True,
        )
    ]
    navigation = st.navigation(pages, position="hidden")
else:
    pages = [
        st.Page(
            "app_pages/jobs.py", title="Jobs", icon=":material/work:", url_path="jobs", default=True
        ),
        st.Page(
            "app_pages/status.py",
            title="Platform status",
            icon=":material/monitor_heart:",
            url_path="status",
        ),
    ]
    navigation = st.navigation(pages, position="sidebar")

with session.guard():
    navigation.run()
    if session.client() is not None:
        sidebar.render()  # after the page, so it shows the status the page may just have read
