"""The schema form's decisions and data, and the dashboard's formatting (no Streamlit run)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from dashboard_streamlit import formatting, jobs_view, schema_form
from dashboard_streamlit.schema_form import DataError, build, check, first_error, plan
from dashboard_streamlit.status_view import component_rows

REVERSE = {"type": "string", "minLength": 1}
OBJECT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "text": {"type": "string", "minLength": 1},
        "notes": {"type": "string", "maxLength": 5000},
        "mode": {"enum": ["words", "lines"], "default": "words"},
        "top": {"type": "integer", "minimum": 1, "maximum": 50},
        "ratio": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.5},
        "strict": {"type": "boolean"},
    },
    "required": ["text", "mode", "top"],
    "additionalProperties": False,
}


# -- the form's plan -------------------------------------------------------------------


def test_reverse_is_one_data_area() -> None:
    form = plan(REVERSE)
    assert form.mode == "string"
    assert schema_form.widget_key("reverse", form) == "job_data"
    assert build(form, {"data": "hello"}) == "hello"


def test_an_object_schema_gets_a_widget_per_property() -> None:
    form = plan(OBJECT)
    assert form.mode == "object"
    kinds = {f.name: f.kind for f in form.fields}
    assert kinds == {
        "text": "text",
        "notes": "long_text",
        "mode": "enum",
        "top": "integer",
        "ratio": "number",
        "strict": "boolean",
    }
    by_name = {f.name: f for f in form.fields}
    assert by_name["mode"].options == ("words", "lines")
    assert by_name["mode"].default == "words"
    assert (by_name["top"].minimum, by_name["top"].maximum) == (1, 50)
    assert by_name["ratio"].default == 0.5
    assert [f.name for f in form.fields if f.required] == ["text", "mode", "top"]
    assert schema_form.widget_key("wc", form, "top") == "job_data.wc.top"


@pytest.mark.parametrize(
    "schema",
    [
        {},
        True,
        {"type": "array", "items": {"type": "number"}},
        {"type": ["string", "null"]},
        {"type": "object"},  # no properties to draw
        {"type": "object", "properties": {"nested": {"type": "object"}}},
        {"type": "object", "properties": {"tags": {"type": "array"}}},
        {"type": "object", "properties": {"a": {"type": "string"}}, "oneOf": [{}, {}]},
        {"type": "string", "enum": ["a", "b"]},
    ],
)
def test_anything_else_is_a_json_area(schema: Any) -> None:
    assert plan(schema).mode == "json"


# -- building the data -------------------------------------------------------------------


def test_optional_properties_left_empty_are_left_out() -> None:
    form = plan(OBJECT)
    values = {"text": "a b", "notes": "", "mode": "lines", "top": 3, "ratio": None, "strict": False}
    assert build(form, values) == {"text": "a b", "mode": "lines", "top": 3, "strict": False}


def test_an_integer_from_a_number_widget_is_an_int() -> None:
    form = plan(OBJECT)
    data = build(form, {"text": "x", "mode": "words", "top": 3.0, "strict": True})
    assert data["top"] == 3 and isinstance(data["top"], int)


def test_the_json_area_parses_json_and_says_when_it_is_not() -> None:
    form = plan({"type": "array"})
    assert build(form, {"data": ' [1, {"a": null}] '}) == [1, {"a": None}]
    assert build(form, {"data": '"text"'}) == "text"
    with pytest.raises(DataError, match="not valid JSON"):
        build(form, {"data": "[1,"})
    with pytest.raises(DataError, match="Enter the data as JSON"):
        build(form, {"data": "  "})


# -- validation ----------------------------------------------------------------------------


def test_reverse_refuses_empty_data_as_the_api_does() -> None:
    assert first_error(REVERSE, "") == ("$", "'' should be non-empty")
    assert first_error(REVERSE, 3) == ("$", "3 is not of type 'string'")
    assert first_error(REVERSE, "hello") is None


def test_errors_name_their_json_path() -> None:
    valid = {"text": "a", "mode": "words", "top": 5}
    assert first_error(OBJECT, valid) is None
    assert first_error(OBJECT, {**valid, "text": 3}) == ("$.text", "3 is not of type 'string'")
    assert first_error(OBJECT, {**valid, "mode": "chars"}) == (
        "$.mode",
        "'chars' is not one of ['words', 'lines']",
    )
    assert first_error(OBJECT, {**valid, "top": 51}) == (
        "$.top",
        "51 is greater than the maximum of 50",
    )
    assert first_error(OBJECT, {**valid, "top": 0}) == ("$.top", "0 is less than the minimum of 1")
    assert first_error(OBJECT, {"text": "a", "mode": "words"}) == (
        "$",
        "'top' is a required property",
    )
    assert first_error({"type": "array", "items": {"type": "number"}}, [1, "x"]) == (
        "$[1]",
        "'x' is not of type 'number'",
    )


def test_check_words_the_error_like_the_api() -> None:
    with pytest.raises(DataError) as raised:
        check("wordcount", OBJECT, {"text": 3, "mode": "words", "top": 1})
    assert str(raised.value) == (
        "The data does not match the input schema of 'wordcount' at $.text:"
        " 3 is not of type 'string'"
    )
    check("reverse", REVERSE, "ok")


# -- formatting ------------------------------------------------------------------------------


def test_missing_cells_are_a_dash_and_other_values_json() -> None:
    assert formatting.cell(None) == "—"
    assert formatting.cell(float("nan")) == "—"
    assert formatting.cell("text") == "text"
    assert formatting.cell(3) == "3"
    assert formatting.cell({"a": [1, "é"]}) == '{"a": [1, "é"]}'


def test_times_are_the_local_clock() -> None:
    iso = "2026-11-28T04:33:45.123+00:00"
    local = datetime(2026, 11, 28, 4, 33, 45, 123000, tzinfo=timezone.utc).astimezone()
    assert formatting.local_clock(iso) == local.strftime("%H:%M:%S")
    assert formatting.local_clock_ms(iso) == local.strftime("%H:%M:%S.123")
    assert formatting.local_datetime(iso) == local.strftime("%Y-%m-%d %H:%M:%S")
    assert formatting.local_clock(None) == "—"
    assert formatting.local_clock("soon") == "soon"


def test_latency_never_reads_zero() -> None:
    assert formatting.latency("auth", 0.0) == "<0.1 ms"
    assert formatting.latency("auth", 0.04) == "<0.1 ms"
    assert formatting.latency("core", 3.21) == "3.2 ms"
    assert formatting.latency("core", 250.4) == "250 ms"
    assert formatting.latency("core", None) == "—"
    # platform_status answers for the middleware itself with 0.0: nothing was measured
    assert formatting.latency("middleware", 0.0) == "—"


def test_durations_read_for_people() -> None:
    assert [formatting.duration(s) for s in (None, 5.7, 185, 7440, 266400)] == [
        "—",
        "5 s",
        "3m05s",
        "2h04m",
        "3d02h",
    ]


def test_results_that_are_not_text_are_indented_json() -> None:
    assert formatting.result_text("olleh") == "olleh"
    assert formatting.result_text({"n": 1}) == '{\n  "n": 1\n}'
    assert formatting.result_text(3) == "3"


def test_component_rows_have_no_none() -> None:
    rows = component_rows(
        {
            "components": {
                "auth": {"up": True, "ready": True, "latency_ms": 0.0, "url": "http://a"},
                "middleware": {"up": True, "ready": True, "latency_ms": 0.0},
                "core": {"up": False, "ready": False, "reason": "refused", "restarts": None},
            }
        }
    )
    assert all(value is not None for row in rows for value in row.values())
    assert [r["latency"] for r in rows] == ["<0.1 ms", "—", "—"]
    assert rows[2]["restarts"] == "—"


# -- the jobs page's words -----------------------------------------------------------------------


def test_job_type_labels_mark_the_unavailable() -> None:
    reverse, other = dict(jobs_view.FALLBACK_TYPES[0]), dict(jobs_view.FALLBACK_TYPES[0])
    other.update(name="ocr", title="Read text", available=False, reason="no worker offers it")
    assert jobs_view.type_label(reverse) == "Reverse a text (reverse)"  # type: ignore[arg-type]
    assert jobs_view.type_label(other) == (  # type: ignore[arg-type]
        "Read text (ocr) — unavailable: no worker offers it"
    )
    types = [other, reverse]
    assert jobs_view.default_type(types) == 1  # type: ignore[arg-type]


def test_the_jobs_frame_has_no_none_and_shows_json_results() -> None:
    jobs: list[Any] = [
        {"job_id": "a", "job_name": "n", "status": "running", "created_at": None},
        {"job_id": "b", "job_name": "n", "status": "succeeded", "result": {"n": 1}},
        {"job_id": "c", "job_name": "n", "status": "failed", "error": "boom", "result": None},
    ]
    frame = jobs_view.jobs_frame(jobs)
    assert not frame.isna().any().any()
    assert frame["result"].tolist() == ["—", '{"n": 1}', "boom"]
    assert frame["completed_at"].tolist() == ["—", "—", "—"]
    assert frame["job_type"].tolist() == ["—", "—", "—"]


def test_progress_only_for_a_running_job() -> None:
    running: Any = {"status": "running", "progress": {"fraction": 1.4, "message": "x"}}
    assert jobs_view.progress_of(running) == (1.0, "x")
    assert jobs_view.progress_of({"status": "succeeded", "progress": running["progress"]}) is None
    assert jobs_view.progress_of({"status": "running", "progress": None}) is None
    assert jobs_view.progress_text(0.25, "") == "25 %"
