"""The rules for what the services take in (toy_platform/fields.py, tracing.py), and that
the OpenAPI documents say the same."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from flask import Flask
from openapi_schema_validator import OAS31Validator

import toy_platform
from toy_platform.config import Settings
from toy_platform.errors import ApiError, json_body
from toy_platform.fields import (
    RFC3339_PATTERN,
    VISIBLE_PATTERN,
    has_visible_text,
    is_rfc3339,
    whole_number,
)
from toy_platform.tracing import (
    REQUEST_ID_PATTERN,
    accept_request_id,
    current_request_id,
    is_safe_request_id,
    outgoing_headers,
    safe_request_id,
)
from toy_platform.urls import HTTP_URL_PATTERN, is_http_url
from unit.conftest import signed_headers

SPEC_DIR = Path(toy_platform.__file__).resolve().parent / "openapi"


def spec(service: str) -> dict[str, Any]:
    return json.loads((SPEC_DIR / f"{service}.json").read_text(encoding="utf-8"))


def fuzzer_accepts(schema: dict[str, Any], value: Any) -> bool:
    """Whether the validator schemathesis judges requests with takes VALUE (formats checked)."""
    return bool(jsonschema_rs.validator_for(schema, validate_formats=True).is_valid(value))


def schema_validator(service: str, name: str) -> OAS31Validator:
    document = spec(service)
    return OAS31Validator(
        {"$ref": f"#/components/schemas/{name}", "components": document["components"]},
        format_checker=OAS31Validator.FORMAT_CHECKER,
    )


# -- request IDs ----------------------------------------------------------------


@pytest.mark.parametrize("value", ["abc", "a.b_c:d-e", "x" * 64, "0"])
def test_safe_request_ids(value: str) -> None:
    assert is_safe_request_id(value)
    assert accept_request_id(value) == value


@pytest.mark.parametrize(
    "value", ["", "x" * 65, "é€", "a b", "abc\n", "a\r\nX-Evil: 1", None, {}, 5]
)
def test_unsafe_request_ids(value: Any) -> None:
    assert not is_safe_request_id(value)
    token = current_request_id.set("current-1")
    try:
        assert safe_request_id(value if isinstance(value, str) else None) == "current-1"
    finally:
        current_request_id.reset(token)


def test_a_trailing_newline_is_not_a_safe_request_id() -> None:
    """Python's $ matches before a final newline: 'abc\\n' passed the old check."""
    assert not is_safe_request_id("abc\n")
    assert accept_request_id("abc\n") != "abc\n"


def test_outgoing_headers_never_carry_an_unsafe_id() -> None:
    """A stored ID outside Latin-1 once killed the thread that put it in a header."""
    headers = outgoing_headers("é€")
    assert is_safe_request_id(headers["X-Request-ID"])
    headers["X-Request-ID"].encode("latin-1")
    assert outgoing_headers("walk-1") == {"X-Request-ID": "walk-1"}


# -- whole numbers, URLs, timestamps ---------------------------------------------


@pytest.mark.parametrize(
    ("value", "number"),
    [(2, 2), (2.0, 2), (-3.0, -3), (True, None), (False, None), (1.5, None), ("2", None)],
)
def test_whole_numbers_as_json_schema_counts_them(value: Any, number: int | None) -> None:
    assert whole_number(value) == number
    assert OAS31Validator({"type": "integer"}).is_valid(value) is (number is not None)


URLS = [
    ("http://127.0.0.1:6302/job_callback/abc?attempt=1", True),
    ("HTTPS://example.com", True),
    ("http://user:pw@host:80/a/b;c?d=e&f#g", True),
    ("http://[::1]:8080/x", True),
    ("http://h/%41%zz", False),
    ("http://", False),
    ("ftp://host/", False),
    ("http://host/a b", False),
    ("http://host/é", False),
    ("http://[zz]/", False),
    ("https://\x0f\xa9h", False),
    ("http://host/\n", False),
]


@pytest.mark.parametrize(("url", "ok"), URLS)
def test_http_urls(url: str, ok: bool) -> None:
    assert is_http_url(url) is ok


@pytest.mark.parametrize(("url", "ok"), [(u, ok) for u, ok in URLS if "[zz]" not in u])
def test_the_url_pattern_in_the_document_agrees(url: str, ok: bool) -> None:
    """[zz] left out: the pattern cannot judge an IP literal (the code and the format do)."""
    schema = spec("core")["components"]["schemas"]["CoreJobSubmit"]["properties"]["callback_url"]
    assert schema["pattern"] == HTTP_URL_PATTERN
    assert fuzzer_accepts(schema, url) is ok


TIMESTAMPS = [
    ("2026-01-01T00:00:00Z", True),
    ("2026-01-01t00:00:00.123456z", True),
    ("2024-02-29T23:59:59+05:30", True),
    ("2000-02-29T00:00:00-00:00", True),
    ("2023-02-29T00:00:00Z", False),
    ("1900-02-29T00:00:00Z", False),
    ("2026-04-31T00:00:00Z", False),
    ("2026-13-01T00:00:00Z", False),
    ("2026-01-01T24:00:00Z", False),
    ("2026-01-01 00:00:00Z", False),
    ("2026-01-01T00:00:00", False),
    ("2026-01-01T00:00:00+0530", False),
    ("\uff12026-01-01T00:00:00Z", False),
    ("", False),
]


