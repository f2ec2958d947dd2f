"""The Jobs and Platform status pages driven by AppTest with a stub client (no platform).

The session's client is any PlatformClient with a token in st.session_state["client"]; the
stub answers from memory and records the calls the pages make.
"""

from __future__ import annotations

import ast
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.string_util import is_emoji
from streamlit.testing.v1 import AppTest

from dashboard_streamlit import formatting, session
from dashboard_streamlit.paging import PAGE_SIZE
from dashboard_streamlit.settings import ENV_SETTINGS
from toy_platform.client import (
    Job,
    JobPage,
    JobTypeInfo,
    PlatformClient,
    PlatformError,
    PlatformStatus,
)

APP = Path(__file__).resolve().parents[2] / "dashboard_streamlit" / "app.py"
NOW = "2026-11-28T04:33:45.123+00:00"

WORDCOUNT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "text": {"type": "string", "minLength": 1, "maxLength": 10000},
        "mode": {"type": "string", "enum": ["words", "lines"], "default": "words"},
        "top": {"type": "integer", "minimum": 1, "maximum": 50, "default": 5},
        "ignore_case": {"type": "boolean"},
    },
    "required": ["text", "mode"],
    "additionalProperties": False,
}


def job_type(name: str, schema: Any, available: bool = True, reason: str | None = None) -> Any:
    info: JobTypeInfo = {
        "name": name,
        "title": name.capitalize(),
        "input_schema": schema,
        "timeout_s": 60.0,
        "max_retries": 0,
        "available": available,
        "reason": reason,
        "offered_by": ["core"] if available else [],
    }
    return info


TYPES = [
    job_type("reverse", {"type": "string", "minLength": 1}),
    job_type("wordcount", WORDCOUNT_SCHEMA),
    job_type("render", {"type": "object"}, available=False, reason="no worker offers it"),
]


def a_job(job_id: str, status: str = "succeeded", **fields: Any) -> Job:
    job: dict[str, Any] = {
        "job_id": job_id,
        "job_name": f"job-{job_id}",
        "owner": "alice",
        "status": status,
        "created_at": NOW,
        "started_at": None,
        "completed_at": NOW if status in ("succeeded", "failed", "cancelled") else None,
        "result": None,
        "error": None,
        "request_id": None,
        "attempt": 1,
        "job_type": "reverse",
        "progress": None,
        "cancel_requested": False,
    }
    job.update(fields)
    return job  # type: ignore[return-value]


class StubClient(PlatformClient):
    """Answers from memory; `calls` records (method, args) of the calls that change things,
    `listed` the arguments of each list_jobs but those counting jobs (limit 1)."""

    def __init__(self, jobs: list[Job] | None = None, types: list[Any] | None = None) -> None:
        super().__init__("http://127.0.0.1:9", "http://127.0.0.1:9", token="stub-token")
        self.username = "alice"
        self.jobs: list[Job] = list(jobs or [])
        self.types = TYPES if types is None else types
        self.calls: list[tuple[str, Any]] = []
        self.listed: list[dict[str, Any]] = []
        self.submit_error: PlatformError | None = None

    def job_types(self) -> list[JobTypeInfo]:
        if isinstance(self.types, PlatformError):
            raise self.types
        return self.types

    def submit_job(
        self,
        job_name: str,
        data: Any,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        job_type: str | None = None,
    ) -> Job:
        self.calls.append(("submit_job", {"job_name": job_name, "data": data, "type": job_type}))
        if self.submit_error:
            raise self.submit_error
        job = a_job(f"j{len(self.jobs) + 1}", "queued", job_name=job_name)
        job["job_type"] = job_type or "reverse"
        self.jobs.insert(0, job)
        return job

    def cancel_job(self, job_id: str) -> Job:
        self.calls.append(("cancel_job", job_id))
        job = self.get_job(job_id)
        job["cancel_requested"] = True
        return job

    def list_jobs(
        self,
        status: Any = None,
        limit: int | None = None,
        offset: int | None = None,
        all_users: bool = False,
        before: str | None = None,
    ) -> JobPage:
        """Keyset paging as the middleware's: a job's cursor is its sequence number (the
        oldest is 1); a page with older jobs after it gives its last cursor as `before`."""
        if limit != 1:
            self.listed.append(
                {"status": status, "limit": limit, "offset": offset, "before": before}
            )
        numbered = [
            (len(self.jobs) - i, j)
            for i, j in enumerate(self.jobs)
            if status is None or j["status"] == status
        ]
        older = [(n, j) for n, j in numbered if before is None or n < int(before)]
        rows = older[:limit]
        more = limit is not None and len(older) > limit
        return {
            "jobs": [j for _, j in rows],
            "total": len(numbered),
            "limit": limit or 0,
            "offset": 0,
            "next_before": str(rows[-1][0]) if more else None,
        }

    def get_job(self, job_id: str) -> Job:
        job = next(j for j in self.jobs if j["job_id"] == job_id)
        job.setdefault(
            "events", [{"at": NOW, "status": "submitted", "service": "middleware", "detail": None}]
        )
        return job

    def platform_status(self) -> PlatformStatus:
        return STATUS


