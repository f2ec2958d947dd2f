"""The middleware's check of a submit against the job types core announced."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toy_platform.errors import ApiError
from toy_platform.jobs.reverse import REVERSE
from toy_platform.middleware.job_types import CACHE_FILE, JobTypes
from toy_platform.service_http import service_session


def job_types_core_said(data_dir: Path, *types: dict[str, object]) -> JobTypes:
    """JobTypes as a middleware has them from its last answer of core (core not asked)."""
    (data_dir / CACHE_FILE).write_text(json.dumps({"job_types": list(types)}), encoding="utf-8")
    return JobTypes("http://127.0.0.1:9", service_session(b"key"), data_dir)


def test_reverse_data_is_checked_against_the_schema_core_announced(tmp_path: Path) -> None:
    """One rule for reverse's data: the schema core's workers run it with, not a copy."""
    strict = REVERSE.describe() | {"input_schema": {"type": "string", "maxLength": 3}}
    types = job_types_core_said(tmp_path, strict)
    types.check("reverse", "abc")
    with pytest.raises(ApiError) as refused:
        types.check("reverse", "abcdef")
    assert (refused.value.status, refused.value.field) == (422, "data")


def test_reverse_is_known_and_checked_before_core_ever_answered(tmp_path: Path) -> None:
    types = JobTypes("http://127.0.0.1:9", service_session(b"key"), tmp_path)
    types.check("reverse", "hello")
    for bad in ("", 42, None):
        with pytest.raises(ApiError) as refused:
            types.check("reverse", bad)
        assert (refused.value.status, refused.value.field) == (422, "data")
