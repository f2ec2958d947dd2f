"""Jobs: submit a job, see your jobs (refreshed while any is unfinished) and their timelines."""

from __future__ import annotations

import functools
import logging
from typing import Any

import pandas as pd
import streamlit as st

from dashboard_streamlit import session
from toy_platform.client import Job, PlatformClient
from toy_platform.jobs.model import STATUSES

logger = logging.getLogger("dashboard_streamlit.jobs")

STATUS_BADGES = {
    "queued": ":gray[:material/schedule:]",
    "running": ":blue[:material/autorenew:]",
    "succeeded": ":green[:material/check_circle:]",
    "failed": ":red[:material/error:]",
}
MAX_JOB_NAME = 200
LIST_LIMIT = 200
REFRESH_S = 1.0
UNFINISHED_KEY = "jobs_unfinished"
SELECTED_KEY = "selected_job"
ALL = "all"

client = session.require_client()

st.title("Jobs")
session.show_flash()


# -- submitting ----------------------------------------------------------------


def validate(job_name: str, data: str) -> list[str]:
    problems = []
    if not job_name.strip():
        problems.append("Enter a job name.")
    elif len(job_name) > MAX_JOB_NAME:
        problems.append(f"The job name is {len(job_name)} characters; at most {MAX_JOB_NAME}.")
    if not data:
        problems.append("Enter the data to process.")
    return problems


def submit_form(client: PlatformClient) -> None:
    with st.form("submit_job", border=True):
        st.subheader("Submit a job")
        name_col, data_col = st.columns([1, 2])
        job_name = name_col.text_input(
            "Job name",
            key="job_name",
            placeholder="greeting",
            help=f"1 to {MAX_JOB_NAME} characters",
        )
        data = data_col.text_input("Data", key="job_data", placeholder="hello")
        submitted = st.form_submit_button("Submit", type="primary", icon=":material/send:")
    if not submitted:
        return
    problems = validate(job_name, data)
    for problem in problems:
        st.error(problem)
    if problems:
        return
    rid = session.request_id()
    job = session.call(
        lambda: client.submit_job(job_name.strip(), data, request_id=rid), "submit the job"
    )
    if job is None:
        return
    logger.info(
        "job submitted from the dashboard",
        extra={
            "event": "job_submitted",
            "job_id": job["job_id"],
            "request_id": rid,
            "username": client.username,
            "job_name": job["job_name"],
        },
    )
    st.session_state[SELECTED_KEY] = job["job_id"]
    st.session_state[UNFINISHED_KEY] = True
    st.success(f"Job **{session.md(job['job_name'])}** submitted ({job['job_id']}).")


# -- the list --------------------------------------------------------------------


def counts_by_status(
    client: PlatformClient, jobs: list[Job], total: int, filtered: bool
) -> dict[str, int] | None:
    """The user's jobs per status: from the page when it holds them all, else one call each."""
    if not filtered and total <= len(jobs):
        return {s: sum(1 for j in jobs if j.get("status") == s) for s in STATUSES}
    counts: dict[str, int] = {}
    for status in STATUSES:
        page = session.call(
            functools.partial(client.list_jobs, status=status, limit=1), "count your jobs"
        )
        if page is None:
            return None
        counts[status] = page["total"]
    return counts