STATUS: PlatformStatus = {
    "components": {
        "auth": {"up": True, "ready": True, "latency_ms": 0.04, "url": "http://127.0.0.1:6300"},
        "middleware": {
            "up": True,
            "ready": True,
            "latency_ms": 0.0,
            "url": "http://127.0.0.1:6302",
        },
        "core": {
            "up": True,
            "ready": True,
            "latency_ms": 3.21,
            "url": "http://127.0.0.1:6301",
            "restarts": None,
        },
    },
    "all_ready": True,
    "queue_size": 0,
    "checked_at": "2026-11-28T04:33:45.123+00:00",
}


@pytest.fixture(autouse=True)
def dashboard_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Settings pointing nowhere, logs in TMP_PATH; logging restored afterwards."""
    for name in ENV_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TOY_PLATFORM_LOG_DIR", str(tmp_path / "logs"))
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        session._setup.clear()
        for handler in root.handlers:
            if handler not in handlers:
                handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)


def healthy(at: AppTest) -> AppTest:
    assert not at.exception, at.exception
    assert not [e.value for e in at.error if session.UNEXPECTED in e.value]
    return at


def jobs_page(stub: StubClient) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.session_state["client"] = stub
    return healthy(at.run())


def click(at: AppTest, label: str) -> AppTest:
    matches = [b for b in at.button if b.label == label]
    assert matches, f"no button {label!r} in {[b.label for b in at.button]}"
    return healthy(matches[0].click().run())


def pick(at: AppTest, name: str) -> AppTest:
    return healthy(at.selectbox(key="job_type").set_value(name).run())


# -- the picker and the generated form -------------------------------------------------


def test_picker_lists_the_types_with_reverse_first_choice_and_unavailable_marked() -> None:
    at = jobs_page(StubClient())
    picker = at.selectbox(key="job_type")
    assert picker.value == "reverse"
    assert picker.options == [
        "Reverse (reverse)",
        "Wordcount (wordcount)",
        "Render (render) — unavailable: no worker offers it",
    ]
    assert not at.warning
    pick(at, "render")
    assert any("No worker offers render right now" in w.value for w in at.warning)


def test_reverse_gets_one_data_area_and_refuses_empty_data_by_its_schema() -> None:
    stub = StubClient()
    at = jobs_page(stub)
    assert [t.label for t in at.text_area] == ["Data"]
    at.text_input(key="job_name").set_value("greeting")
    click(at, "Submit")
    assert [e.value for e in at.error] == [
        "The data does not match the input schema of 'reverse' at $: '' should be non-empty"
    ]
    assert stub.calls == []
    # what was typed stays, to be corrected
    assert at.text_input(key="job_name").value == "greeting"


def test_object_schema_gets_a_widget_per_property() -> None:
    at = pick(jobs_page(StubClient()), "wordcount")
    assert [t.label for t in at.text_area] == ["text"]  # maxLength 10000: a text area
    assert at.selectbox(key="job_data.wordcount.mode").options == ["words", "lines"]
    assert at.selectbox(key="job_data.wordcount.mode").value == "words"
    top = at.number_input(key="job_data.wordcount.top")
    assert (top.value, top.min, top.max) == (5, 1, 50)
    assert at.checkbox(key="job_data.wordcount.ignore_case").value is False


def test_the_generated_form_refuses_invalid_data_showing_the_path() -> None:
    stub = StubClient()
    at = pick(jobs_page(stub), "wordcount")
    at.text_input(key="job_name").set_value("count")
    click(at, "Submit")  # text left empty
    assert [e.value for e in at.error] == [
        "The data does not match the input schema of 'wordcount' at $.text: '' should be non-empty"
    ]
    assert stub.calls == []


def test_submit_sends_the_type_and_the_built_data_and_clears_the_form() -> None:
    stub = StubClient()
    at = pick(jobs_page(stub), "wordcount")
    at.text_input(key="job_name").set_value("count")
    at.text_area(key="job_data.wordcount.text").set_value("a b a")
    at.selectbox(key="job_data.wordcount.mode").set_value("lines")
    at.number_input(key="job_data.wordcount.top").set_value(3)
    at.checkbox(key="job_data.wordcount.ignore_case").check()
    click(at, "Submit")
    assert stub.calls == [
        (
            "submit_job",
            {
                "job_name": "count",
                "data": {"text": "a b a", "mode": "lines", "top": 3, "ignore_case": True},
                "type": "wordcount",
            },
        )
    ]
    assert any("submitted (j1)" in s.value for s in at.success)
    assert at.text_input(key="job_name").value == ""
    assert at.text_area(key="job_data.wordcount.text").value == ""
    assert at.number_input(key="job_data.wordcount.top").value == 5
    assert at.selectbox(key="job_data.wordcount.mode").value == "words"
    assert at.checkbox(key="job_data.wordcount.ignore_case").value is False
    assert at.number_input(key="job_data.wordcount.top").proto.set_value
    assert at.selectbox(key="job_type").value == "wordcount"  # the type stays chosen


def data_widget(at: AppTest) -> Any:
    """The reverse form's Data field (a text area; a text input before job types)."""
    return next(w for w in [*at.main.text_area, *at.main.text_input] if w.label == "Data")


