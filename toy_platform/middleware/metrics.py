"""The middleware's domain figures for Prometheus, read from the job store when scraped."""

from __future__ import annotations

from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from toy_platform.middleware.stores.base import JobStore
from toy_platform.unavailable import StoreUnavailable


class JobsCollector(Collector):
    """Domain figures read from the job store when Prometheus scrapes."""

    def __init__(self, store: JobStore) -> None:
        self.store = store

    def collect(self) -> Any:
        try:
            by_status = self.store.counts_by_status()
            oldest = self.store.oldest_queued_age_s()
            waiting = self.store.waiting_for_core()
        except StoreUnavailable:  # /metrics still answers: the store is down, and says so
            yield GaugeMetricFamily(
                "toy_platform_job_store_up", "1 if the job store answers, else 0.", value=0
            )
            return
        yield GaugeMetricFamily(
            "toy_platform_job_store_up", "1 if the job store answers, else 0.", value=1
        )
        jobs = GaugeMetricFamily("toy_platform_jobs", "Jobs by status.", labels=["status"])
        for status, count in by_status.items():
            jobs.add_metric([status], count)
        yield jobs
        yield GaugeMetricFamily(
            "toy_platform_jobs_oldest_queued_age_seconds",
            "How long the oldest queued job has waited.",
            value=oldest or 0.0,
        )
        yield GaugeMetricFamily(
            "toy_platform_jobs_waiting_for_core",
            "Jobs stored but not yet accepted by the core.",
            value=waiting,
        )
