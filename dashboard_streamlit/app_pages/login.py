"""The login form."""

from __future__ import annotations

import streamlit as st

from dashboard_streamlit import session

st.title("toy-platform")
st.caption("Log in to submit jobs and watch the platform.")
session.show_flash()

left, _ = st.columns([1, 2])
with left, st.form("login", border=True):
    name = st.text_input("Username", key="username", autocomplete="username")
    password = st.text_input(
        "Password", key="password", type="password", autocomplete="current-password"
    )
    submitted = st.form_submit_button("Log in", type="primary", icon=":material/login:")

if submitted:
    if not name.strip() or not password:
        left.error("Enter both a username and a password.")
    else:
        with st.spinner("Logging in…"):
            problem = session.login(name.strip(), password)
        if problem is None:
            st.rerun()
        left.error(problem)
