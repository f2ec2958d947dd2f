from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from support.serve_fakes import Processes
from support.signing import ServiceAuth

from toy_platform.auth import app as auth
from toy_platform.auth.users import UserStore
from toy_platform.config import Settings, load_settings
from toy_platform.core import app as core
from toy_platform.middleware import app as middleware
from toy_platform.middleware.identity import TracedJWKClient

PASSWORD = "correct-horse"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(home=tmp_path, job_delay=0.0, max_data_bytes=1000)


@pytest.fixture(scope="session")
def users_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """users.json made once: hashing passwords is slow on purpose."""
    store = UserStore(tmp_path_factory.mktemp("users") / "users.json")
    store.add("alice", PASSWORD)
    store.add("bob", PASSWORD)
    store.add("root", PASSWORD, role="admin")
    return store.path


@pytest.fixture
def users(settings: Settings, users_template: Path) -> UserStore:
    settings.config_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(users_template, settings.users_file)
    return UserStore(settings.users_file)


@pytest.fixture
def auth_app(settings: Settings, users: UserStore) -> Flask:
    return auth.create_app(settings)


@pytest.fixture
def auth_client(auth_app: Flask) -> FlaskClient:
    return auth_app.test_client()


class InProcessJWKClient(TracedJWKClient):
    """Fetches the JWKS from the auth app in this process instead of over the network."""

    def __init__(self, auth_client: FlaskClient) -> None:
        super().__init__("http://auth.invalid/.well-known/jwks.json")
        self.auth_client = auth_client

    def fetch_data(self) -> Any:
        return self.auth_client.get("/.well-known/jwks.json").get_json()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest) -> str:
    """Each middleware test runs on both job stores, so the two cannot drift apart."""
    if request.param == "sqlite":
        return "sqlite"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def middleware_app(settings: Settings, auth_client: FlaskClient, store_url: str) -> Iterator[Flask]:
    app = middleware.create_app(settings.replace(store_url=store_url), start_forwarder=False)
    app.extensions["middleware"].verifier.jwks = InProcessJWKClient(auth_client)
    yield app
    app.extensions["middleware"].store.close()


@pytest.fixture
def mw(middleware_app: Flask) -> FlaskClient:
    return middleware_app.test_client()


@pytest.fixture
def core_app(settings: Settings) -> Iterator[Flask]:
    app = core.create_app(settings, start_workers=False)
    yield app
    app.extensions["core"].queue.stop()


@pytest.fixture
def tokens(auth_app: Flask) -> dict[str, str]:
    """Tokens as the auth service issues them at /login (without the slow password check)."""
    issuer = auth_app.extensions["auth"]["issuer"]
    return {
        name: issuer.issue(name, role)
        for name, role in (("alice", "user"), ("bob", "user"), ("root", "admin"))
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def signed_headers(settings: Settings, method: str, url: str, body: bytes = b"") -> dict[str, str]:
    """Headers a service would put on an internal call to URL (path + query)."""
    import requests

    from toy_platform.security import load_service_key

    request = requests.Request(method, f"http://svc{url}", data=body).prepare()
    ServiceAuth(load_service_key(settings))(request)
    return {k: v for k, v in request.headers.items() if k.startswith("X-Toy")}


@pytest.fixture
def processes() -> Iterator[Processes]:
    started = Processes()
    try:
        yield started
    finally:
        started.stop_all()
