"""The core service: it accepts jobs into its queue; workers run them and call back.

Which queue, and where its workers run, is chosen once from --queue-url (core/queues).
"""

from __future__ import annotations

from flask import Flask
from prometheus_client import Counter

from toy_platform.config import Settings
from toy_platform.core.parts import CoreParts
from toy_platform.core.queues.choice import open_queue
from toy_platform.core.routes import bp
from toy_platform.service import create_service_app


def create_app(settings: Settings, start_workers: bool = True) -> Flask:
    """The core service app; what runs its jobs starts with it."""
    app = create_service_app(settings, "core")
    svc = app.extensions["toy_platform"]
    queue = open_queue(settings, svc, start=start_workers)
    accepted = Counter(
        "toy_platform_core_jobs_accepted_total",
        "Jobs accepted into the queue.",
        registry=svc.registry,
    )
    app.extensions["core"] = CoreParts(queue, accepted)
    if start_workers:
        queue.start()
    app.register_blueprint(bp)
    return app
