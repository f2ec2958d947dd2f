"""The public client is light: importing it loads none of what the services run on."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = (
    "flask",
    "werkzeug",
    "waitress",
    "psutil",
    "click",
    "platformdirs",
    "celery",
    "kombu",
    "redis",
    "psycopg",
    "psycopg_pool",
    "streamlit",
    "prometheus_client",
)


def test_importing_the_client_loads_no_service_framework() -> None:
    code = (
        "import json, sys, toy_platform.client; "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(run.stdout) == []


def test_the_client_speaks_the_domains_job_types() -> None:
    from toy_platform import client
    from toy_platform.jobs import model

    assert client.Job is model.Job
    assert client.JobStatus is model.JobStatus
