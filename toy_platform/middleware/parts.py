"""What the middleware's routes need: the shared objects its app factory builds."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import Counter

from toy_platform.config import Settings
from toy_platform.middleware.forwarder import Forwarder
from toy_platform.middleware.identity import TokenVerifier
from toy_platform.middleware.job_types import JobTypes
from toy_platform.middleware.stores.base import JobStore
from toy_platform.service_http import ServiceSession


@dataclass
class MiddlewareParts:
    settings: Settings
    store: JobStore
    verifier: TokenVerifier
    forwarder: Forwarder
    core: ServiceSession
    job_types: JobTypes
    submitted: Counter
    callbacks: Counter
