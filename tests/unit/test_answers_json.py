"""The services' answers are written by orjson where it writes the same JSON, else by json."""

from __future__ import annotations

import json

from flask import Flask

from toy_platform.answers_json import AnswersJSONProvider


def provider() -> AnswersJSONProvider:
    return AnswersJSONProvider(Flask(__name__))


def test_an_answer_reads_back_as_what_was_written() -> None:
    value = {"job": "é€\U0001f600", "n": [1, 2.5, -3, None, True], "nested": {"k": "v"}}
    assert json.loads(provider().dumps(value)) == value


def test_what_orjson_refuses_is_written_by_json() -> None:
    """orjson refuses integers beyond 64 bits and keys that are not strings."""
    assert json.loads(provider().dumps({"big": 2**70})) == {"big": 2**70}
    assert json.loads(provider().dumps({1: "one"})) == {"1": "one"}


def test_a_jsonify_answer_comes_through_it() -> None:
    app = Flask(__name__)
    app.json = AnswersJSONProvider(app)
    with app.app_context():
        response = app.json.response({"big": 2**70, "text": "ok"})
    assert json.loads(response.get_data()) == {"big": 2**70, "text": "ok"}
    assert response.mimetype == "application/json"
