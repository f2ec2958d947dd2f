"""The OpenAPI documents in toy_platform/openapi/ against the real services' answers.

Every call here goes over HTTP to the platform started by `toy-platform serve`; each answer
is validated with openapi-core against the service's document, and each request is checked
to be valid (or, for the error cases, invalid) by the document too, so the documents and
the services cannot drift apart unnoticed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from openapi_core.exceptions import OpenAPIError
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate as validate_spec
from support.harness import Platform, wait_until
from support.signing import ServiceAuth

import toy_platform
from toy_platform.config import load_settings
from toy_platform.security import load_service_key

pytestmark = pytest.mark.e2e

SERVICES = ("auth", "core", "middleware")
SPEC_DIR = Path(toy_platform.__file__).resolve().parent / "openapi"
MAX_DATA_BYTES = 1000
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
USER, USER_PASSWORD = "openapi-user", "openapi-user-password"


def load_spec(service: str) -> dict[str, Any]:
    return json.loads((SPEC_DIR / f"{service}.json").read_text(encoding="utf-8"))


SPECS = {name: load_spec(name) for name in SERVICES}


# -- fixtures -----------------------------------------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """The platform, with a small data limit so that 413 is cheap to provoke."""
    running = Platform(
        tmp_path_factory.mktemp("openapi"),
        job_delay=0.05,
        web=False,
        dashboard=False,
        extra_args=["--max-data-bytes", str(MAX_DATA_BYTES)],
    )
    try:
        running.serve()
        running.add_user(USER, USER_PASSWORD)
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def check(live: Platform) -> Checker:
    return Checker(live)


@pytest.fixture(scope="module")
def admin_token(live: Platform) -> str:
    token = live.client().token
    assert token
    return token


@pytest.fixture(scope="module")
def user_token(live: Platform) -> str:
    token = live.client(USER, USER_PASSWORD).token
    assert token
    return token


@pytest.fixture(scope="module")
def signed(live: Platform) -> requests.Session:
    """A session that signs every request with the service key, as the services do."""
    session = requests.Session()
    session.auth = ServiceAuth(load_service_key(load_settings(home=live.home)))
    return session


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- checking answers against the documents -----------------------------------


def operation_of(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    """The documented operation for METHOD PATH (path templates matched like the services)."""
    for template, item in spec["paths"].items():
        parts = re.split(r"\{[^/}]+\}", template)
        pattern = "[^/]+".join(re.escape(part) for part in parts)
        if re.fullmatch(pattern, path) and method.lower() in item:
            return item[method.lower()]  # type: ignore[no-any-return]
    raise AssertionError(f"{method} {path} is not in the document")


class Checker:
    """Validates requests and responses of the live services against their documents."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.apis = {name: OpenAPI.from_dict(spec) for name, spec in SPECS.items()}
        self.error_validator = OAS31Validator(SPECS["middleware"]["components"]["schemas"]["Error"])

    def url(self, service: str, path: str) -> str:
        return self.platform.url(service) + path

    def __call__(
        self,
        service: str,
        response: requests.Response,
        status: int,
        code: str | None = None,
        request_valid: bool | None = True,
    ) -> Any:
        """Check RESPONSE: STATUS, documented with that code, valid, the error CODE if given.

        REQUEST_VALID True: the document accepts the request too; False: it rejects it
        (the service and the document agree the request is wrong); None: not checked.
        """
        prepared = response.request
        assert response.status_code == status, (
            f"{prepared.method} {prepared.url} answered {response.status_code}, not {status}: "
            f"{response.text[:500]}"
        )
        assert response.headers.get("X-Request-ID"), "every answer carries X-Request-ID"
        api = self.apis[service]
        path = prepared.path_url.split("?", 1)[0]
        operation = operation_of(SPECS[service], prepared.method or "GET", path)
        assert str(status) in operation["responses"], (
            f"{service}: {prepared.method} {path} answered {status}, which is not documented"
        )
        openapi_request = RequestsOpenAPIRequest(prepared)
        api.validate_response(openapi_request, RequestsOpenAPIResponse(response))
        if request_valid is True:
            api.validate_request(openapi_request)
        elif request_valid is False:
            with pytest.raises(OpenAPIError):
                api.validate_request(openapi_request)
        if status >= 400 and path != "/readyz":  # readyz answers 503 with its own shape
            body = response.json()
            self.error_validator.validate(body)
            if code is not None:
                assert body["code"] == code, body
            return body
        if response.headers.get("Content-Type", "").startswith("application/json"):
            return response.json()
        return response.text

    def error_only(self, response: requests.Response, status: int, code: str) -> None:
        """For answers outside any documented operation (unknown routes and methods)."""
        assert response.status_code == status, response.text
        assert response.headers["Content-Type"].startswith("application/json")
        assert response.headers.get("X-Request-ID")
        body = response.json()
        self.error_validator.validate(body)
        assert body["code"] == code, body


