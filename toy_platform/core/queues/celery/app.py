"""The platform's Celery app: its settings (what each is for: see config) and its tasks."""

from __future__ import annotations

from typing import Any

from toy_platform.config import Settings
from toy_platform.core.queues.celery.config import (
    BROKER_TIMEOUT_S,
    CALLBACKS_QUEUE,
    DELIVER_CALLBACK,
    JOBS_QUEUE,
    RESTORE_EVERY_S,
    RESTORE_MUTEX_S,
    visibility_timeout,
)
from toy_platform.core.queues.celery.tasks import register


def celery_app(settings: Settings) -> Any:
    """The platform's Celery app on the broker at settings.queue_url, with its tasks."""
    from celery import Celery

    app = Celery("toy_platform", broker=settings.queue_url, set_as_current=False)
    transport = {
        "visibility_timeout": visibility_timeout(settings),
        "unacked_restore_interval": RESTORE_EVERY_S,
        "unacked_restore_throttle": 1,
        # A worker that dies while it holds the restore sweep's lock holds it this long, not
        # kombu's 300 s (no dead worker's job was restored for five minutes); a sweep takes ms.
        "unacked_mutex_expire": RESTORE_MUTEX_S,
        "socket_timeout": BROKER_TIMEOUT_S * 2,
        "socket_connect_timeout": BROKER_TIMEOUT_S,
        "socket_keepalive": True,
        "health_check_interval": 10,
        "retry_on_timeout": True,
    }
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        result_backend=None,
        task_serializer="json",
        accept_content=["json"],
        task_create_missing_queues=True,
        task_default_queue=JOBS_QUEUE,
        task_routes={DELIVER_CALLBACK: {"queue": CALLBACKS_QUEUE}},
        broker_transport_options=transport,
        broker_connection_timeout=BROKER_TIMEOUT_S,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        broker_channel_error_retry=True,
        broker_heartbeat=0,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_enable_remote_control=True,
        worker_send_task_events=False,
        task_send_sent_event=False,
        enable_utc=True,
    )
    register(app, settings)
    return app
