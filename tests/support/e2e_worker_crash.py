"""Loaded by a worker with `--job-module support.e2e_worker_crash`: the first time its
consumer starts, it stops with the error kombu raised once while Redis was killed and started
again (a library's bug, out of the platform's hands), so that a test sees what the worker
does then."""

from __future__ import annotations

from typing import Any

from celery import bootsteps, signals

KOMBU_ERROR = "'NoneType' object has no attribute 'hostname'"


class CrashOnce(bootsteps.StartStopStep):  # type: ignore[misc]
    requires = ("celery.worker.consumer.tasks:Tasks",)
    crashed = False

    def start(self, consumer: Any) -> None:
        if not CrashOnce.crashed:
            CrashOnce.crashed = True
            raise AttributeError(KOMBU_ERROR)


@signals.celeryd_init.connect
def _add_step(sender: Any = None, instance: Any = None, **_kwargs: Any) -> None:
    instance.app.steps["consumer"].add(CrashOnce)
