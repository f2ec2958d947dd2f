"""Fuzzing of every service against its own OpenAPI document, with every schemathesis check.

Schemathesis makes requests from each operation's document (its examples, boundary values
of every field, then random ones; valid and invalid alike) and checks each answer: never a
5xx, a documented status, content type, headers and body, valid data accepted and invalid
data refused. Any failure is a place where a service and its document disagree.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from harness import Platform

import toy_platform
from toy_platform.config import load_settings
from toy_platform.security import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    ServiceAuth,
    load_service_key,
)

pytestmark = pytest.mark.e2e

SPEC_DIR = Path(toy_platform.__file__).resolve().parent / "openapi"
MAX_EXAMPLES = int(
    os.environ.get("FUZZ_EXAMPLES", "25")
)  # random examples per operation, on top of its examples and boundary values
CONFIG = {
    "checks": {"enabled": True},
    # No example database: no .hypothesis folder in the checkout; a failure prints its request.
    "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "database": "none"},
    "phases": {
        "examples": {"enabled": True},
        "coverage": {"enabled": True},
        "fuzzing": {"enabled": True},
    },
    "suppress-health-check": ["all"],
    "operations": [
        {
            # An Idempotency-Key sent again with other data is refused with 422, as the IETF
            # Idempotency-Key draft says (documented): a valid request, refused for what it
            # conflicts with. The generated cases reuse the document's example key.
            "include-path": "/job_submit",
            "include-method": "POST",
            "checks": {
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429"]
                }
            },
        }
    ],
}


def _schema(service: str) -> Any:
    """The document the service serves (test_openapi checks that /openapi.json is this file)."""
    config = schemathesis.Config.from_dict(CONFIG)
    return schemathesis.openapi.from_path(SPEC_DIR / f"{service}.json", config=config)


auth_schema = _schema("auth")
core_schema = _schema("core")
middleware_schema = _schema("middleware")


class Credentials(requests.auth.AuthBase):
    """Puts real credentials on a request where the generated case carries placeholders.

    Schemathesis generates the security headers too: a case that has both signature headers
    gets a real signature, one with an Authorization header gets a real bearer token. A case
    made without them (to see the service refuse it) goes out as it was made.
    """

    def __init__(self, key: bytes, token: str) -> None:
        self.sign = ServiceAuth(key)
        self.token = token

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        if "Authorization" in r.headers:
            r.headers["Authorization"] = f"Bearer {self.token}"
        if TIMESTAMP_HEADER in r.headers and SIGNATURE_HEADER in r.headers:
            return self.sign(r)
        return r


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    running = Platform(tmp_path_factory.mktemp("fuzz"), job_delay=0.01)
    try:
        yield running.serve()
    finally:
        running.stop()


@pytest.fixture(scope="module")
def credentials(fuzzed: Platform) -> Credentials:
    token = fuzzed.client().token
    assert token
    return Credentials(load_service_key(load_settings(home=fuzzed.home)), token)


CASES: Counter[tuple[str, str]] = Counter()
"""Requests sent per (service, operation), for the last test."""


def _send(service: str, case: Any, platform: Platform, credentials: Credentials) -> None:
    _tame(case)
    CASES[service, f"{case.method.upper()} {case.path}"] += 1
    case.call_and_validate(base_url=platform.url(service), auth=credentials)


def _tame(case: Any) -> None:
    """A valid pause is cut to 10 ms: a fuzzed 600 s would hang the service for the run.

    Invalid values go out as generated.
    """
    if case.path == "/_chaos/pause" and isinstance(case.body, dict):
        seconds = case.body.get("seconds")
        if isinstance(seconds, (int, float)) and not isinstance(seconds, bool):
            if 0 < seconds <= 600:
                case.body["seconds"] = min(seconds, 0.01)


@auth_schema.parametrize()
def test_auth(case: Any, fuzzed: Platform, credentials: Credentials) -> None:
    _send("auth", case, fuzzed, credentials)


@core_schema.parametrize()
def test_core(case: Any, fuzzed: Platform, credentials: Credentials) -> None:
    _send("core", case, fuzzed, credentials)


@middleware_schema.parametrize()
def test_middleware(case: Any, fuzzed: Platform, credentials: Credentials) -> None:
    _send("middleware", case, fuzzed, credentials)


def test_every_operation_was_fuzzed() -> None:
    """Each documented operation of each service fuzzed above got many requests."""
    for service in ("auth", "core", "middleware"):
        if not any(name == service for name, _ in CASES):
            continue  # that service's fuzz test was not selected in this run
        spec = json.loads((SPEC_DIR / f"{service}.json").read_text(encoding="utf-8"))
        for path, item in spec["paths"].items():
            for method in item:
                sent = CASES[service, f"{method.upper()} {path}"]
                print(f"{service:<10} {method.upper():<5} {path:<28} {sent:>4} requests")
                assert sent >= MAX_EXAMPLES, (service, method, path, sent)
