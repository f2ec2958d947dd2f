from __future__ import annotations

import os
import re
import stat
import sys
import threading

import jwt
import pytest
from flask.testing import FlaskClient

from toy_platform import security
from toy_platform.auth.users import UserError, UsersFileError, UserStore, generated_password
from unit.conftest import PASSWORD


def test_login_returns_a_bearer_token_for_the_right_password(auth_client: FlaskClient) -> None:
    response = auth_client.post("/login", json={"username": "alice", "password": PASSWORD})
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert body["username"] == "alice"
    assert body["role"] == "user"
    assert body["expires_in"] == 1800


def test_token_verifies_with_the_published_public_key(auth_client: FlaskClient) -> None:
    token = auth_client.post("/login", json={"username": "root", "password": PASSWORD}).get_json()[
        "token"
    ]
    jwks = auth_client.get("/.well-known/jwks.json").get_json()
    assert "d" not in jwks["keys"][0], "the private part must never be published"
    key = jwt.PyJWK(jwks["keys"][0]).key
    claims = jwt.decode(token, key, algorithms=["EdDSA"], audience="toy-platform")
    assert claims["sub"] == "root"
    assert claims["role"] == "admin"
    assert claims["exp"] - claims["iat"] == 1800


@pytest.mark.parametrize(
    ("username", "password"), [("alice", "wrong-password"), ("nobody", PASSWORD)]
)
def test_login_rejects_wrong_credentials_with_one_message(
    auth_client: FlaskClient, username: str, password: str
) -> None:
    response = auth_client.post("/login", json={"username": username, "password": password})
    assert response.status_code == 401
    assert response.get_json() == {
        "error": "Invalid username or password",
        "code": "invalid_credentials",
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": "x"}, "username"),
        ({"username": "alice"}, "password"),
        ({"username": "", "password": "x"}, "username"),
        ({"username": "alice", "password": 12}, "password"),
    ],
)
def test_login_names_the_bad_field(auth_client: FlaskClient, body: dict, field: str) -> None:
    response = auth_client.post("/login", json=body)
    assert response.status_code == 400
    assert response.get_json()["field"] == field


