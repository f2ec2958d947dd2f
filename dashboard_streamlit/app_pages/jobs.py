"""Jobs: submit a job of any type, see your jobs (refreshed while any is unfinished), their
progress and timelines, and cancel or retry them."""

from __future__ import annotations

import functools
import logging
from typing import Any

import pandas as pd
import streamlit as st

from dashboard_streamlit import formatting, schema_form, session
from dashboard_streamlit.jobs_view import (
    FALLBACK_TYPES,
    STATUS_BADGES,
    can_cancel,
    cancelling,
    default_type,
    events_frame,
    job_label,
    jobs_frame,
    progress_of,
    progress_text,
    type_label,
    unavailable_note,
)
from dashboard_streamlit.paging import PAGE_SIZE, Position, range_text
from toy_platform.client import Job, JobTypeInfo, PlatformClient, PlatformError
from toy_platform.jobs.model import STATUSES

logger = logging.getLogger("dashboard_streamlit.jobs")

MAX_JOB_NAME = 200
REFRESH_S = 1.0
UNFINISHED_KEY = "jobs_unfinished"
SELECTED_KEY = "selected_job"
TYPE_KEY = "job_type"
NAME_KEY = "job_name"
CLEAR_KEY = "empty_submit_form"
POSITION_KEY = "jobs_position"
ALL = "all"

client = session.require_client()

st.title("Jobs")
session.show_flash()


# -- submitting ----------------------------------------------------------------


def validate(job_name: str) -> list[str]:
    if not job_name.strip():
        return ["Enter a job name."]
    if len(job_name) > MAX_JOB_NAME:
        return [f"The job name is {len(job_name)} characters; at most {MAX_JOB_NAME}."]
    return []


def job_types(client: PlatformClient) -> tuple[list[JobTypeInfo], bool]:
    """The types to offer, and whether the middleware listed them. When it cannot (an older
    platform, or a failure the jobs list will show too), the platform's default, reverse."""
    try:
        types = client.job_types()
    except PlatformError as exc:
        if exc.unauthorized and exc.service == "middleware":
            session.expire_session()
        logger.info(
            "job types not listed: %s",
            exc.message,
            extra={"event": "job_types_unavailable", "code": exc.code, "http_status": exc.status},
        )
        if not exc.unreachable:
            st.caption(f"The job types could not be listed ({exc.message}); offering reverse.")
        return FALLBACK_TYPES, False
    return (types, True) if types else (FALLBACK_TYPES, False)


def pick_type(types: list[JobTypeInfo]) -> JobTypeInfo:
    by_name = {t["name"]: t for t in types}
    if st.session_state.get(TYPE_KEY) not in by_name:
        st.session_state.pop(TYPE_KEY, None)
    name = st.selectbox(
        "Job type",
        list(by_name),
        index=default_type(types),
        format_func=lambda n: type_label(by_name[n]),
        key=TYPE_KEY,
        help="What the job does; the form below asks for the data that type takes",
    )
    chosen = by_name.get(name or "") or types[default_type(types)]
    note = unavailable_note(chosen)
    if note:
        st.warning(note)
    return chosen


def empty_form_if_asked(job_type: str, form: schema_form.Form) -> None:
    """After a submit, start the form again empty. The widgets' values are set before they
    are drawn: that reaches the browser, which keeps what was typed when a value is only
    dropped from the session state."""
    if not st.session_state.pop(CLEAR_KEY, False):
        return
    st.session_state[NAME_KEY] = ""
    for key, value in schema_form.initial_values(job_type, form).items():
        st.session_state[key] = value


