"""The optional engines, each an extra of the package: `pip install toy-platform` runs the
embedded platform; `toy-platform[celery]` adds Celery workers on a Redis broker and
`toy-platform[postgres]` the job store on PostgreSQL."""

from __future__ import annotations

import importlib

EXTRAS: dict[str, tuple[str, ...]] = {
    "celery": ("celery", "kombu", "redis"),
    "postgres": ("psycopg", "psycopg_pool"),
}


def missing_extra(extra: str, needed_by: str) -> str | None:
    """None when EXTRA's packages import, else one line saying what to install for NEEDED_BY
    (e.g. "--queue-url redis://...")."""
    for module in EXTRAS[extra]:
        try:
            importlib.import_module(module)
        except ImportError:
            return (
                f"{needed_by} needs the '{extra}' extra, which is not installed ({module} is"
                f" missing): pip install 'toy-platform[{extra}]'"
            )
    return None
