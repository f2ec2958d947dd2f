from __future__ import annotations

import json
import time

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from support.http_stub import HttpStub

from toy_platform.clock import utc_now
from toy_platform.config import Settings
from toy_platform.middleware import app as middleware
from unit.conftest import InProcessJWKClient, bearer, signed_headers


def submit(
    mw: FlaskClient,
    token: str,
    name: str = "job",
    data: str = "hello",
    headers: dict[str, str] | None = None,
):
    return mw.post(
        "/job_submit",
        json={"job_name": name, "data": data},
        headers={**bearer(token), **(headers or {})},
    )


def callback(mw: FlaskClient, settings: Settings, job_id: str, body: dict, attempt: int = 1):
    url = f"/job_callback/{job_id}?attempt={attempt}"
    raw = json.dumps(body).encode()
    return mw.post(
        url,
        data=raw,
        content_type="application/json",
        headers=signed_headers(settings, "POST", url, raw),
    )


def test_submit_accepts_a_job_with_202(mw: FlaskClient, tokens: dict[str, str]) -> None:
    response = submit(mw, tokens["alice"])
    assert response.status_code == 202
    body = response.get_json()
    assert body["status"] == "queued"
    assert body["job"]["owner"] == "alice"
    assert response.headers["X-Request-ID"] == body["job"]["request_id"]


def test_submit_keeps_the_callers_request_id(mw: FlaskClient, tokens: dict[str, str]) -> None:
    response = submit(mw, tokens["alice"], headers={"X-Request-ID": "trace-42"})
    assert response.headers["X-Request-ID"] == "trace-42"
    assert response.get_json()["job"]["request_id"] == "trace-42"


def test_an_unsafe_request_id_is_replaced(mw: FlaskClient, tokens: dict[str, str]) -> None:
    response = submit(mw, tokens["alice"], headers={"X-Request-ID": "bad id with space"})
    assert response.headers["X-Request-ID"] != "bad id with space"
    assert len(response.headers["X-Request-ID"]) == 32


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({"data": "x"}, "job_name", 400),
        ({"job_name": "x"}, "data", 400),
        ({"job_name": "", "data": "x"}, "job_name", 400),
        ({"job_name": "   ", "data": "x"}, "job_name", 400),
        ({"job_name": "n" * 201, "data": "x"}, "job_name", 400),
        ({"job_name": 5, "data": "x"}, "job_name", 400),
        ({"job_name": "x", "data": ["a"]}, "data", 422),
        ({"job_name": "x", "data": ""}, "data", 422),
        ({"job_name": "x", "data": "x", "job_type": "nope"}, "job_type", 422),
        ({"job_name": "x", "data": "x", "job_type": 5}, "job_type", 400),
        ({"job_name": "x", "data": "é" * 501}, "data", 413),
    ],
)
def test_submit_names_the_bad_field(
    mw: FlaskClient, tokens: dict[str, str], body: dict, field: str, status: int
) -> None:
    response = mw.post("/job_submit", json=body, headers=bearer(tokens["alice"]))
    assert response.status_code == status
    assert response.get_json()["field"] == field


def test_a_body_far_over_the_limit_is_refused_with_413(
    mw: FlaskClient, tokens: dict[str, str]
) -> None:
    response = submit(mw, tokens["alice"], data="x" * 100_000)
    assert response.status_code == 413
    assert response.is_json


