from __future__ import annotations

import os
import stat
import sys

import jwt
import pytest
from conftest import PASSWORD
from flask.testing import FlaskClient

from toy_platform.users import UserStore


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


def test_a_user_added_by_the_cli_can_log_in_without_restart(
    auth_client: FlaskClient, users: UserStore
) -> None:
    UserStore(users.path).add("carol", "carols-password")
    response = auth_client.post("/login", json={"username": "carol", "password": "carols-password"})
    assert response.status_code == 200