def test_reverse_submit_sends_the_text_and_clears_the_form() -> None:
    stub = StubClient()
    at = jobs_page(stub)
    at.text_input(key="job_name").set_value("greeting")
    data_widget(at).set_value("hello")
    click(at, "Submit")
    assert [name for name, _ in stub.calls] == ["submit_job"]
    # the form was cleared for the next job, in the browser too: a value only dropped from
    # the session state leaves the browser showing what was typed; one set is sent to it
    assert at.text_input(key="job_name").value == ""
    assert data_widget(at).value == ""
    assert at.text_input(key="job_name").proto.set_value
    assert data_widget(at).proto.set_value
    assert stub.calls == [
        ("submit_job", {"job_name": "greeting", "data": "hello", "type": "reverse"})
    ]
    assert at.selectbox(key="selected_job").value == "j1"


def test_the_api_refusing_the_data_is_shown_with_the_path() -> None:
    stub = StubClient()
    stub.submit_error = PlatformError(
        "'data' does not match the input schema of 'wordcount' at $.text: 3 is not of type"
        " 'string'",
        "invalid_data",
        422,
        field="data",
    )
    at = pick(jobs_page(stub), "wordcount")
    at.text_input(key="job_name").set_value("count")
    at.text_area(key="job_data.wordcount.text").set_value("x")
    click(at, "Submit")
    assert [e.value for e in at.error] == [
        "Could not submit the job: 'data' does not match the input schema of 'wordcount' at"
        " $.text: 3 is not of type 'string'"
    ]
    assert at.text_input(key="job_name").value == "count"  # kept, to be corrected


def test_any_other_schema_gets_a_json_area() -> None:
    types = [job_type("matrix", {"type": "array", "items": {"type": "number"}, "minItems": 1})]
    stub = StubClient(types=types)
    at = jobs_page(stub)
    assert at.selectbox(key="job_type").value == "matrix"
    at.text_input(key="job_name").set_value("m")
    at.text_area(key="job_data.matrix.data").set_value('[1, "x"]')
    click(at, "Submit")
    assert [e.value for e in at.error] == [
        "The data does not match the input schema of 'matrix' at $[1]: 'x' is not of type 'number'"
    ]
    at.text_area(key="job_data.matrix.data").set_value("[1, 2.5]")
    click(at, "Submit")
    assert stub.calls == [("submit_job", {"job_name": "m", "data": [1, 2.5], "type": "matrix"})]


