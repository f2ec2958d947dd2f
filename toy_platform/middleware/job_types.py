"""The job types a submit may name, as the middleware knows them from core.

Types are loaded where jobs run (core's embedded workers, each Celery worker); the middleware
asks core which types its workers offer, at most every REFRESH_S, and keeps the last answer
in its data dir: a middleware started while core is down still checks submits against the
schemas it last saw (the jobs wait for core, as every job does). The platform's own
`reverse` is always known.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

from toy_platform.clock import utc_now
from toy_platform.errors import ApiError
from toy_platform.http_errors import describe_error
from toy_platform.jobs.reverse import REVERSE
from toy_platform.jobs.types import DEFAULT_TIMEOUT_S, schema_error
from toy_platform.security import write_private
from toy_platform.service_http import CALL_FAILED, ServiceSession
from toy_platform.tracing import outgoing_headers

logger = logging.getLogger(__name__)

REFRESH_S = 2.0
ASK_TIMEOUT_S = 2.0
CACHE_FILE = "job_types.json"


class JobTypes:
    """What core's workers offer: the types, their schemas, and whether each is available."""

    def __init__(self, core_url: str, session: ServiceSession, data_dir: Path) -> None:
        self.core_url, self.session = core_url, session
        self.cache = data_dir / CACHE_FILE
        self._lock = threading.Lock()
        self._types: dict[str, dict[str, Any]] = {}
        self._known_of: tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]] | None = None
        self._checked_at: str | None = None
        self._asked = 0.0
        self._core_error: str | None = None
        self._load_cache()

    # -- what the routes ask ------------------------------------------------------

    def listing(self) -> tuple[list[dict[str, Any]], str | None]:
        """Every type (fresh from core when it answers), and when core last said them."""
        self._refresh()
        with self._lock:
            types = [dict(t) for t in self._known().values()]
            error = self._core_error
        if error is not None:  # nothing runs while core does not answer
            for info in types:
                info.update(available=False, reason=f"core does not answer: {error}")
        return sorted(types, key=lambda t: (t["name"] != REVERSE.name, t["name"])), self._checked_at

    def check(self, name: str, data: Any) -> None:
        """A 422 unless NAME is a known type and DATA matches its input_schema."""
        info = self._find(name)
        if info is None:
            known = ", ".join(sorted(self._known()))
            raise ApiError(
                422, f"No job type '{name}'; known: {known}", "unknown_job_type", field="job_type"
            )
        error = schema_error(info.get("input_schema", {}), data)
        if error is not None:
            path, message = error
            raise ApiError(
                422,
                f"'data' does not match the input schema of '{name}' at {path}: {message}",
                "invalid_data",
                field="data",
                path=path,
            )

    def time_limits(self) -> dict[str, float]:
        """Each known type's time limit (timeout_s), fresh from core when it answers."""
        self._refresh()
        with self._lock:
            known = self._known()
        return {name: float(t.get("timeout_s", DEFAULT_TIMEOUT_S)) for name, t in known.items()}

    def unoffered(self) -> dict[str, str]:
        """Why the jobs of each type no worker offers wait, by type, as core last said (no
        call to core: it is asked often enough by /job_types and the reconciler)."""
        with self._lock:
            known = self._known()
        return {
            name: f"no worker offers job type '{name}'"
            + (f" ({info['reason']})" if info.get("reason") else "")
            + ": it waits, queued, until one does"
            for name, info in known.items()
            if not info.get("available", True)
        }

    # -- keeping them -------------------------------------------------------------

    def _find(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            known = self._known().get(name)
        if known is None:  # a type added since we last asked: ask now
            self._refresh(force=True)
            with self._lock:
                known = self._known().get(name)
        return known

    def _known(self) -> dict[str, dict[str, Any]]:
        """The types core said, and reverse if it did not; made again only when core's
        answer changed (every submit looks its type up here). Not to be changed."""
        if self._known_of is None or self._known_of[0] is not self._types:
            builtin = REVERSE.describe() | {"available": True, "reason": None, "offered_by": []}
            self._known_of = (self._types, {REVERSE.name: builtin, **self._types})
        return self._known_of[1]

    def _refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            if not force and now - self._asked < REFRESH_S:
                return
            self._asked = now
        try:
            response = self.session.get(
                f"{self.core_url}/job_types", timeout=ASK_TIMEOUT_S, headers=outgoing_headers()
            )
            response.raise_for_status()
            types = {t["name"]: t for t in response.json()["job_types"]}
        except (*CALL_FAILED, ValueError, KeyError, TypeError) as exc:
            why = (
                describe_error(exc, ASK_TIMEOUT_S)
                if isinstance(exc, CALL_FAILED)
                else f"an answer that cannot be read ({exc})"
            )
            with self._lock:
                self._core_error = why
            return
        with self._lock:
            changed = types != self._types
            if changed:  # the same answer keeps the same objects: their checks stay cached
                self._types = types
            self._core_error, self._checked_at = None, utc_now()
        if changed:
            self._save_cache(types)

    def _load_cache(self) -> None:
        try:
            saved = json.loads(self.cache.read_text(encoding="utf-8"))
            self._types = {t["name"]: t for t in saved["job_types"]}
            self._checked_at = saved.get("checked_at")
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("the saved job types cannot be read (%s): asking core", exc)

    def _save_cache(self, types: dict[str, dict[str, Any]]) -> None:
        body = {"job_types": list(types.values()), "checked_at": self._checked_at}
        try:
            write_private(self.cache, json.dumps(body).encode())
        except OSError as exc:
            logger.warning("cannot keep the job types in %s: %s", self.cache, exc)
