"""What core's routes need: the shared objects its app factory builds."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import Counter

from toy_platform.core.queues.base import JobQueue


@dataclass
class CoreParts:
    queue: JobQueue
    jobs_accepted: Counter
