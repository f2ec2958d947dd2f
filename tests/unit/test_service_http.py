"""Signed calls between the services (toy_platform.service_http) against a real HTTP server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import unquote, urlsplit

import pytest
import urllib3
from support.harness import free_ports
from support.http_stub import HttpStub

from toy_platform.security import verify_signature
from toy_platform.service_http import NO_ANSWER, HttpStatusError, service_session


@pytest.fixture
def stub() -> Iterator[HttpStub]:
    server = HttpStub(lambda r: (202 if "ok" in r.path else 503, {"error": "busy"}))
    try:
        yield server
    finally:
        server.close()


def as_the_server_reads_it(raw_target: str) -> str:
    """The path a service verifies: decoded, plus the query as it came (service.py)."""
    parts = urlsplit(raw_target)
    return unquote(parts.path) + (f"?{parts.query}" if parts.query else "")


def test_what_is_signed_is_what_goes_out_even_for_text_that_must_be_encoded(
    stub: HttpStub,
) -> None:
    with service_session(b"shared") as session:
        answer = session.post(
            f"{stub.url}/ok/job callback/é?attempt=1&note=a b", json={"n": [1, "ü"]}, timeout=5
        )
    assert (answer.status_code, answer.ok, answer.json()) == (202, True, {"error": "busy"})
    (sent,) = stub.received
    raw = json.dumps(sent.body).encode()
    assert verify_signature(b"shared", "POST", as_the_server_reads_it(sent.path), sent.headers, raw)
    assert not verify_signature(
        b"other", "POST", as_the_server_reads_it(sent.path), sent.headers, raw
    )


def test_an_error_answer_is_an_answer_until_asked_to_be_a_success(stub: HttpStub) -> None:
    answer = service_session(b"k").post(f"{stub.url}/busy", timeout=5)
    assert (answer.status_code, answer.ok) == (503, False)
    with pytest.raises(HttpStatusError, match="HTTP 503"):
        answer.raise_for_status()


def test_no_answer_and_a_url_that_cannot_be_called_are_told_apart() -> None:
    (port,) = free_ports(1)
    session = service_session(b"k")
    with pytest.raises(NO_ANSWER):
        session.post(f"http://127.0.0.1:{port}/x", json={}, timeout=2)
    with pytest.raises(urllib3.exceptions.HTTPError) as bad_url:
        session.post("http://127.0.0.1:99999/x", json={}, timeout=2)
    assert not isinstance(bad_url.value, NO_ANSWER)