@pytest.mark.parametrize(("text", "ok"), TIMESTAMPS)
def test_timestamps_and_the_document_agree(text: str, ok: bool) -> None:
    assert is_rfc3339(text) is ok
    schema = spec("middleware")["components"]["schemas"]["JobCallback"]["properties"]["started_at"]
    assert schema["pattern"] == RFC3339_PATTERN
    assert fuzzer_accepts(schema, text) is ok


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("job", True),
        (" \u3000x ", True),
        ("\u200b", True),
        (" ", False),
        ("\t\r\n", False),
        ("\x1c\x1f", False),
        ("\x85", False),
        ("\ufeff", False),
        ("\u2029\u00a0", False),
    ],
)
def test_job_names_need_a_visible_character_for_code_and_document_alike(
    text: str, ok: bool
) -> None:
    """The document said \\S, which means other things to other regex engines."""
    assert has_visible_text(text) is ok
    schema = spec("middleware")["components"]["schemas"]["JobSubmit"]["properties"]["job_name"]
    assert schema["pattern"] == VISIBLE_PATTERN
    assert fuzzer_accepts(schema, text) is ok
    assert OAS31Validator(schema).is_valid(text) is ok


def test_documents_use_the_request_id_rule() -> None:
    core = spec("core")["components"]["schemas"]
    assert core["CoreJobSubmit"]["properties"]["job_id"]["pattern"] == REQUEST_ID_PATTERN
    assert REQUEST_ID_PATTERN in core["CoreJobSubmit"]["properties"]["request_id"]["description"]
    for service in ("auth", "core", "middleware"):
        header = spec(service)["components"]["parameters"]["XRequestID"]
        assert REQUEST_ID_PATTERN in header["description"]


# -- core's endpoints --------------------------------------------------------------


def post_signed(app: Flask, settings: Settings, path: str, body: Any) -> Any:
    raw = json.dumps(body).encode()
    return app.test_client().post(
        path,
        data=raw,
        content_type="application/json",
        headers=signed_headers(settings, "POST", path, raw),
    )


def job(job_id: str = "j1", **fields: Any) -> dict[str, Any]:
    return {"job_id": job_id, "data": "x", "callback_url": "http://mw/cb?attempt=1", **fields}


def test_core_replaces_an_unsafe_request_id_and_logs_it(
    core_app: Flask, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        response = post_signed(core_app, settings, "/job_submit", job(request_id="é€"))
    assert response.status_code == 202
    queued = core_app.extensions["core"].queue.store.claim()
    assert queued.request_id == response.headers["X-Request-ID"]
    assert any(getattr(r, "event", None) == "request_id_replaced" for r in caplog.records)


def test_core_keeps_a_safe_request_id(core_app: Flask, settings: Settings) -> None:
    assert (
        post_signed(core_app, settings, "/job_submit", job(request_id="walk-1")).status_code == 202
    )
    assert core_app.extensions["core"].queue.store.claim().request_id == "walk-1"


@pytest.mark.parametrize("value", [{}, [], 5, True])
def test_core_refuses_a_request_id_that_is_not_a_string(
    core_app: Flask, settings: Settings, value: Any
) -> None:
    response = post_signed(core_app, settings, "/job_submit", job(request_id=value))
    assert response.status_code == 400
    assert response.get_json()["field"] == "request_id"
    assert not schema_validator("core", "CoreJobSubmit").is_valid(job(request_id=value))


def test_position_zero_is_a_job_a_worker_has(core_app: Flask, settings: Settings) -> None:
    assert post_signed(core_app, settings, "/job_submit", job()).get_json()["position"] == 1
    core_app.extensions["core"].queue.store.claim()  # as a worker does
    single = post_signed(core_app, settings, "/job_submit", job()).get_json()
    assert single["position"] == 0
    schema_validator("core", "CoreJobQueued").validate(single)
    batch = post_signed(core_app, settings, "/job_submit/batch", {"jobs": [job()]}).get_json()
    assert batch["jobs"][0]["position"] == 0
    schema_validator("core", "CoreJobBatchQueued").validate(batch)


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_a_number_json_has_not_is_a_400_naming_where_it_is(number: str) -> None:
    """Python's parser takes NaN and Infinity (and 1e400 as infinity); stored in a job's data,
    they made every answer that listed the job invalid JSON."""
    app = Flask(__name__)
    body = f'{{"job_name": "x", "data": {{"values": [1, {number}]}}}}'
    with app.test_request_context(data=body, content_type="application/json"):
        with pytest.raises(ApiError) as refused:
            json_body("job_name")
    assert (refused.value.status, refused.value.field) == (400, "data.values[1]")
    assert "NaN or Infinity" in str(refused.value)
    with app.test_request_context(data='{"data": [1.5, -2e300]}', content_type="application/json"):
        assert json_body() == {"data": [1.5, -2e300]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"job_name": "x", "data": "\\ud800"}', "data"),
        ('{"job_name": "x", "data": {"ok": "été", "deep": [["\\udfff"]]}}', "data.deep[0][0]"),
        ('{"job_name": "x", "data": {"\\ud800 key": 1}}', "data"),
        ('{"job_name": "x", "data": ["√", {"n": [1, 2.5, Infinity]}]}', "data[1].n[2]"),
    ],
)
def test_a_value_json_cannot_keep_is_named_wherever_it_hides(body: str, field: str) -> None:
    app = Flask(__name__)
    with app.test_request_context(data=body.encode(), content_type="application/json"):
        with pytest.raises(ApiError) as refused:
            json_body("job_name")
    assert (refused.value.status, refused.value.field) == (400, field)


def test_text_beyond_ascii_is_kept_as_it_came() -> None:
    app = Flask(__name__)
    body = {"job_name": "café ☕", "data": {"名前": ["ünïcode", "😀", 1.5, None, True]}}
    with app.test_request_context(json=body):
        assert json_body("job_name") == body
