"""What every service's app does around each request: its ID, its metrics, CORS's Vary."""

from __future__ import annotations

from pathlib import Path

from flask import jsonify
from prometheus_client import CollectorRegistry

from toy_platform.config import load_settings
from toy_platform.service import create_service_app
from toy_platform.tracing import current_request_id


def _sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_each_request_is_counted_by_endpoint_method_and_status_and_timed(tmp_path: Path) -> None:
    app = create_service_app(load_settings(home=tmp_path), "middleware", cors=True)

    @app.get("/thing/<int:n>")
    def thing(n: int):  # type: ignore[no-untyped-def]
        return jsonify(request_id=current_request_id.get()), 200 if n else 404

    client = app.test_client()
    for path in ("/thing/1", "/thing/1", "/thing/0", "/nowhere"):
        client.get(path)
    registry = app.extensions["toy_platform"].registry
    counted = "toy_platform_http_requests_total"
    common = {"service": "middleware", "method": "GET"}
    assert _sample(registry, counted, endpoint="/thing/<int:n>", status="200", **common) == 2
    assert _sample(registry, counted, endpoint="/thing/<int:n>", status="404", **common) == 1
    assert _sample(registry, counted, endpoint="unmatched", status="404", **common) == 1
    timed = "toy_platform_http_request_duration_seconds_count"
    assert _sample(registry, timed, service="middleware", endpoint="/thing/<int:n>") == 3


def test_a_request_keeps_its_id_and_hands_it_back_and_the_next_has_its_own(
    tmp_path: Path,
) -> None:
    app = create_service_app(load_settings(home=tmp_path), "core")

    @app.get("/id")
    def request_id():  # type: ignore[no-untyped-def]
        return jsonify(request_id=current_request_id.get())

    client = app.test_client()
    given = client.get("/id", headers={"X-Request-ID": "walk-1"})
    assert given.json == {"request_id": "walk-1"} and given.headers["X-Request-ID"] == "walk-1"
    fresh = client.get("/id")
    assert fresh.json["request_id"] == fresh.headers["X-Request-ID"] != "walk-1"
    assert current_request_id.get() is None  # nothing left behind in this thread


def test_every_answer_varies_by_origin_once(tmp_path: Path) -> None:
    app = create_service_app(load_settings(home=tmp_path), "middleware", cors=True)

    @app.get("/varies")
    def varies():  # type: ignore[no-untyped-def]
        response = jsonify(ok=True)
        response.headers["Vary"] = "Accept-Encoding"
        return response

    client = app.test_client()
    assert client.get("/healthz").headers.get_all("Vary") == ["Origin"]
    assert client.get("/varies").headers["Vary"] == "Accept-Encoding, Origin"