def test_a_body_over_the_limit_names_the_data_limit_the_user_set(
    mw: FlaskClient, tokens: dict[str, str], settings: Settings
) -> None:
    response = submit(mw, tokens["alice"], data="x" * 100_000)
    assert response.status_code == 413
    assert response.get_json() == {
        "error": "'data' is larger than the limit of 1000 bytes (--max-data-bytes)",
        "code": "too_large",
        "field": "data",
    }
    huge = {"status": "running", "result": "x" * 100_000}
    response = callback(mw, settings, "no-such-job", huge)
    assert response.status_code == 413
    body = response.get_json()
    assert body["code"] == "too_large" and "field" not in body
    assert "--max-data-bytes (1000 bytes" in body["error"]
    assert str(settings.max_data_bytes * 6 + 64 * 1024) not in body["error"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer not.a.token"},
    ],
)
def test_submit_requires_a_valid_token(mw: FlaskClient, headers: dict) -> None:
    response = mw.post("/job_submit", json={"job_name": "x", "data": "y"}, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["code"] in ("unauthorized", "invalid_token")


def test_a_token_signed_by_another_key_is_rejected(mw: FlaskClient) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    forged = jwt.encode(
        {
            "sub": "root",
            "role": "admin",
            "exp": time.time() + 60,
            "iss": "toy-platform-auth",
            "aud": "toy-platform",
        },
        Ed25519PrivateKey.generate(),
        algorithm="EdDSA",
    )
    response = mw.get("/list_jobs", headers=bearer(forged))
    assert response.status_code == 401


def test_an_expired_token_is_rejected(
    mw: FlaskClient, middleware_app: Flask, auth_client: FlaskClient
) -> None:
    from toy_platform.auth.tokens import TokenIssuer
    from toy_platform.security import load_signing_key

    issuer = TokenIssuer(load_signing_key(middleware_app.extensions["middleware"].settings), -10)
    response = mw.get("/list_jobs", headers=bearer(issuer.issue("alice", "user")))
    assert response.status_code == 401
    assert response.get_json()["code"] == "token_expired"


def test_idempotency_key_returns_the_same_job(mw: FlaskClient, tokens: dict[str, str]) -> None:
    headers = {"Idempotency-Key": "k-1"}
    first = submit(mw, tokens["alice"], headers=headers)
    again = submit(mw, tokens["alice"], headers=headers)
    assert first.get_json()["job_id"] == again.get_json()["job_id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    other_user = submit(mw, tokens["bob"], headers=headers)
    assert other_user.get_json()["job_id"] != first.get_json()["job_id"]
    assert mw.get("/list_jobs", headers=bearer(tokens["alice"])).get_json()["total"] == 1


def test_idempotency_key_reused_for_another_job_is_refused(
    mw: FlaskClient, tokens: dict[str, str]
) -> None:
    headers = {"Idempotency-Key": "k-2"}
    first = submit(mw, tokens["alice"], headers=headers).get_json()
    for changed in ({"job_name": "other"}, {"data": "other data"}):
        body = {"job_name": "job", "data": "hello", **changed}
        response = mw.post("/job_submit", json=body, headers={**bearer(tokens["alice"]), **headers})
        assert response.status_code == 422
        error = response.get_json()
        assert error["code"] == "idempotency_key_reused"
        assert error["field"] == "Idempotency-Key"
        assert error["job_id"] == first["job_id"]
    assert mw.get("/list_jobs", headers=bearer(tokens["alice"])).get_json()["total"] == 1


def test_list_jobs_hides_other_users_jobs(mw: FlaskClient, tokens: dict[str, str]) -> None:
    submit(mw, tokens["alice"], name="a1")
    submit(mw, tokens["alice"], name="a2")
    submit(mw, tokens["bob"], name="b1")
    alice = mw.get("/list_jobs", headers=bearer(tokens["alice"])).get_json()
    assert [j["job_name"] for j in alice["jobs"]] == ["a2", "a1"], "newest first"
    assert alice["total"] == 2
    everyone = mw.get("/list_jobs?scope=all", headers=bearer(tokens["root"])).get_json()
    assert everyone["total"] == 3


def test_only_an_admin_lists_everyones_jobs(mw: FlaskClient, tokens: dict[str, str]) -> None:
    response = mw.get("/list_jobs?scope=all", headers=bearer(tokens["alice"]))
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=done", "status"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=abc", "limit"),
        ("offset=-1", "offset"),
        ("scope=x", "scope"),
    ],
)
def test_list_jobs_validates_its_query(
    mw: FlaskClient, tokens: dict[str, str], query: str, field: str
) -> None:
    response = mw.get(f"/list_jobs?{query}", headers=bearer(tokens["alice"]))
    assert response.status_code == 400
    assert response.get_json()["field"] == field


def test_list_jobs_pages_and_filters(
    mw: FlaskClient, tokens: dict[str, str], settings: Settings
) -> None:
    ids = [submit(mw, tokens["alice"], name=f"j{i}").get_json()["job_id"] for i in range(5)]
    callback(mw, settings, ids[0], {"status": "succeeded", "result": "x"})
    page = mw.get("/list_jobs?limit=2&offset=1", headers=bearer(tokens["alice"])).get_json()
    assert [j["job_name"] for j in page["jobs"]] == ["j3", "j2"]
    assert page["total"] == 5
    done = mw.get("/list_jobs?status=succeeded", headers=bearer(tokens["alice"])).get_json()
    assert [j["job_id"] for j in done["jobs"]] == [ids[0]]