def submit_form(client: PlatformClient) -> None:
    with st.container(border=True):
        st.subheader("Submit a job")
        types, listed = job_types(client)
        chosen = pick_type(types)
        type_name = chosen["name"]
        form = schema_form.plan(chosen.get("input_schema", {}))
        empty_form_if_asked(type_name, form)
        with st.form("submit_job", border=False):
            job_name = st.text_input(
                "Job name",
                key=NAME_KEY,
                help=f"A name for you to find the job by: 1 to {MAX_JOB_NAME} characters",
            )
            values = schema_form.render(type_name, form)
            submitted = st.form_submit_button("Submit", type="primary", icon=":material/send:")
    if not submitted:
        return
    problems = validate(job_name)
    data: Any = None
    try:
        data = schema_form.build(form, values)
        schema_form.check(type_name, form.schema, data)
    except schema_form.DataError as exc:
        problems.append(str(exc))
    for problem in problems:
        st.error(problem)
    if problems:
        return
    rid = session.request_id()
    job = session.call(
        lambda: client.submit_job(
            job_name.strip(), data, request_id=rid, job_type=type_name if listed else None
        ),
        "submit the job",
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
            "job_type": job.get("job_type", type_name),
        },
    )
    st.session_state[SELECTED_KEY] = job["job_id"]
    st.session_state[UNFINISHED_KEY] = True
    st.session_state[CLEAR_KEY] = True
    st.session_state.pop(POSITION_KEY, None)  # back to the first page, which shows the job
    session.flash("success", f"Job **{session.md(job['job_name'])}** submitted ({job['job_id']}).")
    st.rerun()


# -- the list --------------------------------------------------------------------


def counts_by_status(
    client: PlatformClient, jobs: list[Job], total: int, first_of_all: bool
) -> dict[str, int] | None:
    """The user's jobs per status: from the page when it holds them all (FIRST_OF_ALL: the
    first page, unfiltered), else one call each."""
    if first_of_all and total <= len(jobs):
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


COLUMNS = {
    "status": st.column_config.TextColumn("Status", width="small"),
    "job_type": st.column_config.TextColumn("Type", width="small"),
    "job_name": st.column_config.TextColumn("Job name"),
    "created_at": st.column_config.TextColumn("Created"),
    "completed_at": st.column_config.TextColumn("Finished"),
    "result": st.column_config.TextColumn("Result / error", width="large"),
    "attempt": st.column_config.NumberColumn("Attempt", width="small"),
    "job_id": st.column_config.TextColumn("Job ID"),
}


@session.guarded
def jobs_section(client: PlatformClient) -> None:
    """The list, chart and detail; a fragment that reruns itself while jobs are unfinished."""
    if session.client() is None:  # logged out meanwhile (e.g. in another fragment run)
        st.rerun()
    st.subheader("Your jobs")
    choice = st.segmented_control("Status", [ALL, *STATUSES], default=ALL, key="status_filter")
    status: str | None = None if choice in (None, ALL) else choice
    position = current_position(status)
    page = session.call(
        lambda: client.list_jobs(status=status, limit=PAGE_SIZE, before=position.before),
        "list your jobs",
    )
    if page is None:
        if not st.session_state.get(UNFINISHED_KEY):
            st.session_state[UNFINISHED_KEY] = True
            st.rerun()  # keep trying, so the list comes back by itself with the middleware
        return
    jobs = page["jobs"]
    first_of_all = status is None and position.index == 0
    counts = counts_by_status(client, jobs, page["total"], first_of_all)
    unfinished = counts is not None and (counts["queued"] + counts["running"]) > 0
    if unfinished != bool(st.session_state.get(UNFINISHED_KEY)):
        st.session_state[UNFINISHED_KEY] = unfinished
        st.rerun()  # redraw the fragment with (or without) its automatic refresh

    table_col, chart_col = st.columns([3, 1])
    with table_col:
        if not jobs:
            st.info(empty_list_text(status, position))
        else:
            st.caption(
                f"{range_text(position, len(jobs), page['total'])}, newest first"
                + (" · refreshing while jobs are unfinished" if unfinished else "")
            )
            st.dataframe(jobs_frame(jobs), column_config=COLUMNS, hide_index=True, key="jobs_table")
        page_buttons(position, page["next_before"])
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


