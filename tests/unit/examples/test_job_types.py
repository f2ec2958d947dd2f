"""The example job types (examples/job_types): each handler called directly with a fake ctx."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

PACKAGE_DIR = Path(__file__).resolve().parents[3] / "examples" / "job_types"
sys.path.insert(0, str(PACKAGE_DIR))  # the package is not installed in the test environment

from toy_platform_example_jobs import types as example  # noqa: E402

from toy_platform.jobs.types import registered  # noqa: E402

NAMES = ("wordcount", "sha256", "primes", "slow_echo", "flaky")


class FakeContext:
    """A stand-in for the platform's ctx: records progress; cancels after CANCEL_AFTER calls."""

    def __init__(self, attempt: int = 1, cancel_after: int | None = None) -> None:
        self.job_id = "job-test"
        self.attempt = attempt
        self.log = logging.LoggerAdapter(logging.getLogger("test.job"), {"job_id": self.job_id})
        self.calls: list[tuple[float, str]] = []
        self.cancel_after = cancel_after
        self._cancelled = False

    def progress(self, fraction: float, message: str = "") -> None:
        self.calls.append((fraction, message))
        if self.cancel_after is not None and len(self.calls) >= self.cancel_after:
            self._cancelled = True

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    @property
    def fractions(self) -> list[float]:
        return [fraction for fraction, _ in self.calls]


def increasing_to_one(fractions: list[float]) -> bool:
    return bool(fractions) and fractions == sorted(set(fractions)) and fractions[-1] == 1.0


def test_wordcount_counts_a_known_text() -> None:
    text = "The cat sat.\nThe cat ran!\nA dog, a CAT."
    ctx = FakeContext()
    result = example.wordcount({"text": text}, ctx)
    assert result == {
        "words": 10,
        "lines": 3,
        "characters": len(text),
        "top": [["cat", 3], ["the", 2], ["a", 2], ["sat", 1], ["ran", 1], ["dog", 1]],
    }
    assert increasing_to_one(ctx.fractions)
    assert json.loads(json.dumps(result)) == result  # a JSON value, as a result must be


def test_wordcount_keeps_the_ten_most_common() -> None:
    text = " ".join(f"w{i} " * (20 - i) for i in range(15))
    top = example.wordcount({"text": text}, FakeContext())["top"]
    assert top == [[f"w{i}", 20 - i] for i in range(10)]


@pytest.mark.parametrize("algorithm", ["sha256", "sha512", "blake2b"])
def test_sha256_matches_hashlib(algorithm: str) -> None:
    text = "héllo, wörld 👋"
    result = example.sha256({"text": text, "algorithm": algorithm}, FakeContext())
    expected = hashlib.new(algorithm, text.encode("utf-8")).hexdigest()
    assert result == {"algorithm": algorithm, "hexdigest": expected}


def test_sha256_is_the_default_algorithm() -> None:
    result = example.sha256({"text": ""}, FakeContext())
    assert result == {"algorithm": "sha256", "hexdigest": hashlib.sha256(b"").hexdigest()}


def test_sha256_refuses_an_unknown_algorithm() -> None:
    with pytest.raises(ValueError, match="md5"):
        example.sha256({"text": "x", "algorithm": "md5"}, FakeContext())


@pytest.mark.parametrize(
    ("limit", "count", "largest"),
    [(2, 1, 2), (3, 2, 3), (10, 4, 7), (100, 25, 97), (1_000_000, 78498, 999983)],
)
def test_primes_counts(limit: int, count: int, largest: int) -> None:
    ctx = FakeContext()
    assert example.primes({"limit": limit}, ctx) == {
        "limit": limit,
        "count": count,
        "largest": largest,
    }
    assert increasing_to_one(ctx.fractions)
    assert ctx.calls[-1][1] == f"{limit} of {limit}"


def test_primes_across_segments_matches_a_plain_sieve() -> None:
    limit = 3 * example.PRIMES_SEGMENT + 12_345  # several segments, the last one short
    plain = example._small_primes(limit)
    assert example.primes({"limit": limit}, FakeContext()) == {
        "limit": limit,
        "count": len(plain),
        "largest": plain[-1],
    }


def test_primes_reports_progress_at_most_about_twenty_times_a_second() -> None:
    ctx = FakeContext()
    started = time.monotonic()
    example.primes({"limit": 20_000_000}, ctx)
    elapsed = time.monotonic() - started
    assert increasing_to_one(ctx.fractions)
    assert len(ctx.calls) <= 2 + elapsed * 20


def test_primes_stops_early_when_cancelled() -> None:
    limit = 10_000_000
    ctx = FakeContext(cancel_after=1)  # cancel asked as soon as it first reports progress
    result = example.primes({"limit": limit}, ctx)
    assert len(ctx.calls) == 1
    assert result["limit"] == limit
    assert result["cancelled_at"] == example.PRIMES_SEGMENT + 1  # the first segment: 2..
    full = example._small_primes(result["cancelled_at"])
    assert (result["count"], result["largest"]) == (len(full), full[-1])