def test_get_job_is_404_for_someone_elses_job(mw: FlaskClient, tokens: dict[str, str]) -> None:
    job_id = submit(mw, tokens["alice"]).get_json()["job_id"]
    assert mw.get(f"/jobs/{job_id}", headers=bearer(tokens["bob"])).status_code == 404
    assert mw.get(f"/jobs/{job_id}", headers=bearer(tokens["root"])).status_code == 200
    mine = mw.get(f"/jobs/{job_id}", headers=bearer(tokens["alice"])).get_json()
    assert mine["events"][0]["status"] == "submitted"


def test_callbacks_need_service_credentials(mw: FlaskClient, tokens: dict[str, str]) -> None:
    job_id = submit(mw, tokens["alice"]).get_json()["job_id"]
    forged = mw.post(
        f"/job_callback/{job_id}?attempt=1",
        json={"status": "succeeded", "result": "pwned"},
        headers={"X-Toy-Timestamp": str(time.time()), "X-Toy-Signature": "00"},
    )
    assert forged.status_code == 401
    job = mw.get(f"/jobs/{job_id}", headers=bearer(tokens["alice"])).get_json()
    assert job["status"] == "queued"
    assert job["result"] is None


def test_a_signature_for_another_job_is_rejected(
    mw: FlaskClient, tokens: dict[str, str], settings: Settings
) -> None:
    job_id = submit(mw, tokens["alice"]).get_json()["job_id"]
    raw = json.dumps({"status": "failed"}).encode()
    headers = signed_headers(settings, "POST", "/job_callback/other?attempt=1", raw)
    response = mw.post(
        f"/job_callback/{job_id}?attempt=1",
        data=raw,
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 401


def test_a_job_moves_forward_only_and_callbacks_are_idempotent(
    mw: FlaskClient, tokens: dict[str, str], settings: Settings
) -> None:
    job_id = submit(mw, tokens["alice"]).get_json()["job_id"]
    t1 = "2026-01-01T00:00:00.000+00:00"
    running = callback(mw, settings, job_id, {"status": "running", "started_at": t1})
    assert running.get_json()["changed"] is True
    done = callback(mw, settings, job_id, {"status": "succeeded", "result": "olleh"})
    assert done.get_json() == {
        "job_id": job_id,
        "status": "succeeded",
        "changed": True,
        "cancel_requested": False,
    }
    repeat = callback(mw, settings, job_id, {"status": "succeeded", "result": "other"})
    assert repeat.status_code == 200
    assert repeat.get_json()["changed"] is False
    backwards = callback(mw, settings, job_id, {"status": "running"})
    assert backwards.get_json()["status"] == "succeeded"
    job = mw.get(f"/jobs/{job_id}", headers=bearer(tokens["alice"])).get_json()
    assert (job["status"], job["result"], job["started_at"]) == ("succeeded", "olleh", t1)
    assert [e["status"] for e in job["events"]] == [
        "submitted",
        "forwarded",  # core's report says core took it
        "queued",
        "running",
        "succeeded",
    ]


def test_a_callback_for_an_unknown_job_is_404(mw: FlaskClient, settings: Settings) -> None:
    response = callback(mw, settings, "nope", {"status": "running"})
    assert response.status_code == 404


@pytest.mark.parametrize("body", [{"status": "done"}, {}, {"status": "failed", "error": 3}])
def test_a_malformed_callback_is_400(
    mw: FlaskClient, tokens: dict[str, str], settings: Settings, body: dict
) -> None:
    job_id = submit(mw, tokens["alice"]).get_json()["job_id"]
    assert callback(mw, settings, job_id, body).status_code == 400


def test_retry_sends_a_failed_job_round_again(
    mw: FlaskClient, tokens: dict[str, str], settings: Settings
) -> None:
    job_id = submit(mw, tokens["alice"]).get_json()["job_id"]
    assert mw.post(f"/jobs/{job_id}/retry", headers=bearer(tokens["alice"])).status_code == 409
    callback(mw, settings, job_id, {"status": "failed", "error": "boom"})
    assert mw.post(f"/jobs/{job_id}/retry", headers=bearer(tokens["bob"])).status_code == 404
    retried = mw.post(f"/jobs/{job_id}/retry", headers=bearer(tokens["alice"]))
    assert retried.status_code == 200
    assert retried.get_json()["status"] == "queued"
    assert retried.get_json()["attempt"] == 2
    late = callback(mw, settings, job_id, {"status": "failed", "error": "old"}, attempt=1)
    assert late.get_json()["changed"] is False, "a late callback of the old attempt is ignored"
    fresh = callback(mw, settings, job_id, {"status": "succeeded", "result": "ok"}, attempt=2)
    assert fresh.get_json()["status"] == "succeeded"


def test_reset_is_for_admins_only(mw: FlaskClient, tokens: dict[str, str]) -> None:
    assert mw.post("/reset", headers=bearer(tokens["alice"])).status_code == 403


def test_reset_forgets_every_job_and_late_callbacks_do_not_bring_them_back(
    mw: FlaskClient, tokens: dict[str, str], settings: Settings
) -> None:
    job_id = submit(mw, tokens["alice"]).get_json()["job_id"]
    response = mw.post("/reset", headers=bearer(tokens["root"]))
    assert response.status_code == 200
    assert response.get_json()["jobs_removed"] == 1
    assert callback(mw, settings, job_id, {"status": "succeeded"}).status_code == 404
    listing = mw.get("/list_jobs?scope=all", headers=bearer(tokens["root"])).get_json()
    assert listing == {"jobs": [], "total": 0, "limit": 100, "offset": 0, "next_before": None}


def test_reset_empties_cores_queue_before_it_forgets_the_jobs(
    settings: Settings, auth_client: FlaskClient, tokens: dict[str, str]
) -> None:
    """A job forwarded between the two steps must not be purged by core while the store
    keeps it queued for ever: core first, then the store."""
    held_at_purge: list[int] = []

    def purge(request: object) -> tuple[int, dict[str, object]]:
        held_at_purge.append(len(store_jobs()))
        return 200, {}

    stub = HttpStub(purge)  # type: ignore[arg-type]
    app = middleware.create_app(settings.replace(core_url=stub.url), start_forwarder=False)
    app.extensions["middleware"].verifier.jwks = InProcessJWKClient(auth_client)
    store = app.extensions["middleware"].store

    def store_jobs() -> list[object]:
        return list(store.page(None, None, 100, 0).jobs)

    try:
        client = app.test_client()
        submit(client, tokens["alice"])
        response = client.post("/reset", headers=bearer(tokens["root"]))
        assert response.status_code == 200 and response.get_json()["core_purged"] is True
        assert held_at_purge == [1]  # the store still held the job when core was purged
        assert store_jobs() == []
    finally:
        store.close()
        stub.close()


def test_cors_allows_exactly_the_front_end_origins(mw: FlaskClient, settings: Settings) -> None:
    allowed = mw.options(
        "/job_submit", headers={"Origin": settings.web_url, "Access-Control-Request-Method": "POST"}
    )
    assert allowed.headers["Access-Control-Allow-Origin"] == settings.web_url
    evil = mw.options(
        "/job_submit",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in evil.headers


def test_cors_headers_on_answers_to_a_front_end_and_vary_on_all(
    mw: FlaskClient, settings: Settings, tokens: dict[str, str]
) -> None:
    from_web = mw.get("/list_jobs", headers={**bearer(tokens["alice"]), "Origin": settings.web_url})
    assert from_web.headers["Access-Control-Allow-Origin"] == settings.web_url
    assert "X-Request-ID" in from_web.headers["Access-Control-Expose-Headers"]
    from_script = mw.get("/list_jobs", headers=bearer(tokens["alice"]))
    assert "Access-Control-Allow-Origin" not in from_script.headers
    assert "Origin" in from_web.headers["Vary"] and "Origin" in from_script.headers["Vary"]
    refused = mw.get("/list_jobs", headers={"Origin": settings.web_url})
    assert refused.status_code == 401
    assert refused.headers["Access-Control-Allow-Origin"] == settings.web_url
    # errors answered to a script carry no CORS headers either
    for error in (mw.get("/list_jobs"), mw.get("/no/such/route")):
        assert error.status_code in (401, 404)
        assert "Access-Control-Allow-Origin" not in error.headers


def callbacks(mw: FlaskClient, settings: Settings, items: list):
    raw = json.dumps({"callbacks": items}).encode()
    return mw.post(
        "/job_callbacks",
        data=raw,
        content_type="application/json",
        headers=signed_headers(settings, "POST", "/job_callbacks", raw),
    )


def test_a_batch_of_callbacks_gets_an_outcome_each(
    mw: FlaskClient, tokens: dict[str, str], settings: Settings
) -> None:
    first = submit(mw, tokens["alice"]).get_json()["job_id"]
    second = submit(mw, tokens["alice"]).get_json()["job_id"]
    callback(mw, settings, second, {"status": "succeeded", "result": "x"})
    response = callbacks(
        mw,
        settings,
        [
            {
                "job_id": first,
                "attempt": 1,
                "status": "succeeded",
                "result": "olleh",
                "started_at": utc_now(),
            },
            {"job_id": second, "attempt": 1, "status": "running"},
            {"job_id": "gone", "attempt": 1, "status": "succeeded"},
        ],
    )
    assert response.status_code == 200
    assert [r["outcome"] for r in response.get_json()["results"]] == [
        "applied",
        "unchanged",
        "not_found",
    ]
    job = mw.get(f"/jobs/{first}", headers=bearer(tokens["alice"])).get_json()
    assert job["result"] == "olleh"
    assert [e["status"] for e in job["events"]] == [
        "submitted",
        "forwarded",  # core's report says core took it
        "queued",
        "running",
        "succeeded",
    ], "the overtaken 'running' step is still in the history"


def test_a_batch_of_callbacks_needs_service_credentials(mw: FlaskClient) -> None:
    response = mw.post(
        "/job_callbacks", json={"callbacks": [{"job_id": "a", "status": "succeeded"}]}
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("items", "field"),
    [
        ([], "callbacks"),
        ([{"status": "succeeded"}], "callbacks[0].job_id"),
        ([{"job_id": "a", "status": "done"}], "callbacks[0].status"),
        ([{"job_id": "a", "status": "failed", "attempt": 0}], "callbacks[0].attempt"),
    ],
)
def test_a_bad_batch_of_callbacks_changes_nothing(
    mw: FlaskClient, settings: Settings, items: list, field: str
) -> None:
    response = callbacks(mw, settings, items)
    assert response.status_code == 400
    assert response.get_json()["field"] == field


def test_keyset_paging_through_the_api(mw: FlaskClient, tokens: dict[str, str]) -> None:
    made = [submit(mw, tokens["alice"]).get_json()["job_id"] for _ in range(5)]
    seen, url = [], "/list_jobs?limit=2"
    while True:
        page = mw.get(url, headers=bearer(tokens["alice"])).get_json()
        assert page["total"] == 5
        seen += [job["job_id"] for job in page["jobs"]]
        if page["next_before"] is None:
            break
        url = f"/list_jobs?limit=2&before={page['next_before']}"
    assert seen == made[::-1]
    bad = mw.get("/list_jobs?before=abc", headers=bearer(tokens["alice"]))
    assert bad.status_code == 400 and bad.get_json()["field"] == "before"


def test_submit_while_another_process_holds_the_database_is_a_503_and_stores_nothing(
    mw: FlaskClient,
    middleware_app: Flask,
    settings: Settings,
    tokens: dict[str, str],
    store_url: str,
) -> None:
    import sqlite3

    if store_url != "sqlite":
        pytest.skip("a lock on the SQLite file (the PostgreSQL store's 503 is in test_jobs.py)")

    store = middleware_app.extensions["middleware"].store
    store.set_lock_wait(0.2)  # requests wait 30 s for a lock; not in a test
    holder = sqlite3.connect(settings.data_dir / "middleware.sqlite3", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # a backup or a sqlite3 shell, say
    try:
        response = submit(mw, tokens["alice"])
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    assert response.status_code == 503
    assert response.get_json()["code"] == "store_unavailable"
    assert "database is locked" in response.get_json()["error"]
    assert response.headers["Retry-After"] == "5"
    assert store.page("alice", None, 10, 0).total == 0
    assert submit(mw, tokens["alice"]).status_code == 202