def test_without_a_types_list_reverse_is_offered_and_no_type_is_sent() -> None:
    """An older middleware has no GET /job_types: the platform's default still works."""
    stub = StubClient(types=PlatformError("Not found", "not_found", 404))  # type: ignore[arg-type]
    at = jobs_page(stub)
    assert at.selectbox(key="job_type").options == ["Reverse a text (reverse)"]
    at.text_input(key="job_name").set_value("greeting")
    at.text_area(key="job_data").set_value("hello")
    click(at, "Submit")
    assert stub.calls == [("submit_job", {"job_name": "greeting", "data": "hello", "type": None})]


def test_no_placeholder_looks_like_filled_in_data() -> None:
    """Placeholders like "greeting" and "hello" read as values already typed in."""
    at = jobs_page(StubClient())
    for widget in [*at.main.text_input, *at.main.text_area]:
        assert not widget.placeholder, (widget.key, widget.placeholder)
    at = pick(at, "wordcount")
    for widget in [*at.main.text_input, *at.main.text_area]:
        assert not widget.placeholder, (widget.key, widget.placeholder)


# -- the list and the detail ------------------------------------------------------------------


def test_cancel_calls_cancel_job_and_then_shows_cancelling() -> None:
    stub = StubClient([a_job("r1", "running")])
    at = jobs_page(stub)
    click(at, "Cancel")
    assert stub.calls == [("cancel_job", "r1")]
    assert any("Cancelling job job-r1" in s.value for s in at.success)
    assert [b.label for b in at.button if b.key == "cancelling_r1"] == ["Cancelling…"]
    assert not [b for b in at.button if b.label == "Cancel"]


def test_a_refused_cancel_is_shown() -> None:
    stub = StubClient([a_job("q1", "queued")])

    def refuse(job_id: str) -> Job:
        raise PlatformError(
            "This job already finished (succeeded); there is nothing to cancel",
            "not_cancellable",
            409,
        )

    stub.cancel_job = refuse  # type: ignore[method-assign]
    at = click(jobs_page(stub), "Cancel")
    assert [e.value for e in at.error] == [
        "Could not cancel the job: This job already finished (succeeded); there is nothing to"
        " cancel"
    ]


def test_no_cancel_for_a_finished_job() -> None:
    at = jobs_page(StubClient([a_job("s1", "succeeded", result="olleh")]))
    assert not [b for b in at.button if b.label in ("Cancel", "Cancelling…")]
    assert [c.value for c in at.code] == ["olleh"]


def test_a_running_job_shows_its_progress() -> None:
    job = a_job("r1", "running", progress={"fraction": 0.4, "message": "page 2 of 5"})
    at = jobs_page(StubClient([job]))
    bars = at.get("progress")
    assert len(bars) == 1
    assert bars[0].proto.value == 40
    assert bars[0].proto.text == "40 % · page 2 of 5"


def test_a_queued_job_no_worker_offers_says_why_it_waits() -> None:
    why = "no worker offers job type 'wordcount': it waits, queued, until one does"
    job = a_job("q1", "queued", job_type="wordcount", waiting_reason=why)
    (info,) = jobs_page(StubClient([job])).info
    assert info.value.startswith("Waiting: no worker offers job type 'wordcount'"), info.value


def test_a_json_result_is_shown_formatted() -> None:
    result = {"words": 3, "top": [["a", 2], ["b", 1]]}
    job = a_job("w1", "succeeded", job_type="wordcount", result=result)
    at = jobs_page(StubClient([job]))
    assert [c.value for c in at.code] == [json.dumps(result, indent=2)]
    table = at.main.dataframe[0].value
    assert table["job_type"].tolist() == ["wordcount"]
    assert table["result"].tolist() == ['{"words": 3, "top": [["a", 2], ["b", 1]]}']


def test_the_jobs_table_has_no_none_cells_and_cancelled_jobs_show() -> None:
    jobs = [
        a_job("q1", "queued"),
        a_job("c1", "cancelled"),
        a_job("f1", "failed", error="boom"),
    ]
    at = jobs_page(StubClient(jobs))
    table = at.main.dataframe[0].value
    assert table["status"].tolist() == ["queued", "cancelled", "failed"]
    assert table["completed_at"].tolist()[0] == "—"
    assert table["result"].tolist() == ["—", "—", "boom"]
    assert not table.isna().any().any()
    assert "None" not in table.astype(str).to_numpy().tolist().__str__()