@pytest.mark.parametrize("data", ["not json", "[1, 2]", ""])
def test_login_rejects_a_body_that_is_not_a_json_object(
    auth_client: FlaskClient, data: str
) -> None:
    response = auth_client.post("/login", data=data, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["code"] == "invalid_json"


def test_repeated_failures_lock_the_user_out_with_429(auth_client: FlaskClient) -> None:
    for _ in range(5):
        bad = auth_client.post("/login", json={"username": "bob", "password": "wrong-password"})
        assert bad.status_code == 401
    locked = auth_client.post("/login", json={"username": "bob", "password": PASSWORD})
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    assert locked.get_json()["retry_after"] == int(locked.headers["Retry-After"])
    other = auth_client.post("/login", json={"username": "alice", "password": PASSWORD})
    assert other.status_code == 200, "another user is not locked out"


@pytest.mark.parametrize(
    ("method", "path", "status"), [("GET", "/nope", 404), ("GET", "/login", 405)]
)
def test_unknown_routes_answer_json(
    auth_client: FlaskClient, method: str, path: str, status: int
) -> None:
    response = auth_client.open(path, method=method)
    assert response.status_code == status
    assert response.is_json
    assert set(response.get_json()) == {"error", "code"}


def test_users_file_holds_hashes_only_and_is_private(users: UserStore) -> None:
    text = users.path.read_text()
    assert PASSWORD not in text
    assert "scrypt:" in text or "pbkdf2:" in text
    if sys.platform != "win32":
        assert stat.S_IMODE(os.stat(users.path).st_mode) == 0o600


def test_first_admin_gets_a_random_password(tmp_path) -> None:
    first = UserStore(tmp_path / "a.json").ensure_admin()
    second = UserStore(tmp_path / "b.json").ensure_admin()
    assert first and second and first != second
    assert UserStore(tmp_path / "a.json").ensure_admin() is None, "only when there are no users"


def test_a_made_password_is_letters_and_digits_so_no_command_takes_it_for_an_option() -> None:
    """One made password in 64 began with '-': `load.py --password -z4Kx...` then failed
    with a usage error (exit 2), found when a benchmark run stopped."""
    made = [generated_password() for _ in range(2000)]
    assert all(re.fullmatch(r"[A-Za-z0-9]{16}", password) for password in made)
    assert len(set(made)) == len(made)


def test_a_user_added_by_the_cli_can_log_in_without_restart(
    auth_client: FlaskClient, users: UserStore
) -> None:
    UserStore(users.path).add("carol", "carols-password")
    response = auth_client.post("/login", json={"username": "carol", "password": "carols-password"})
    assert response.status_code == 200


# -- users.json that cannot be used --------------------------------------------------------

BROKEN_USERS_FILES = [
    ('{"users": {\n  "alice": {\n}', "is not valid JSON (line 3, column 2"),
    ('["alice"]', "is not a users file"),
    ('{"users": {"alice": {"role": "user"}}}', "has a broken entry for user 'alice'"),
    ('{"users": {"alice": {"password_hash": "x", "role": "owner"}}}', "has a broken entry"),
]


@pytest.mark.parametrize(("text", "problem"), BROKEN_USERS_FILES)
def test_a_broken_users_file_is_named_with_what_is_wrong_and_the_fix(
    tmp_path, text: str, problem: str
) -> None:
    path = tmp_path / "users.json"
    path.write_text(text, encoding="utf-8")
    store = UserStore(path)
    for attempt in (store.all, lambda: store.add("carol", "carols-password"), store.ensure_admin):
        with pytest.raises(UsersFileError) as caught:
            attempt()
        message = str(caught.value)
        assert message.startswith(f"{path} {problem}")
        assert "Restore it from a backup, or move it aside" in message
        assert "\n" not in message
    assert path.read_text(encoding="utf-8") == text, "never overwritten"


def test_a_users_file_that_is_not_utf8_is_named(tmp_path) -> None:
    path = tmp_path / "users.json"
    path.write_bytes(b'{"users": {"\xff": {}}}')
    with pytest.raises(UsersFileError, match=r"is not UTF-8 text \(byte 12\)"):
        UserStore(path).all()


def test_a_login_while_users_json_is_broken_is_503_naming_it(
    auth_client: FlaskClient, users: UserStore
) -> None:
    users.path.write_text("{", encoding="utf-8")
    response = auth_client.post("/login", json={"username": "alice", "password": PASSWORD})
    assert response.status_code == 503
    body = response.get_json()
    assert body["code"] == "users_unavailable"
    assert "users.json" in body["error"]
    assert str(users.path) not in body["error"], "where the file is stays with the operator"
    ready = auth_client.get("/readyz")
    assert ready.status_code == 503
    reason = ready.get_json()["reason"]
    assert reason.startswith(f"users: {users.path} is not valid JSON (line 1, column 2")
    assert "UsersFileError" not in reason
    metrics = auth_client.get("/metrics").get_data(as_text=True)
    assert 'toy_platform_logins_total{outcome="unavailable"} 1.0' in metrics


def test_a_login_while_users_json_is_broken_does_not_count_as_a_failure(
    auth_client: FlaskClient, users: UserStore
) -> None:
    good = users.path.read_bytes()
    users.path.write_text("{", encoding="utf-8")
    for _ in range(6):
        assert auth_client.post("/login", json={"username": "bob", "password": "x"}).status_code
    users.path.write_bytes(good)
    response = auth_client.post("/login", json={"username": "bob", "password": PASSWORD})
    assert response.status_code == 200, "an outage of the file is not the user's failure"


# -- the admin -----------------------------------------------------------------------------


def test_a_short_admin_password_is_refused_even_when_users_exist(users: UserStore) -> None:
    with pytest.raises(UserError, match="TOY_PLATFORM_ADMIN_PASSWORD is 5 characters long"):
        users.ensure_admin("short")
    assert users.ensure_admin("long-enough") is None


def test_an_empty_admin_password_means_a_random_one(tmp_path) -> None:
    """TOY_PLATFORM_ADMIN_PASSWORD= (set but empty) is the same as not set."""
    password = UserStore(tmp_path / "users.json").ensure_admin("")
    assert password and len(password) >= 8


def test_the_last_admin_is_removed_only_with_force(users: UserStore) -> None:
    users.add("second", "second-password", role="admin")
    users.remove("root")
    with pytest.raises(UserError, match="'second' is the last admin.*--force"):
        users.remove("second")
    assert users.get("second") is not None
    users.remove("alice")  # not an admin: no question asked
    users.remove("second", force=True)
    assert [u.username for u in users.all()] == ["bob"]


# -- writing while others read -------------------------------------------------------------


def test_write_private_tries_again_while_the_target_is_held(tmp_path, monkeypatch) -> None:
    """Windows refuses os.replace while another process has the file open."""
    target = tmp_path / "users.json"
    target.write_text("old")
    real_replace = os.replace
    refusals = iter([True, True, False])

    def replace(src: str, dst: object) -> None:
        if next(refusals):
            raise PermissionError(13, "The process cannot access the file")
        real_replace(src, dst)

    monkeypatch.setattr(security.os, "replace", replace)
    security.write_private(target, b"new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["users.json"], "no temp file left"


def test_write_private_gives_up_after_a_few_tries(tmp_path, monkeypatch) -> None:
    calls = []

    def replace(src: str, dst: object) -> None:
        calls.append(src)
        raise PermissionError(13, "The process cannot access the file")

    monkeypatch.setattr(security.os, "replace", replace)
    monkeypatch.setattr(security, "REPLACE_BACKOFF_S", 0.001)
    with pytest.raises(PermissionError):
        security.write_private(tmp_path / "users.json", b"new")
    assert len(calls) == security.REPLACE_TRIES
    assert list(tmp_path.iterdir()) == [], "no temp file left"


def test_users_json_is_rewritten_while_another_thread_keeps_reading_it(
    users: UserStore,
) -> None:
    """A real writer and a real reader on one file: on Windows this needs the retries.

    The reader reads about every millisecond, far more often than logins come in.
    """
    errors: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        while not done.wait(0.001):
            try:
                assert UserStore(users.path).get("root") is not None  # a fresh read each time
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
                return

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for i in range(5):
            users.add(f"writer{i}", "writer-password")
            users.set_password(f"writer{i}", "other-password")
    finally:
        done.set()
        thread.join()
    assert errors == []
    assert len(users.all()) == 3 + 5