def test_slow_echo_waits_then_echoes() -> None:
    ctx = FakeContext()
    started = time.monotonic()
    result = example.slow_echo({"message": "hi", "seconds": 0.6}, ctx)
    assert time.monotonic() - started >= 0.6
    assert result["message"] == "hi" and result["waited_s"] >= 0.6
    assert len(ctx.calls) >= 3  # one per step of a quarter of a second, and the last
    assert increasing_to_one(ctx.fractions)


def test_slow_echo_of_zero_seconds_answers_at_once() -> None:
    result = example.slow_echo({"message": "now", "seconds": 0}, FakeContext())
    assert result["message"] == "now" and result["waited_s"] < 0.1


def test_slow_echo_stops_at_the_next_step_when_cancelled() -> None:
    ctx = FakeContext(cancel_after=1)
    started = time.monotonic()
    result = example.slow_echo({"message": "hi", "seconds": 600}, ctx)
    assert time.monotonic() - started < 2 * example.ECHO_STEP_S + 0.5
    assert result["message"] == "hi" and "cancelled_after_s" in result
    assert len(ctx.calls) == 1


@pytest.mark.parametrize("fail_times", [0, 1, 3])
def test_flaky_fails_the_first_attempts_then_succeeds(fail_times: int) -> None:
    for attempt in range(1, fail_times + 1):
        with pytest.raises(RuntimeError, match=f"attempt {attempt}"):
            example.flaky({"fail_times": fail_times}, FakeContext(attempt=attempt))
    attempt = fail_times + 1
    assert example.flaky({"fail_times": fail_times}, FakeContext(attempt=attempt)) == {
        "attempt": attempt
    }


def test_each_type_is_registered_as_declared() -> None:
    declared = {name: registered()[name] for name in NAMES}
    limits = {name: (t.timeout_s, t.max_retries) for name, t in declared.items()}
    assert limits == {
        "wordcount": (30.0, 2),
        "sha256": (10.0, 0),
        "primes": (120.0, 0),
        "slow_echo": (60.0, 0),
        "flaky": (10.0, 3),
    }
    assert declared["sha256"].title == "Hash a text"
    assert declared["primes"].title == "Count primes"
    assert declared["slow_echo"].title == "Echo after a wait"
    assert declared["flaky"].title == "Fail, then succeed"
    for name, job_type in declared.items():
        assert job_type.handler is getattr(example, name)
        assert job_type.module == "toy_platform_example_jobs.types"


@pytest.mark.parametrize("name", NAMES)
def test_each_schema_is_valid_and_describes_every_field(name: str) -> None:
    schema = registered()[name].input_schema
    Draft202012Validator.check_schema(schema)
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    for field, spec in schema["properties"].items():
        assert spec.get("description"), f"{name}.{field} has no description"
        if spec["type"] == "string" and "enum" not in spec:
            assert "maxLength" in spec, f"{name}.{field} has no maxLength"
        if spec["type"] in ("integer", "number"):
            assert "minimum" in spec and "maximum" in spec, f"{name}.{field} is unbounded"
        if "default" in spec:
            assert Draft202012Validator(spec).is_valid(spec["default"])


def readme_examples() -> dict[str, Any]:
    """The data in the README's table of types, by type."""
    rows = re.findall(r"^\| `(\w+)` \| [^|]+ \| `(\{[^`]*\})`", _readme(), re.MULTILINE)
    return {name: json.loads(data) for name, data in rows}


def _readme() -> str:
    return (PACKAGE_DIR / "README.md").read_text(encoding="utf-8")


def test_the_readme_shows_data_for_every_type() -> None:
    assert set(readme_examples()) == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_the_readme_data_is_valid_and_runs(name: str) -> None:
    data = readme_examples()[name]
    Draft202012Validator(registered()[name].input_schema).validate(data)
    if name == "slow_echo":
        data = {**data, "seconds": 0}  # the README's wait is for trying a timeout
    ctx = FakeContext(attempt=data.get("fail_times", 0) + 1)
    assert json.dumps(getattr(example, name)(data, ctx))


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("wordcount", {}),
        ("wordcount", {"text": ""}),
        ("wordcount", {"text": "x" * (example.MAX_TEXT + 1)}),
        ("wordcount", {"text": "x", "extra": 1}),
        ("sha256", {"text": "x", "algorithm": "md5"}),
        ("primes", {"limit": 1}),
        ("primes", {"limit": 50_000_001}),
        ("primes", {"limit": 2.5}),
        ("slow_echo", {"message": "x", "seconds": -1}),
        ("slow_echo", {"message": "x", "seconds": 601}),
        ("flaky", {"fail_times": 6}),
    ],
)
def test_each_schema_refuses_bad_data(name: str, data: dict[str, Any]) -> None:
    assert not Draft202012Validator(registered()[name].input_schema).is_valid(data)


def test_the_one_file_example_in_the_readme_is_valid_data_for_wordcount() -> None:
    match = re.search(r'"job_type": "wordcount", "data": (\{[^}]*\})', _readme())
    assert match is not None
    data = json.loads(match.group(1))
    Draft202012Validator(registered()["wordcount"].input_schema).validate(data)
    assert example.wordcount(data, FakeContext())["words"] == 6
