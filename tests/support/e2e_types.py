"""Job types the end-to-end tests run on the real platform (`--job-module support.e2e_types`,
with the tests folder on PYTHONPATH): well-behaved, slow, stubborn, flaky and crashing."""

from __future__ import annotations

import os
import time
from typing import Any

from toy_platform import job_type

WORDS_SCHEMA = {
    "type": "object",
    "properties": {"text": {"type": "string", "minLength": 1}},
    "required": ["text"],
    "additionalProperties": False,
}


@job_type(title="Count words", input_schema=WORDS_SCHEMA, timeout_s=10)
def e2e_words(data: Any, ctx: Any) -> Any:
    ctx.progress(0.5, "counting")
    return {"words": len(data["text"].split())}


@job_type(
    title="Wait, then answer",
    input_schema={"type": "object", "properties": {"seconds": {"type": "number"}}},
    timeout_s=60,
)
def e2e_wait(data: Any, ctx: Any) -> Any:
    """Sleeps DATA["seconds"] in small steps, reporting progress; stops early on a cancel."""
    seconds, started = float(data.get("seconds", 1)), time.monotonic()
    while time.monotonic() - started < seconds:
        if ctx.cancelled:
            return {"stopped_after_s": round(time.monotonic() - started, 2)}
        ctx.progress((time.monotonic() - started) / seconds, "waiting")
        time.sleep(0.05)
    return {"waited_s": seconds}


@job_type(title="Loop for ever", timeout_s=2)
def e2e_stuck(data: Any, ctx: Any) -> Any:
    """Never yields and never looks at ctx.cancelled."""
    while True:
        pass


@job_type(title="Ignore a cancel", timeout_s=30)
def e2e_stubborn(data: Any, ctx: Any) -> Any:
    """Never looks at ctx.cancelled: only stopping its process ends it."""
    while True:
        time.sleep(0.01)


@job_type(title="Fail, then succeed", timeout_s=10, max_retries=2)
def e2e_flaky(data: Any, ctx: Any) -> Any:
    if ctx.attempt <= int(data):
        raise RuntimeError(f"try {ctx.attempt} fails on purpose")
    return {"attempt": ctx.attempt}


@job_type(title="Kill its own process", timeout_s=10)
def e2e_crash(data: Any, ctx: Any) -> Any:
    os._exit(3)


@job_type(title="Crash its process", timeout_s=10)
def e2e_segfault(data: Any, ctx: Any) -> Any:
    """Reads memory at address 0: a segmentation fault (an access violation on Windows)."""
    import ctypes

    return ctypes.string_at(0)


@job_type(title="Answer at once", timeout_s=10)
def e2e_noop(data: Any, ctx: Any) -> Any:
    return data