def jobs_frame(jobs: list[Job]) -> pd.DataFrame:
    rows: list[dict[str, Any]] = [
        {
            "status": j.get("status"),
            "job_name": j.get("job_name"),
            "created_at": j.get("created_at"),
            "completed_at": j.get("completed_at"),
            "result": j.get("result") if j.get("status") != "failed" else j.get("error"),
            "attempt": j.get("attempt"),
            "job_id": j.get("job_id"),
        }
        for j in jobs
    ]
    frame = pd.DataFrame(
        rows,
        columns=["status", "job_name", "created_at", "completed_at", "result", "attempt", "job_id"],
    )
    for column in ("created_at", "completed_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True, errors="coerce")
    return frame


COLUMNS = {
    "status": st.column_config.TextColumn("Status", width="small"),
    "job_name": st.column_config.TextColumn("Job name"),
    "created_at": st.column_config.DatetimeColumn("Created", format="YYYY-MM-DD HH:mm:ss"),
    "completed_at": st.column_config.DatetimeColumn("Finished", format="YYYY-MM-DD HH:mm:ss"),
    "result": st.column_config.TextColumn("Result / error", width="large"),
    "attempt": st.column_config.NumberColumn("Attempt", width="small"),
    "job_id": st.column_config.TextColumn("Job ID"),
}


def job_label(job: Job) -> str:
    created = (job.get("created_at") or "")[:19].replace("T", " ")
    return f"{job.get('job_name')} · {created} · {job.get('job_id', '')[:8]}"


@session.guarded
def jobs_section(client: PlatformClient) -> None:
    """The list, chart and detail; a fragment that reruns itself while jobs are unfinished."""
    if session.client() is None:  # logged out meanwhile (e.g. in another fragment run)
        st.rerun()
    st.subheader("Your jobs")
    choice = st.segmented_control("Status", [ALL, *STATUSES], default=ALL, key="status_filter")
    status: str | None = None if choice in (None, ALL) else choice
    page = session.call(lambda: client.list_jobs(status=status, limit=LIST_LIMIT), "list your jobs")
    if page is None:
        if not st.session_state.get(UNFINISHED_KEY):
            st.session_state[UNFINISHED_KEY] = True
            st.rerun()  # keep trying, so the list comes back by itself with the middleware
        return
    jobs = page["jobs"]
    counts = counts_by_status(client, jobs, page["total"], status is not None)
    unfinished = counts is not None and (counts["queued"] + counts["running"]) > 0
    if unfinished != bool(st.session_state.get(UNFINISHED_KEY)):
        st.session_state[UNFINISHED_KEY] = unfinished
        st.rerun()  # redraw the fragment with (or without) its automatic refresh

    table_col, chart_col = st.columns([3, 1])
    with table_col:
        if not jobs:
            st.info("No jobs yet — submit one above." if status is None else f"No {status} jobs.")
        else:
            shown = f"{len(jobs)} of {page['total']}" if page["total"] > len(jobs) else len(jobs)
            st.caption(
                f"{shown} job(s), newest first"
                + (" · refreshing while jobs are unfinished" if unfinished else "")
            )
            st.dataframe(jobs_frame(jobs), column_config=COLUMNS, hide_index=True, key="jobs_table")
    with chart_col:
        if counts is not None and any(counts.values()):
            chart = pd.DataFrame({"status": list(counts), "jobs": list(counts.values())})
            st.caption("Jobs by status")
            st.bar_chart(
                chart,
                x="status",
                y="jobs",
                horizontal=True,
                sort=False,
                x_label="",
                y_label="",
                height=180,
            )
    if jobs:
        job_detail(client, jobs)


def job_detail(client: PlatformClient, jobs: list[Job]) -> None:
    by_id = {j["job_id"]: j for j in jobs}
    if st.session_state.get(SELECTED_KEY) not in by_id:
        st.session_state.pop(SELECTED_KEY, None)
    st.subheader("Job detail")
    job_id = st.selectbox(
        "Job", list(by_id), format_func=lambda i: job_label(by_id[i]), key=SELECTED_KEY
    )
    if job_id is None:
        return
    job = session.call(lambda: client.get_job(job_id), "read the job")
    if job is None:
        return
    status = job.get("status", "")
    info, timeline = st.columns([1, 2])
    with info:
        name = session.md(job.get("job_name"))
        st.markdown(f"**{name}** — {STATUS_BADGES.get(status, '')} `{status}`")
        st.caption(f"ID {job.get('job_id')} · attempt {job.get('attempt', 1)}")
        if job.get("result") is not None:
            st.markdown("Result")
            st.code(job.get("result") or "", language=None)
        if job.get("error"):
            st.error(f"Error: {session.md(job.get('error'))}")
        if status == "failed" and st.button(
            "Retry", key=f"retry_{job_id}", icon=":material/replay:"
        ):
            retried = session.call(lambda: client.retry_job(job_id), "retry the job")
            if retried is not None:
                logger.info(
                    "job retried from the dashboard",
                    extra={"event": "job_retried", "job_id": job_id},
                )
                session.flash("success", f"Job {name} queued again.")
                st.session_state[UNFINISHED_KEY] = True
                st.rerun()
    with timeline:
        st.caption("Timeline")
        events = pd.DataFrame(job.get("events", []), columns=["at", "status", "service", "detail"])
        events["at"] = pd.to_datetime(events["at"], utc=True, errors="coerce")
        events["detail"] = events["detail"].fillna("")
        st.dataframe(
            events,
            hide_index=True,
            key="job_events",
            column_config={
                "at": st.column_config.DatetimeColumn("At", format="HH:mm:ss.SSS"),
                "status": st.column_config.TextColumn("Status"),
                "service": st.column_config.TextColumn("Service"),
                "detail": st.column_config.TextColumn("Detail"),
            },
        )


def core_warning() -> None:
    """Say so when the core is down: new jobs then wait in the middleware until it is back."""
    status = session.status_snapshot()
    if isinstance(status, dict):
        core = status.get("components", {}).get("core", {})
        if not core.get("up", True):
            st.warning(
                "The core is down: new jobs wait in the queue until it is back"
                f" ({core.get('reason') or 'not answering'})."
            )


core_warning()
submit_form(client)
refresh = REFRESH_S if st.session_state.get(UNFINISHED_KEY) else None
st.fragment(run_every=refresh)(jobs_section)(client)
