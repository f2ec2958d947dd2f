"""Fuzzing of every service against its own OpenAPI document, with every schemathesis check.

Schemathesis makes requests from each operation's document (its examples, boundary values
of every field, then random ones; valid and invalid alike) and checks each answer: never a
5xx, a documented status, content type, headers and body, valid data accepted and invalid
data refused. Any failure is a place where a service and its document disagree.

Every operation of every service is fuzzed; only what would stop the run is tamed (a valid
/_chaos/pause is cut to 10 ms, see _tame). /reset is fuzzed too: it wipes the jobs, which no
case here relies on. Left out: schemathesis' stateful phase, whose choice of the next call
depends on what the live services answered, which Hypothesis rejects as flaky generation.

FUZZ_EXAMPLES=N sets the random examples per operation (default 100: about 100-200
requests per operation, under a minute for the whole file).
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
from support.harness import Platform
from support.signing import ServiceAuth

import toy_platform
from toy_platform.config import load_settings
from toy_platform.security import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    load_service_key,
)
from toy_platform.urls import is_http_url

pytestmark = pytest.mark.e2e

SPEC_DIR = Path(toy_platform.__file__).resolve().parent / "openapi"
# Random examples per operation, on top of the document's examples and boundary values.
MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))
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
    """The document the service serves at /openapi.json (test_served_documents checks so).

    Loaded at import, so that each operation is a test of its own: schemathesis' lazy
    loading from a fixture does not work with pytest 9.
    """
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


def test_served_documents_are_the_ones_fuzzed(fuzzed: Platform) -> None:
    for service in ("auth", "core", "middleware"):
        served = requests.get(f"{fuzzed.url(service)}/openapi.json", timeout=10).json()
        assert served == json.loads((SPEC_DIR / f"{service}.json").read_text(encoding="utf-8"))


def _send(service: str, case: Any, platform: Platform, credentials: Credentials) -> None:
    _tame(case, platform)
    CASES[service, f"{case.method.upper()} {case.path}"] += 1
    case.call_and_validate(base_url=platform.url(service), auth=credentials)


def _tame(case: Any, platform: Platform) -> None:
    """Keep the run on this machine and moving; what is valid stays valid, invalid stays so.

    A valid pause is cut to 10 ms (a fuzzed 600 s would hang the service for the run), and a
    job's callback_url is sent to the middleware on loopback, its path kept: the core would
    otherwise call back whatever host the fuzzer made up.
    """
    body = case.body
    if case.path == "/_chaos/pause" and isinstance(body, dict):
        seconds = body.get("seconds")
        if isinstance(seconds, (int, float)) and not isinstance(seconds, bool):
            if 0 < seconds <= 600:
                body["seconds"] = min(seconds, 0.01)
    if case.path in ("/job_submit", "/job_submit/batch") and isinstance(body, dict):
        jobs = body.get("jobs") if case.path.endswith("batch") else [body]
        for job in jobs if isinstance(jobs, list) else []:
            url = job.get("callback_url") if isinstance(job, dict) else None
            if isinstance(url, str) and is_http_url(url):
                job["callback_url"] = platform.middleware_url + _after_host(url)


def _after_host(url: str) -> str:
    """What follows the host (and port) in URL: '/job_callback/x?attempt=1', '?q', ''."""
    rest = url.split("://", 1)[1]
    ends = [i for i in (rest.find(c) for c in "/?#") if i >= 0]
    return rest[min(ends) :] if ends else ""


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


def test_no_traceback_or_error_logged(fuzzed: Platform) -> None:
    """Whatever came in, no service logged a traceback or an error of its own."""
    texts = {"serve": fuzzed.output("serve")}
    texts.update({str(p): p.read_text(errors="replace") for p in fuzzed.home.rglob("*.log*")})
    for where, text in texts.items():
        assert "Traceback" not in text, f"{where}:\n{text[-3000:]}"
        errors = [line for line in text.splitlines() if '"level": "ERROR"' in line]
        assert not errors, f"{where}:\n" + "\n".join(errors[:5])
