"""The usual stack for the platform's job, to measure the platform against (vs_celery.py).

A Flask app under waitress takes a job (POST /jobs), records it in Redis and queues a Celery
task; a Celery worker (threads pool) reverses the job's string and reports the result back
to the app over HTTP (POST /callback/<job_id>), which records it. No login, no logs, Redis
as broker and store. Run by vs_celery.py:

    PEER_REDIS_URL=redis://127.0.0.1:6379/0 PEER_URL=http://127.0.0.1:8000 \
        python -m waitress --port 8000 --threads 16 celery_peer:app
    PEER_REDIS_URL=... PEER_URL=... \
        python -m celery -A celery_peer:celery_app worker --pool threads --concurrency 8
"""

from __future__ import annotations

import os
import threading
import uuid
from typing import Any

import redis
import requests
from celery import Celery
from flask import Flask, jsonify, request

BROKER_URL = os.environ.get("PEER_REDIS_URL", "redis://127.0.0.1:6379/0")
PEER_URL = os.environ.get("PEER_URL", "http://127.0.0.1:8000")

celery_app = Celery("celery_peer", broker=BROKER_URL)
celery_app.conf.update(
    task_acks_late=True,  # as the platform: a job taken by a worker that dies runs again
    task_ignore_result=True,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)
store = redis.Redis.from_url(BROKER_URL)
local = threading.local()


def session() -> requests.Session:
    if not hasattr(local, "session"):
        local.session = requests.Session()
    return local.session  # type: ignore[no-any-return]


@celery_app.task(name="peer.reverse")  # type: ignore[untyped-decorator]
def reverse(job_id: str, data: str) -> None:
    result = data[::-1]
    session().post(
        f"{PEER_URL}/callback/{job_id}",
        json={"status": "succeeded", "result": result},
        timeout=5,
    ).raise_for_status()


app = Flask(__name__)


@app.post("/jobs")
def submit() -> Any:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not all(
        isinstance(body.get(field), str) for field in ("job_name", "data")
    ):
        return jsonify(error="send a JSON object with job_name and data strings"), 400
    job_id = uuid.uuid4().hex
    store.hset(
        f"peer:job:{job_id}",
        mapping={"job_name": body["job_name"], "data": body["data"], "status": "queued"},
    )
    reverse.delay(job_id, body["data"])
    return jsonify(job_id=job_id, status="queued"), 202


@app.post("/callback/<job_id>")
def callback(job_id: str) -> Any:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or body.get("status") != "succeeded":
        return jsonify(error="send a JSON object with status and result"), 400
    pipe = store.pipeline()
    pipe.hset(f"peer:job:{job_id}", mapping={"status": "succeeded", "result": body["result"]})
    pipe.hincrby("peer:counts", "succeeded", 1)
    pipe.execute()
    return jsonify(changed=True)


@app.get("/counts")
def counts() -> Any:
    raw = store.hgetall("peer:counts")
    return jsonify({key.decode(): int(value) for key, value in raw.items()})