def test_new_timeline_events_get_labels() -> None:
    events = [
        {"at": NOW, "status": s, "service": "core", "detail": None}
        for s in ("submitted", "cancel_requested", "timeout", "attempt_failed", "cancelled")
    ]
    job = a_job("c1", "cancelled", events=events)
    at = jobs_page(StubClient([job]))
    timeline = at.main.dataframe[1].value
    assert timeline["event"].tolist() == [
        "Submitted",
        "Cancel requested",
        "Timed out",
        "Try failed (will be tried again)",
        "Cancelled",
    ]
    assert timeline["status"].tolist()[1] == "cancel_requested"


# -- paging through the list ------------------------------------------------------------------

MANY = 2 * PAGE_SIZE + 5  # two full pages and five jobs on a third


def many_jobs(count: int) -> list[Job]:
    """COUNT finished jobs, newest first: job jN has the stub's cursor N."""
    return [a_job(f"j{n}") for n in range(count, 0, -1)]


def shown_ids(at: AppTest) -> list[str]:
    return list(at.main.dataframe[0].value["job_id"])


def range_caption(at: AppTest) -> str:
    return next(c.value for c in at.main.caption if c.value.startswith("Jobs "))


def page_button(at: AppTest, name: str) -> Any:
    return at.button(key=f"jobs_{name}")


def go(at: AppTest, name: str) -> AppTest:
    return healthy(page_button(at, name).click().run())


def read_before(stub: StubClient) -> str | None:
    """The `before` of the page last read (checking it was read by keyset, not offset)."""
    last = stub.listed[-1]
    assert (last["limit"], last["offset"]) == (PAGE_SIZE, None), last
    before: str | None = last["before"]
    return before


def test_older_reads_the_next_page_with_the_cursor_of_the_one_shown() -> None:
    stub = StubClient(many_jobs(MANY))
    at = jobs_page(stub)
    assert read_before(stub) is None
    assert range_caption(at) == f"Jobs 1–{PAGE_SIZE} of {MANY}, newest first"
    assert page_button(at, "newer").disabled and page_button(at, "newest").disabled
    last_of_first = MANY - PAGE_SIZE + 1
    assert shown_ids(at)[-1] == f"j{last_of_first}"

    go(at, "older")
    assert read_before(stub) == str(last_of_first)  # the first page's next_before
    assert shown_ids(at)[0] == f"j{last_of_first - 1}"
    assert range_caption(at) == f"Jobs {PAGE_SIZE + 1}–{2 * PAGE_SIZE} of {MANY}, newest first"
    assert not page_button(at, "newer").disabled

    go(at, "older")
    assert read_before(stub) == str(last_of_first - PAGE_SIZE)
    assert shown_ids(at) == ["j5", "j4", "j3", "j2", "j1"]
    assert range_caption(at) == f"Jobs {2 * PAGE_SIZE + 1}–{MANY} of {MANY}, newest first"
    assert page_button(at, "older").disabled  # next_before is null: no older page
    assert at.selectbox(key="selected_job").value == "j5"  # the detail follows the page


def test_newer_goes_back_page_by_page_and_newest_to_the_first() -> None:
    stub = StubClient(many_jobs(MANY))
    at = go(go(jobs_page(stub), "older"), "older")
    second_cursor = stub.listed[-2]["before"]

    go(at, "newer")
    assert read_before(stub) == second_cursor
    assert range_caption(at).startswith(f"Jobs {PAGE_SIZE + 1}–{2 * PAGE_SIZE} of")
    go(at, "newer")
    assert read_before(stub) is None
    assert shown_ids(at)[0] == f"j{MANY}"
    assert range_caption(at).startswith(f"Jobs 1–{PAGE_SIZE} of")
    assert page_button(at, "newer").disabled

    go(go(go(at, "older"), "older"), "newest")
    assert read_before(stub) is None
    assert range_caption(at).startswith(f"Jobs 1–{PAGE_SIZE} of")