# -- the documents themselves -------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_document_is_valid_openapi(service: str) -> None:
    validate_spec(SPECS[service])
    assert SPECS[service]["info"]["version"] == toy_platform.__version__


@pytest.mark.parametrize("service", SERVICES)
def test_every_answer_documents_request_id_and_errors_use_error_schema(service: str) -> None:
    spec = SPECS[service]
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            assert operation.get("operationId"), (method, path)
            for status, response in operation["responses"].items():
                where = f"{service} {method.upper()} {path} {status}"
                assert response["headers"]["X-Request-ID"] == {
                    "$ref": "#/components/headers/XRequestID"
                }, where
                if int(status) >= 400 and path != "/readyz":
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, where
                    assert response["content"]["application/json"].get("examples"), where


def _media_examples(spec: dict[str, Any]) -> Iterator[tuple[str, Any, Any]]:
    """(where, schema, example) for every example of a request or response body."""
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            bodies = [("request", operation.get("requestBody", {}))]
            bodies += list(operation["responses"].items())
            for name, body in bodies:
                for media_type, media in body.get("content", {}).items():
                    where = f"{method.upper()} {path} {name} {media_type}"
                    if "example" in media:
                        yield where, media["schema"], media["example"]
                    for key, example in media.get("examples", {}).items():
                        yield f"{where} {key}", media["schema"], example["value"]


@pytest.mark.parametrize("service", SERVICES)
def test_examples_match_their_schemas(service: str) -> None:
    spec = SPECS[service]
    checked = 0
    for where, schema, example in _media_examples(spec):
        # The schema's $refs point into the document: make it the root they resolve against.
        validator = OAS31Validator(
            {**schema, "components": spec["components"]},
            format_checker=OAS31Validator.FORMAT_CHECKER,
        )
        errors = [e.message for e in validator.iter_errors(example)]
        assert not errors, f"{service} {where}: {errors}"
        checked += 1
    assert checked > 10


def _create_app(service: str, home: Path) -> Any:
    settings = load_settings(home=home)
    if service == "auth":
        from toy_platform.auth.app import create_app

        return create_app(settings)
    if service == "core":
        from toy_platform.core.app import create_app as create_core

        return create_core(settings, start_workers=False)
    from toy_platform.middleware.app import create_app as create_middleware

    return create_middleware(settings, start_forwarder=False)