def current_position(status: str | None) -> Position:
    """The page the user is on; the first one when the filter changed."""
    found = st.session_state.get(POSITION_KEY)
    position = (found if isinstance(found, Position) else Position()).with_status(status)
    st.session_state[POSITION_KEY] = position
    return position


def empty_list_text(status: str | None, position: Position) -> str:
    if position.index > 0:
        return "No older jobs."
    return "No jobs yet — submit one above." if status is None else f"No {status} jobs."


def go_to(position: Position) -> None:
    st.session_state[POSITION_KEY] = position


def page_buttons(position: Position, next_before: str | None) -> None:
    """Newest, Newer and Older, when there is more than one page. Callbacks move the
    position, so the rerun they trigger reads the page it leads to."""
    first = position.index == 0
    if first and next_before is None:
        return
    moves = [  # label, icon, where it leads (None: disabled)
        ("Newest", ":material/first_page:", None if first else position.newest()),
        ("Newer", ":material/chevron_left:", None if first else position.newer()),
        ("Older", ":material/chevron_right:", position.older(next_before) if next_before else None),
    ]
    for column, (label, icon, target) in zip(st.columns([1, 1, 1, 2])[:3], moves, strict=True):
        column.button(
            label,
            key=f"jobs_{label.lower()}",
            icon=icon,
            disabled=target is None,
            on_click=go_to,
            args=(target,),
        )


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
    status = str(job.get("status", ""))
    info, timeline = st.columns([1, 2])
    with info:
        name = session.md(job.get("job_name"))
        shown = f"`{status}` · cancelling…" if cancelling(job) else f"`{status}`"
        st.markdown(f"**{name}** — {STATUS_BADGES.get(status, '')} {shown}")
        st.caption(
            f"ID {job.get('job_id')} · type {job.get('job_type') or formatting.MISSING}"
            f" · attempt {job.get('attempt', 1)}"
        )
        if status == "queued" and job.get("waiting_reason"):
            st.info(f"Waiting: {session.md(job.get('waiting_reason'))}.")
        progress = progress_of(job)
        if progress is not None:
            st.progress(progress[0], text=progress_text(*progress))
        if job.get("result") is not None:
            st.markdown("Result")
            result = job.get("result")
            if isinstance(result, str):
                st.code(result, language=None)
            else:
                st.code(formatting.result_text(result), language="json")
        if job.get("error"):
            st.error(f"Error: {session.md(job.get('error'))}")
        job_actions(client, job, name)
    with timeline:
        st.caption("Timeline")
        st.dataframe(
            events_frame(job.get("events", [])),
            hide_index=True,
            key="job_events",
            column_order=("at", "event", "service", "detail"),
            column_config={
                "at": st.column_config.TextColumn("At", width="small"),
                "event": st.column_config.TextColumn("What happened"),
                "service": st.column_config.TextColumn("Service", width="small"),
                "detail": st.column_config.TextColumn("Detail", width="large"),
            },
        )


def job_actions(client: PlatformClient, job: Job, name: str) -> None:
    """Cancel for a queued or running job (Cancelling… once asked), Retry for a failed one."""
    job_id = job["job_id"]
    if cancelling(job):
        st.button("Cancelling…", key=f"cancelling_{job_id}", disabled=True, icon="⏳")
    elif can_cancel(job) and st.button("Cancel", key=f"cancel_{job_id}", icon=":material/block:"):
        cancelled = session.call(lambda: client.cancel_job(job_id), "cancel the job")
        if cancelled is not None:
            logger.info(
                "job cancelled from the dashboard",
                extra={"event": "job_cancel_requested", "job_id": job_id},
            )
            done = cancelled.get("status") == "cancelled"
            session.flash(
                "success", f"Job {name} cancelled." if done else f"Cancelling job {name}…"
            )
            st.session_state[UNFINISHED_KEY] = not done
            st.rerun()
    if job.get("status") == "failed" and st.button(
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
