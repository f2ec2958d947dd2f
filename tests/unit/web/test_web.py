from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient

from toy_platform.config import Settings
from toy_platform.web import app as web


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><div id=root></div>")
    (root / "assets" / "index-abc123.js").write_text("console.log(1)")
    return root


@pytest.fixture
def client(settings: Settings, dist: Path) -> FlaskClient:
    return web.create_app(settings, dist=dist).test_client()


def test_hashed_assets_are_cached_for_a_year(client: FlaskClient) -> None:
    response = client.get("/assets/index-abc123.js")
    assert response.status_code == 200
    assert "immutable" in response.headers["Cache-Control"]


@pytest.mark.parametrize("path", ["/", "/login", "/jobs/abc", "/status"])
def test_app_routes_fall_back_to_index_html_uncached(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert b"id=root" in response.data
    assert response.headers["Cache-Control"] == "no-cache"


def test_config_tells_the_app_where_the_services_are(
    client: FlaskClient, settings: Settings
) -> None:
    config = client.get("/config.json").get_json()
    assert config["authUrl"] == settings.auth_url
    assert config["middlewareUrl"] == settings.middleware_url


def test_a_missing_asset_is_404_json(client: FlaskClient) -> None:
    response = client.get("/assets/gone-123.js")
    assert response.status_code == 404
    assert response.get_json()["code"] == "not_found"


def test_without_a_build_pages_say_so_but_the_process_is_healthy(
    settings: Settings, tmp_path: Path
) -> None:
    client = web.create_app(settings, dist=tmp_path / "missing").test_client()
    page = client.get("/")
    assert page.status_code == 503
    assert page.get_json()["code"] == "not_built"
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.get_json()["built"] is False


def test_ready_when_built(client: FlaskClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ready",
        "ready": True,
        "service": "web",
        "reason": None,
    }


def test_not_ready_without_a_build_with_what_a_pip_user_can_do(
    settings: Settings, tmp_path: Path
) -> None:
    missing = tmp_path / "missing"
    client = web.create_app(settings, dist=missing).test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["ready"] is False
    assert body["reason"].startswith(f"the web app is not built: {missing / 'index.html'}")
    for advice in ("wheel", "Node.js >= 20.19", "pip install .", "npm ci && npm run build"):
        assert advice in body["reason"]
    page = client.get("/jobs/abc").get_json()
    assert page["error"] == "T" + body["reason"][1:], "pages give the same advice"


def test_ready_once_built_without_a_restart(settings: Settings, tmp_path: Path) -> None:
    dist = tmp_path / "later"
    client = web.create_app(settings, dist=dist).test_client()
    assert client.get("/readyz").status_code == 503
    dist.mkdir()
    (dist / "index.html").write_text("<!doctype html>")
    assert client.get("/readyz").status_code == 200
