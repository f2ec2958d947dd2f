"""Example job types: each shows one part of the contract (progress, cancel, retries).

Importing this module registers them; the package's entry point in the group
`toy_platform.job_types` makes the platform import it wherever jobs run.
"""

from __future__ import annotations

import hashlib
import math
import string
import time
from collections import Counter
from typing import Any

from toy_platform import job_type
from toy_platform.jobs.types import JobContext

MAX_TEXT = 100_000
"""The longest text the text types take, in characters (the platform also caps a job's data
in bytes: --max-data-bytes)."""
TOP_WORDS = 10
PROGRESS_EVERY_S = 0.05
"""Progress at most 20 times a second: each call is a report to the middleware."""
PRIMES_SEGMENT = 1 << 18
"""Numbers sieved between two looks at ctx.cancelled (a few milliseconds of work)."""
ECHO_STEP_S = 0.25


@job_type(
    name="wordcount",
    title="Count words",
    input_schema={
        "type": "object",
        "properties": {
            "text": {
                "type": "string",
                "title": "Text",
                "description": "The text to count the words, lines and characters of.",
                "minLength": 1,
                "maxLength": MAX_TEXT,
            }
        },
        "required": ["text"],
        "additionalProperties": False,
    },
    timeout_s=30,
    max_retries=2,
)
def wordcount(data: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Words (split on white space), lines, characters, and the ten most common words
    (lower-cased, outer punctuation stripped; ties in order of first appearance)."""
    text: str = data["text"]
    words = text.split()
    ctx.progress(0.5, f"{len(words)} words; finding the most common")
    normalized = (word.strip(string.punctuation).lower() for word in words)
    top = Counter(word for word in normalized if word).most_common(TOP_WORDS)
    ctx.progress(1.0, "counted")
    return {
        "words": len(words),
        "lines": len(text.splitlines()),
        "characters": len(text),
        "top": [[word, count] for word, count in top],
    }


ALGORITHMS = ("sha256", "sha512", "blake2b")


@job_type(
    name="sha256",
    title="Hash a text",
    input_schema={
        "type": "object",
        "properties": {
            "text": {
                "type": "string",
                "title": "Text",
                "description": "The text to hash (its UTF-8 bytes).",
                "maxLength": MAX_TEXT,
            },
            "algorithm": {
                "type": "string",
                "title": "Algorithm",
                "description": "The hash function to use.",
                "enum": list(ALGORITHMS),
                "default": "sha256",
            },
        },
        "required": ["text"],
        "additionalProperties": False,
    },
    timeout_s=10,
)
def sha256(data: dict[str, Any], ctx: JobContext) -> dict[str, str]:
    """The hex digest of the text's UTF-8 bytes (SHA-256 unless `algorithm` says otherwise)."""
    algorithm = data.get("algorithm", "sha256")
    if algorithm not in ALGORITHMS:  # the schema says so too; a direct call is checked here
        raise ValueError(f"unknown algorithm {algorithm!r}: one of {', '.join(ALGORITHMS)}")
    digest = hashlib.new(algorithm, data["text"].encode("utf-8")).hexdigest()
    return {"algorithm": algorithm, "hexdigest": digest}


@job_type(
    name="primes",
    title="Count primes",
    input_schema={
        "type": "object",
        "properties": {
            "limit": {
                "type": "integer",
                "title": "Up to",
                "description": "Count the primes from 2 up to this number (included).",
                "minimum": 2,
                "maximum": 50_000_000,
                "default": 2_000_000,
            }
        },
        "additionalProperties": False,
    },
    timeout_s=120,
)
def primes(data: dict[str, Any], ctx: JobContext) -> dict[str, int]:
    """Count the primes up to `limit` with a segmented sieve (CPU-bound), reporting progress
    and stopping early, with what it found so far, when the job is cancelled."""
    limit = int(data.get("limit", 2_000_000))
    if limit < 2:
        return {"limit": limit, "count": 0, "largest": 0}
    base = _small_primes(math.isqrt(limit))
    count = largest = 0
    last_report = float("-inf")
    low = 2
    while low <= limit:
        high = min(low + PRIMES_SEGMENT, limit + 1)
        segment = bytearray(b"\x01") * (high - low)
        for p in base:
            if p * p >= high:
                break  # base is ascending: no later prime strikes anything here either
            start = max(p * p, -(-low // p) * p) - low
            segment[start::p] = bytes(len(range(start, len(segment), p)))
        found = segment.count(1)
        if found:
            count += found
            largest = low + segment.rindex(1)
        low = high
        done = min(low - 1, limit)
        now = time.monotonic()
        if done == limit or now - last_report >= PROGRESS_EVERY_S:
            ctx.progress(done / limit, f"{done} of {limit}")
            last_report = now
        if done < limit and ctx.cancelled:
            ctx.log.info("cancelled after %d of %d", done, limit)
            return {"limit": limit, "cancelled_at": done, "count": count, "largest": largest}
    return {"limit": limit, "count": count, "largest": largest}


def _small_primes(n: int) -> list[int]:
    """The primes up to N (a plain sieve: N is the square root of the limit)."""
    if n < 2:
        return []
    sieve = bytearray(b"\x01") * (n + 1)
    sieve[0] = sieve[1] = 0
    for p in range(2, math.isqrt(n) + 1):
        if sieve[p]:
            sieve[p * p :: p] = bytes(len(range(p * p, n + 1, p)))
    return [i for i, is_prime in enumerate(sieve) if is_prime]


@job_type(
    name="slow_echo",
    title="Echo after a wait",
    input_schema={
        "type": "object",
        "properties": {
            "message": {
                "type": "string",
                "title": "Message",
                "description": "What the job returns once the wait is over.",
                "maxLength": 1000,
            },
            "seconds": {
                "type": "number",
                "title": "Wait (seconds)",
                "description": "How long to wait first. More than the type's time limit"
                " (60 s) to see a timeout; cancel meanwhile to see a cancel.",
                "minimum": 0,
                "maximum": 600,
                "default": 10,
            },
        },
        "required": ["message"],
        "additionalProperties": False,
    },
    timeout_s=60,
)
def slow_echo(data: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Wait `seconds` in steps of a quarter of a second, with progress at each, then return
    the message; a cancel stops the wait at the next step."""
    message: str = data["message"]
    seconds = float(data.get("seconds", 10))
    started = time.monotonic()
    while (waited := time.monotonic() - started) < seconds:
        if ctx.cancelled:
            return {"message": message, "cancelled_after_s": round(waited, 2)}
        ctx.progress(waited / seconds, f"{waited:.0f} of {seconds:g} s")
        time.sleep(min(ECHO_STEP_S, seconds - waited))
    ctx.progress(1.0, "done")
    return {"message": message, "waited_s": round(time.monotonic() - started, 2)}


@job_type(
    name="flaky",
    title="Fail, then succeed",
    input_schema={
        "type": "object",
        "properties": {
            "fail_times": {
                "type": "integer",
                "title": "Failures first",
                "description": "How many attempts fail before one succeeds; more than 3 (the"
                " type's retries) fails the job.",
                "minimum": 0,
                "maximum": 5,
                "default": 1,
            }
        },
        "additionalProperties": False,
    },
    timeout_s=10,
    max_retries=3,
)
def flaky(data: dict[str, Any], ctx: JobContext) -> dict[str, int]:
    """Fail the first `fail_times` attempts, then succeed: retries, with their back-off,
    show on the job's timeline."""
    fail_times = int(data.get("fail_times", 1))
    if ctx.attempt <= fail_times:
        raise RuntimeError(f"attempt {ctx.attempt} fails on purpose ({fail_times} will)")
    return {"attempt": ctx.attempt}