@pytest.mark.parametrize("service", SERVICES)
def test_document_has_every_route_and_no_other(service: str, tmp_path: Path) -> None:
    app = _create_app(service, tmp_path)
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            routes.add((method.lower(), path))
    documented = {
        (method, path)
        for path, item in SPECS[service]["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }
    assert documented == routes


def test_a_batched_callback_documents_every_field_a_single_one_does() -> None:
    """The batch's items lacked `worker`: a fuzzer's non-string worker, valid by the document,
    was refused (400) by the middleware, which checks it as for a single callback."""
    schemas = SPECS["middleware"]["components"]["schemas"]
    single = schemas["JobCallback"]["properties"]
    batched = schemas["JobCallbackBatch"]["properties"]["callbacks"]["items"]["properties"]
    assert {name: batched.get(name) for name in single} == single


@pytest.mark.parametrize("service", SERVICES)
def test_served_document_is_the_file(check: Checker, service: str) -> None:
    response = requests.get(check.url(service, "/openapi.json"), timeout=10)
    served = check(service, response, 200)
    assert response.headers["Content-Type"].startswith("application/json")
    assert served == SPECS[service]


# -- what every service answers -----------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_health_readiness_and_metrics(check: Checker, service: str) -> None:
    health = check(service, requests.get(check.url(service, "/healthz"), timeout=10), 200)
    assert health["service"] == service
    rid = "openapi-test-1"
    response = requests.get(
        check.url(service, "/readyz"), headers={"X-Request-ID": rid}, timeout=10
    )
    assert check(service, response, 200)["ready"] is True
    assert response.headers["X-Request-ID"] == rid
    response = requests.get(check.url(service, "/metrics"), timeout=10)
    assert response.headers["Content-Type"].startswith("text/plain")
    assert "toy_platform_http_requests_total" in check(service, response, 200)


@pytest.mark.parametrize("service", SERVICES)
def test_unknown_route_and_method_answer_the_error_shape(check: Checker, service: str) -> None:
    check.error_only(
        requests.get(check.url(service, "/no/such/route"), timeout=10), 404, "not_found"
    )
    check.error_only(
        requests.delete(check.url(service, "/healthz"), timeout=10), 405, "method_not_allowed"
    )


@pytest.mark.parametrize("service", SERVICES)
def test_chaos_pause_needs_a_signature_and_a_good_number(
    check: Checker, signed: requests.Session, service: str
) -> None:
    url = check.url(service, "/_chaos/pause")
    check(
        service,
        requests.post(url, json={"seconds": 1}, timeout=10),
        401,
        "unauthorized",
        request_valid=False,
    )
    check(
        service,
        signed.post(url, json={"seconds": 0}, timeout=10),
        400,
        "invalid_field",
        request_valid=False,
    )
    check(
        service,
        signed.post(url, data=b"seconds", timeout=10),
        400,
        "invalid_json",
        request_valid=False,
    )


# -- auth ---------------------------------------------------------------------


def test_login(check: Checker, live: Platform) -> None:
    url = check.url("auth", "/login")
    body = check(
        "auth",
        requests.post(url, json={"username": "admin", "password": live.admin_password}, timeout=10),
        200,
    )
    assert body["role"] == "admin" and body["token_type"] == "Bearer"
    check(
        "auth",
        requests.post(url, json={"username": "admin", "password": "wrong"}, timeout=10),
        401,
        "invalid_credentials",
    )
    check(
        "auth",
        requests.post(url, json={"username": "admin"}, timeout=10),
        400,
        "invalid_field",
        request_valid=False,
    )
    check(
        "auth",
        requests.post(url, json={"username": "", "password": "x"}, timeout=10),
        400,
        "invalid_field",
        request_valid=False,
    )
    check(
        "auth",
        requests.post(url, data="not json", timeout=10),
        400,
        "invalid_json",
        request_valid=False,
    )


def test_login_throttled(check: Checker) -> None:
    url = check.url("auth", "/login")
    attempt = {"username": "openapi-guesser", "password": "guess"}
    for _ in range(5):
        check("auth", requests.post(url, json=attempt, timeout=10), 401, "invalid_credentials")
    response = requests.post(url, json=attempt, timeout=10)
    body = check("auth", response, 429, "too_many_attempts")
    assert body["retry_after"] > 0
    assert int(response.headers["Retry-After"]) == body["retry_after"]


def test_jwks(check: Checker) -> None:
    response = requests.get(check.url("auth", "/.well-known/jwks.json"), timeout=10)
    assert check("auth", response, 200)["keys"][0]["alg"] == "EdDSA"
    assert "max-age" in response.headers["Cache-Control"]


# -- core -----------------------------------------------------------------------


def test_core_job_submit(check: Checker, live: Platform, signed: requests.Session) -> None:
    url = check.url("core", "/job_submit")
    job = {
        "job_id": "openapi-core-direct",
        "data": "hello",
        "callback_url": f"{live.middleware_url}/job_callback/openapi-core-direct?attempt=1",
    }
    body = check("core", signed.post(url, json=job, timeout=10), 202)
    assert body["job_id"] == job["job_id"] and body["position"] >= 0
    check(
        "core", requests.post(url, json=job, timeout=10), 401, "unauthorized", request_valid=False
    )
    check(
        "core",
        signed.post(url, json={**job, "job_id": ""}, timeout=10),
        400,
        "invalid_field",
        request_valid=False,
    )
    check(
        "core",
        signed.post(url, json={**job, "callback_url": "ftp://x/y"}, timeout=10),
        400,
        "invalid_field",
        request_valid=False,
    )
    check(
        "core",
        signed.post(url, json={"job_id": "x"}, timeout=10),
        400,
        "invalid_field",
        request_valid=False,
    )
    check(
        "core", signed.post(url, data=b"[1]", timeout=10), 400, "invalid_json", request_valid=False
    )


def test_core_queue_size_and_purge(check: Checker, signed: requests.Session) -> None:
    body = check("core", requests.get(check.url("core", "/queue_size"), timeout=10), 200)
    assert body["queue_size"] >= 0
    url = check.url("core", "/purge")
    check("core", requests.post(url, timeout=10), 401, "unauthorized", request_valid=False)
    assert check("core", signed.post(url, timeout=10), 200)["service"] == "core"


# -- middleware -----------------------------------------------------------------


def submit(
    check: Checker, token: str, name: str = "openapi", data: str = "hello", **kwargs: Any
) -> requests.Response:
    return requests.post(
        check.url("middleware", "/job_submit"),
        json={"job_name": name, "data": data},
        headers={**bearer(token), **kwargs.pop("headers", {})},
        timeout=10,
        **kwargs,
    )


def wait_for_status(check: Checker, token: str, job_id: str, *statuses: str) -> Any:
    url = check.url("middleware", f"/jobs/{job_id}")

    def finished() -> Any:
        job = requests.get(url, headers=bearer(token), timeout=10).json()
        return job if job["status"] in statuses else None

    return wait_until(finished, 30, what=f"job {job_id} to be {' or '.join(statuses)}")


def test_job_submit(check: Checker, admin_token: str) -> None:
    body = check("middleware", submit(check, admin_token), 202)
    assert body["job"]["status"] == "queued" and body["job_id"] == body["job"]["job_id"]
    key = {"Idempotency-Key": "openapi-key-1"}
    first = check("middleware", submit(check, admin_token, headers=key), 202)
    response = submit(check, admin_token, headers=key)
    assert check("middleware", response, 202)["job_id"] == first["job_id"]
    assert response.headers["Idempotent-Replayed"] == "true"


def test_job_submit_errors(check: Checker, admin_token: str) -> None:
    url = check.url("middleware", "/job_submit")
    check(
        "middleware",
        requests.post(url, json={"job_name": "x", "data": "y"}, timeout=10),
        401,
        "unauthorized",
        request_valid=False,
    )
    check("middleware", submit(check, "not-a-jwt"), 401, "invalid_token")
    check(
        "middleware",
        requests.post(url, json={"data": "y"}, headers=bearer(admin_token), timeout=10),
        400,
        "invalid_field",
        request_valid=False,
    )
    check(
        "middleware",
        submit(check, admin_token, name="   "),
        400,
        "invalid_field",
        request_valid=False,
    )
    check(
        "middleware",
        submit(check, admin_token, name="x" * 201),
        400,
        "invalid_field",
        request_valid=False,
    )
    check(
        "middleware",
        requests.post(url, data="job", headers=bearer(admin_token), timeout=10),
        400,
        "invalid_json",
        request_valid=False,
    )
    check(
        "middleware",
        submit(check, admin_token, headers={"Idempotency-Key": "k" * 201}),
        400,
        "invalid_header",
        request_valid=False,
    )
    key = {"Idempotency-Key": "openapi-key-reused"}
    check("middleware", submit(check, admin_token, headers=key), 202)
    check(
        "middleware",
        submit(check, admin_token, data="something else", headers=key),
        422,
        "idempotency_key_reused",
    )


def test_job_submit_too_large(check: Checker, admin_token: str) -> None:
    body = check(
        "middleware", submit(check, admin_token, data="x" * (MAX_DATA_BYTES + 1)), 413, "too_large"
    )
    assert body["field"] == "data"
    huge = "x" * (MAX_DATA_BYTES * 6 + 64 * 1024 + 1)
    check("middleware", submit(check, admin_token, data=huge), 413, "too_large")


def test_list_jobs(check: Checker, admin_token: str, user_token: str) -> None:
    url = check.url("middleware", "/list_jobs")
    page = check("middleware", requests.get(url, headers=bearer(admin_token), timeout=10), 200)
    assert page["jobs"] and page["limit"] == 100 and page["offset"] == 0
    params = {"status": "queued", "limit": 2, "offset": 0, "scope": "all"}
    check(
        "middleware", requests.get(url, params=params, headers=bearer(admin_token), timeout=10), 200
    )
    check("middleware", requests.get(url, headers=bearer(user_token), timeout=10), 200)
    for bad in (
        {"status": "lost"},
        {"limit": 0},
        {"limit": "many"},
        {"offset": -1},
        {"scope": "everyone"},
    ):
        check(
            "middleware",
            requests.get(url, params=bad, headers=bearer(admin_token), timeout=10),
            400,
            "invalid_field",
            request_valid=False,
        )
    body = check(
        "middleware",
        requests.get(url, params={"scope": "all"}, headers=bearer(user_token), timeout=10),
        403,
        "forbidden",
    )
    assert body["field"] == "scope"
    check("middleware", requests.get(url, timeout=10), 401, "unauthorized", request_valid=False)


def test_get_job(check: Checker, admin_token: str, user_token: str) -> None:
    job_id = submit(check, admin_token).json()["job_id"]
    wait_for_status(check, admin_token, job_id, "succeeded")
    url = check.url("middleware", f"/jobs/{job_id}")
    job = check("middleware", requests.get(url, headers=bearer(admin_token), timeout=10), 200)
    assert job["result"] == "olleh"
    assert [e["status"] for e in job["events"]][:1] == ["submitted"]
    check("middleware", requests.get(url, headers=bearer(user_token), timeout=10), 404, "not_found")
    check(
        "middleware",
        requests.get(
            check.url("middleware", "/jobs/nope"), headers=bearer(admin_token), timeout=10
        ),
        404,
        "not_found",
    )


def test_retry_only_a_failed_job(
    check: Checker, admin_token: str, signed: requests.Session
) -> None:
    job_id = submit(check, admin_token).json()["job_id"]
    wait_for_status(check, admin_token, job_id, "succeeded")
    url = check.url("middleware", f"/jobs/{job_id}/retry")
    check(
        "middleware", requests.post(url, headers=bearer(admin_token), timeout=10), 409, "not_failed"
    )
    check(
        "middleware",
        requests.post(
            check.url("middleware", "/jobs/nope/retry"), headers=bearer(admin_token), timeout=10
        ),
        404,
        "not_found",
    )
    check("middleware", requests.post(url, timeout=10), 401, "unauthorized", request_valid=False)

    # Hold the core, so that the job is still queued when we report it failed ourselves.
    pause = signed.post(check.url("core", "/_chaos/pause"), json={"seconds": 1.5}, timeout=10)
    assert check("core", pause, 202)["paused_s"] == 1.5
    job_id = submit(check, admin_token).json()["job_id"]
    callback = check.url("middleware", f"/job_callback/{job_id}?attempt=1")
    failed = {
        "status": "failed",
        "error": "made to fail",
        "completed_at": None,
        "delivery_attempt": 1,
    }
    body = check("middleware", signed.post(callback, json=failed, timeout=10), 200)
    assert body == {
        "job_id": job_id,
        "status": "failed",
        "changed": True,
        "cancel_requested": False,
    }
    retried = check(
        "middleware",
        requests.post(
            check.url("middleware", f"/jobs/{job_id}/retry"),
            headers=bearer(admin_token),
            timeout=10,
        ),
        200,
    )
    assert retried["status"] == "queued" and retried["attempt"] == 2
    assert wait_for_status(check, admin_token, job_id, "succeeded")["attempt"] == 2


def test_job_callback(check: Checker, admin_token: str, signed: requests.Session) -> None:
    job_id = submit(check, admin_token).json()["job_id"]
    wait_for_status(check, admin_token, job_id, "succeeded")
    url = check.url("middleware", f"/job_callback/{job_id}?attempt=1")
    running = {"status": "running", "started_at": "2026-01-01T00:00:00.000+00:00"}
    body = check("middleware", signed.post(url, json=running, timeout=10), 200)
    assert body["changed"] is False and body["status"] == "succeeded"
    check(
        "middleware",
        requests.post(url, json=running, timeout=10),
        401,
        "unauthorized",
        request_valid=False,
    )
    check(
        "middleware",
        signed.post(url, json={"status": "done"}, timeout=10),
        400,
        "invalid_field",
        request_valid=False,
    )
    check(
        "middleware",
        signed.post(url, json={"status": "failed", "error": 3}, timeout=10),
        400,
        "invalid_field",
        request_valid=False,
    )
    check(
        "middleware",
        signed.post(url, data=b"null", timeout=10),
        400,
        "invalid_json",
        request_valid=False,
    )
    bad_attempt = check.url("middleware", f"/job_callback/{job_id}?attempt=zero")
    check(
        "middleware",
        signed.post(bad_attempt, json=running, timeout=10),
        400,
        "invalid_field",
        request_valid=False,
    )
    huge = {"status": "running", "result": "x" * (MAX_DATA_BYTES * 6 + 64 * 1024 + 1)}
    response = signed.post(url, json=huge, timeout=10)
    check("middleware", response, 413, "too_large")
    unknown = check.url("middleware", "/job_callback/nope?attempt=1")
    check("middleware", signed.post(unknown, json=running, timeout=10), 404, "not_found")


def test_platform_status(check: Checker, admin_token: str, user_token: str) -> None:
    url = check.url("middleware", "/platform_status")
    body = check("middleware", requests.get(url, headers=bearer(user_token), timeout=10), 200)
    assert body["all_ready"] is True
    assert set(body["components"]) == {"auth", "middleware", "core"}
    check("middleware", requests.get(url, timeout=10), 401, "unauthorized", request_valid=False)


def test_auth_service_down(check: Checker, live: Platform, admin_token: str) -> None:
    """The middleware is not ready without auth, but tokens it has the key for still work."""
    url = check.url("middleware", "/platform_status")
    unknown_key = jwt.encode({"sub": "x"}, "k" * 32, algorithm="HS256", headers={"kid": "nope"})
    response = requests.get(url, headers=bearer(unknown_key), timeout=10)
    check("middleware", response, 401, "invalid_token")
    live.stop_child("auth")
    try:
        response = requests.get(check.url("middleware", "/readyz"), timeout=10)
        assert check("middleware", response, 503)["reason"].startswith("auth")
        response = requests.get(url, headers=bearer(admin_token), timeout=10)
        status = check("middleware", response, 200)
        assert status["all_ready"] is False
        assert status["components"]["auth"]["up"] is False
        assert status["components"]["middleware"]["ready"] is False
    finally:
        live.start_child("auth")


def test_reset(check: Checker, admin_token: str, user_token: str) -> None:
    """Last: it forgets every job."""
    url = check.url("middleware", "/reset")
    check(
        "middleware", requests.post(url, headers=bearer(user_token), timeout=10), 403, "forbidden"
    )
    check("middleware", requests.post(url, timeout=10), 401, "unauthorized", request_valid=False)
    body = check("middleware", requests.post(url, headers=bearer(admin_token), timeout=10), 200)
    assert body["reset"] is True and body["core_purged"] is True and body["jobs_removed"] > 0


# -- known bugs: these fail until the services are fixed ------------------------------


@pytest.mark.parametrize("service", ["middleware", "core"])
def test_unencodable_text_is_a_400(
    check: Checker, admin_token: str, signed: requests.Session, service: str
) -> None:
    headers = {"Content-Type": "application/json", **bearer(admin_token)}
    if service == "middleware":
        body = '{"job_name": "x", "data": "\\ud800"}'
        response = requests.post(
            check.url(service, "/job_submit"), data=body, headers=headers, timeout=10
        )
    else:
        body = '{"job_id": "\\ud800", "data": "x", "callback_url": "http://127.0.0.1:1/"}'
        response = signed.post(
            check.url(service, "/job_submit"), data=body, headers=headers, timeout=10
        )
    check(service, response, 400, "invalid_field", request_valid=None)


@pytest.mark.parametrize("service", SERVICES)
def test_method_not_allowed_says_what_is(check: Checker, service: str) -> None:
    response = requests.delete(check.url(service, "/healthz"), timeout=10)
    assert response.status_code == 405
    assert "GET" in response.headers.get("Allow", ""), response.headers


@pytest.mark.parametrize("service", SERVICES)
def test_metrics_content_type(check: Checker, service: str) -> None:
    response = requests.get(check.url(service, "/metrics"), timeout=10)
    assert response.headers["Content-Type"].count("charset") == 1, response.headers


# -- fields checked as the documents say (each found by tests/e2e/test_fuzz.py) ----------


def core_job(live: Platform, job_id: str, **fields: Any) -> dict[str, Any]:
    url = f"{live.middleware_url}/job_callback/{job_id}?attempt=1"
    return {"job_id": job_id, "data": "hello", "callback_url": url, **fields}


def test_core_request_id_follows_the_request_id_rule(
    check: Checker, live: Platform, signed: requests.Session
) -> None:
    url = check.url("core", "/job_submit")
    for bad in ({}, 5, ["x"]):
        body = check(
            "core",
            signed.post(url, json=core_job(live, "openapi-rid-bad", request_id=bad), timeout=10),
            400,
            "invalid_field",
            request_valid=False,
        )
        assert body["field"] == "request_id"
    # A string that breaks the rule is replaced, as an unsafe X-Request-ID header is.
    for job_id, rid in (("openapi-rid-1", "é€"), ("openapi-rid-2", "x\n"), ("openapi-rid-3", None)):
        response = signed.post(url, json=core_job(live, job_id, request_id=rid), timeout=10)
        check("core", response, 202)
    batch = {"jobs": [core_job(live, "openapi-rid-4", request_id={"a": 1})]}
    body = check(
        "core",
        signed.post(check.url("core", "/job_submit/batch"), json=batch, timeout=10),
        400,
        "invalid_field",
        request_valid=False,
    )
    assert body["field"] == "jobs[0].request_id"


def test_core_job_id_and_callback_url_are_checked(
    check: Checker, live: Platform, signed: requests.Session
) -> None:
    url = check.url("core", "/job_submit")
    for field, value in (
        ("job_id", "with space"),
        ("job_id", "x" * 65),
        ("job_id", "é"),
        ("callback_url", "https://\x0f\xa9h/"),
        ("callback_url", "http://"),
        ("callback_url", "http://host/a b"),
        ("callback_url", "http://[zz]/"),
    ):
        job = {**core_job(live, "openapi-checked"), field: value}
        body = check(
            "core",
            signed.post(url, json=job, timeout=10),
            400,
            "invalid_field",
            request_valid=False,
        )
        assert body["field"] == field, (field, value)


def test_nested_text_that_is_not_unicode_is_a_400(
    check: Checker, live: Platform, signed: requests.Session
) -> None:
    job = json.dumps(core_job(live, "openapi-surrogate")).replace('"hello"', '"\\ud800"')
    response = signed.post(
        check.url("core", "/job_submit/batch"),
        data=f'{{"jobs": [{job}]}}',
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    body = check("core", response, 400, "invalid_field", request_valid=None)
    assert body["field"] == "jobs[0].data"


DEEP_JSON = "[" * 20000 + "]" * 20000


def test_json_nested_too_deep_is_a_400(
    check: Checker, signed: requests.Session, admin_token: str
) -> None:
    """Deeper than the JSON parser goes: the body is not a JSON object (was a 500)."""
    json_type = {"Content-Type": "application/json"}
    for service, session, path, headers in (
        ("auth", requests, "/login", json_type),
        ("core", signed, "/job_submit", json_type),
        ("middleware", requests, "/job_submit", {**json_type, **bearer(admin_token)}),
    ):
        response = session.post(
            check.url(service, path), data=DEEP_JSON, headers=headers, timeout=10
        )
        # Not checked against the document: its validator cannot parse such JSON either.
        check(service, response, 400, "invalid_json", request_valid=None)


def test_callback_whole_numbers_and_timestamps(
    check: Checker, admin_token: str, signed: requests.Session
) -> None:
    job_id = submit(check, admin_token).json()["job_id"]
    wait_for_status(check, admin_token, job_id, "succeeded")
    url = check.url("middleware", f"/job_callback/{job_id}?attempt=1")
    running = {"status": "running", "started_at": "2026-01-01T00:00:00.000+00:00"}
    # JSON Schema calls 2.0 an integer: accepted wherever the document says integer.
    check(
        "middleware", signed.post(url, json={**running, "delivery_attempt": 2.0}, timeout=10), 200
    )
    for field, value in (
        ("delivery_attempt", 0),
        ("delivery_attempt", True),
        ("delivery_attempt", 1.5),
        ("delivery_attempt", None),
        ("started_at", ""),
        ("started_at", "2026-02-30T00:00:00Z"),
        ("started_at", "yesterday"),
        ("completed_at", "2026-01-01 00:00:00"),
        ("request_id", {}),
    ):
        body = check(
            "middleware",
            signed.post(url, json={**running, field: value}, timeout=10),
            400,
            "invalid_field",
            request_valid=False,
        )
        assert body["field"] == field, (field, value)
    batch_url = check.url("middleware", "/job_callbacks")
    item = {**running, "job_id": job_id, "attempt": 1.0, "delivery_attempt": 3.0}
    body = check("middleware", signed.post(batch_url, json={"callbacks": [item]}, timeout=10), 200)
    assert body["results"] == [
        {"job_id": job_id, "outcome": "unchanged", "cancel_requested": False}
    ]
    for field, value in (("attempt", True), ("attempt", 0), ("attempt", 10**7), ("request_id", [])):
        body = check(
            "middleware",
            signed.post(batch_url, json={"callbacks": [{**item, field: value}]}, timeout=10),
            400,
            "invalid_field",
            request_valid=False,
        )
        assert body["field"] == f"callbacks[0].{field}", (field, value)


@pytest.mark.parametrize(
    "query, field",
    [
        ("offset=&offset=5", "offset"),
        ("offset=", "offset"),
        ("offset=1&offset=2", "offset"),
        ("limit=", "limit"),
        ("limit=5&limit=5", "limit"),
        ("status=", "status"),
        ("status=queued&status=failed", "status"),
        ("scope=", "scope"),
        ("scope=mine&scope=all", "scope"),
        ("limit=%EF%BC%95", "limit"),
        ("offset=+5", "offset"),
    ],
)
def test_list_jobs_refuses_empty_and_repeated_parameters(
    check: Checker, admin_token: str, query: str, field: str
) -> None:
    url = check.url("middleware", f"/list_jobs?{query}")
    response = requests.get(url, headers=bearer(admin_token), timeout=10)
    body = check("middleware", response, 400, "invalid_field", request_valid=None)
    assert body["field"] == field


def test_callback_attempt_parameter_refuses_empty_and_repeated(
    check: Checker, signed: requests.Session
) -> None:
    running = {"status": "running"}
    for query in ("attempt=", "attempt=1&attempt=2"):
        url = check.url("middleware", f"/job_callback/nope?{query}")
        body = check(
            "middleware",
            signed.post(url, json=running, timeout=10),
            400,
            "invalid_field",
            request_valid=None,
        )
        assert body["field"] == "attempt"


@pytest.mark.parametrize(
    "service, path",
    [
        ("auth", "/login"),
        ("auth", "/_chaos/pause"),
        ("core", "/job_submit"),
        ("core", "/job_submit/batch"),
        ("core", "/purge"),
        ("core", "/_chaos/pause"),
        ("middleware", "/job_callback/nope"),
        ("middleware", "/job_callbacks"),
        ("middleware", "/_chaos/pause"),
    ],
)
def test_a_body_over_the_limit_is_a_documented_413(
    check: Checker, signed: requests.Session, service: str, path: str
) -> None:
    huge = b'"' + b"x" * (MAX_DATA_BYTES * 6 + 64 * 1024) + b'"'
    response = signed.post(
        check.url(service, path),
        data=huge,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    check(service, response, 413, "too_large", request_valid=None)
