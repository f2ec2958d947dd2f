"""Job types for tests/unit/jobs/test_sandbox.py, loaded in the sandbox's child process
(`Sandbox(modules=("support.sandbox_types",))`): well-behaved, failing, stuck and crashing."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import time
from typing import Any

from toy_platform import job_type


@job_type()
def sbx_echo(data: Any, ctx: Any) -> Any:
    return data


@job_type()
def sbx_whoami(data: Any, ctx: Any) -> Any:
    return {"job_id": ctx.job_id, "attempt": ctx.attempt}


@job_type()
def sbx_steps(data: Any, ctx: Any) -> Any:
    """DATA["steps"] progress reports, DATA["pause"] seconds apart; the last is 'done'."""
    steps = data["steps"]
    for step in range(1, steps + 1):
        ctx.progress(step / steps, "done" if step == steps else f"step {step}")
        time.sleep(data.get("pause", 0))
    return steps


@job_type()
def sbx_out_of_range(data: Any, ctx: Any) -> Any:
    ctx.progress(7, "x" * 500)
    ctx.progress(-1)
    return None


@job_type()
def sbx_fail(data: Any, ctx: Any) -> Any:
    raise ValueError("bad input")


@job_type()
def sbx_not_json(data: Any, ctx: Any) -> Any:
    return {"a": {1, 2}}


@job_type()
def sbx_print(data: Any, ctx: Any) -> Any:
    print("printed, not a protocol line")
    return "ok"


@job_type()
def sbx_log(data: Any, ctx: Any) -> Any:
    ctx.log.info("working on %s", data)
    ctx.log.warning("careful")
    return None


@job_type()
def sbx_spin(data: Any, ctx: Any) -> Any:
    while True:
        pass


@job_type()
def sbx_sleep(data: Any, ctx: Any) -> Any:
    time.sleep(data)
    return data


@job_type()
def sbx_polite(data: Any, ctx: Any) -> Any:
    """Stops when cancelled, returning how far it got."""
    while not ctx.cancelled:
        time.sleep(0.01)
    return "stopped"


@job_type()
def sbx_stubborn(data: Any, ctx: Any) -> Any:
    while True:
        time.sleep(0.05)


@job_type()
def sbx_exit(data: Any, ctx: Any) -> Any:
    os._exit(data)


@job_type()
def sbx_segfault(data: Any, ctx: Any) -> Any:
    import faulthandler

    faulthandler.disable()  # no stack dump on the test's stderr
    ctypes.string_at(0)


@job_type()
def sbx_pid(data: Any, ctx: Any) -> Any:
    return os.getpid()


@job_type()
def sbx_grandchild(data: Any, ctx: Any) -> Any:
    """Starts a process of its own, says its PID and waits for ever."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    ctx.progress(0.5, str(child.pid))
    while True:
        time.sleep(0.05)


@job_type()
def sbx_heavy_modules(data: Any, ctx: Any) -> Any:
    """Which of the modules DATA names this process has imported."""
    return [name for name in data if name in sys.modules]