def test_changing_the_status_filter_goes_back_to_the_first_page() -> None:
    stub = StubClient(many_jobs(MANY))
    at = go(jobs_page(stub), "older")
    assert read_before(stub) is not None
    healthy(at.button_group(key="status_filter").set_value("succeeded").run())
    assert stub.listed[-1]["status"] == "succeeded"
    assert read_before(stub) is None
    assert range_caption(at).startswith(f"Jobs 1–{PAGE_SIZE} of {MANY}")

    go(at, "older")
    assert stub.listed[-1]["status"] == "succeeded"
    assert read_before(stub) is not None
    healthy(at.button_group(key="status_filter").set_value("all").run())
    assert stub.listed[-1]["status"] is None
    assert read_before(stub) is None


def test_a_submit_goes_back_to_the_first_page_which_shows_the_new_job() -> None:
    stub = StubClient(many_jobs(MANY))
    at = go(jobs_page(stub), "older")
    at.text_input(key="job_name").set_value("fresh")
    data_widget(at).set_value("hello")
    click(at, "Submit")
    assert read_before(stub) is None
    new_id = f"j{MANY + 1}"
    assert shown_ids(at)[0] == new_id
    assert at.selectbox(key="selected_job").value == new_id
    assert range_caption(at).startswith(f"Jobs 1–{PAGE_SIZE} of {MANY + 1}")


def test_a_single_page_has_no_paging_buttons() -> None:
    at = jobs_page(StubClient(many_jobs(3)))
    assert range_caption(at) == "Jobs 1–3 of 3, newest first"
    assert not [b.key for b in at.button if b.key and b.key.startswith("jobs_")]


def test_an_older_page_emptied_meanwhile_says_so_and_leads_back() -> None:
    """The jobs of the next page went (a reset, say) after this page was read."""
    stub = StubClient(many_jobs(PAGE_SIZE + 3))
    at = jobs_page(stub)
    stub.jobs = []  # reset
    at = go(at, "older")
    assert [i.value for i in at.main.info] == ["No older jobs."]
    assert page_button(at, "older").disabled
    stub.jobs = many_jobs(2)
    go(at, "newer")
    assert read_before(stub) is None and shown_ids(at) == ["j2", "j1"]


# -- the status page and the page icons -------------------------------------------------------


def test_status_page_formats_latency_and_the_checked_time() -> None:
    at = jobs_page(StubClient()).switch_page("app_pages/status.py").run()
    healthy(at)
    captions = [c.value for c in at.main.caption]
    assert not any("0.0 ms" in c or "None" in c for c in captions), captions
    assert any("latency <0.1 ms" in c for c in captions)  # auth's 0.04 ms
    assert not any("T04:33:45" in c for c in captions)
    checked = f"Checked at {formatting.local_clock(STATUS['checked_at'])} ·"
    assert any(c.startswith(checked) for c in captions)
    table = at.main.dataframe[0].value
    assert not table.isna().any().any()
    assert dict(zip(table["component"], table["latency"], strict=True)) == {
        "auth": "<0.1 ms",
        "middleware": "—",
        "core": "3.2 ms",
    }


def test_components_table_fits_its_width() -> None:
    at = jobs_page(StubClient()).switch_page("app_pages/status.py").run()
    table = at.main.dataframe[0]
    config = json.loads(table.proto.columns)
    widths = {name: c.get("width") for name, c in config.items() if not name.startswith("_")}
    assert table.proto.column_order[-1] == "reason"  # the long text last, taking what is left
    assert all(isinstance(widths[n], int) for n in widths if n != "reason")
    assert sum(w for n, w in widths.items() if n != "reason") <= 800


def test_the_tab_icon_needs_no_font_server() -> None:
    """A `:material/...:` page_icon is fetched from fonts.gstatic.com; an emoji is drawn
    inline. (Set, it also keeps the pages' material icons from becoming the favicon.)"""
    tree = ast.parse(APP.read_text(encoding="utf-8"))
    constants = {
        target.id: node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    icons = [
        constants[kw.value.id] if isinstance(kw.value, ast.Name) else kw.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "set_page_config"
        for kw in node.keywords
        if kw.arg == "page_icon"
    ]
    values = [ast.literal_eval(icon) for icon in icons]
    assert len(values) == 1
    assert is_emoji(values[0]), values
