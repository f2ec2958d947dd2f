"""The one Python client of the platform's API, for the CLI, dashboard, examples and tests.

Light to import: no Flask, psutil, click or platformdirs; the job's types are the domain's
(toy_platform.jobs.model), the same the services answer with.

client = PlatformClient("http://127.0.0.1:6300", "http://127.0.0.1:6302")
client.login("alice", "secret-password")
job = client.submit_job("greeting", "hello")
done = client.wait_for_job(job["job_id"])
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Collection
from typing import Any, Literal, TypedDict, cast
from urllib.parse import urlsplit

import urllib3

__all__ = [
    "ComponentStatus",
    "Job",
    "JobEvent",
    "JobPage",
    "JobStatus",
    "JobTypeInfo",
    "Login",
    "PlatformClient",
    "PlatformError",
    "PlatformStatus",
    "Progress",
]

from toy_platform.http_errors import describe_error
from toy_platform.jobs.model import FINISHED, Job, JobEvent, JobStatus, JobTypeInfo, Progress
from toy_platform.tracing import REQUEST_ID_HEADER


class JobPage(TypedDict):
    jobs: list[Job]
    total: int
    limit: int
    offset: int
    next_before: str | None  # the cursor of the next (older) page, for before=


class Login(TypedDict):
    token: str
    token_type: str
    expires_in: int
    username: str
    role: str


class ComponentStatus(TypedDict, total=False):
    up: bool
    ready: bool
    reason: str | None
    latency_ms: float | None
    version: str | None
    uptime_s: float | None
    url: str
    restarts: int | None
    last_exit_code: int | None
    last_exit_at: str | None


class PlatformStatus(TypedDict, total=False):
    components: dict[str, ComponentStatus]
    all_ready: bool
    queue_size: int | None
    oldest_queued_age_s: float | None
    jobs_by_status: dict[str, int] | None  # None while the job store cannot be read
    jobs_waiting_for_core: int | None
    callbacks_pending: int | None
    callbacks_waiting_retry: int | None
    checked_at: str


class PlatformError(Exception):
    """Any failed call: the API's error shape, or a service that did not answer."""

    def __init__(
        self,
        message: str,
        code: str,
        status: int | None = None,
        field: str | None = None,
        retry_after: int | None = None,
        service: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.field = field
        self.retry_after = retry_after
        self.service = service

    @property
    def unreachable(self) -> bool:
        return self.status is None

    @property
    def unauthorized(self) -> bool:
        return self.status == 401


class PlatformClient:
    """Talks to the auth service (login) and the middleware (everything else).

    Calls go through urllib3's connection pools, with the environment's proxy settings read
    once. A call through requests cost twice the CPU (it re-reads the environment on every
    call, among other things), and load scripts and dashboards make many calls.
    """

    def __init__(
        self,
        auth_url: str,
        middleware_url: str,
        token: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.auth_url = auth_url.rstrip("/")
        self.middleware_url = middleware_url.rstrip("/")
        self.token = token
        self.username: str | None = None
        self.timeout = timeout
        self._pools = {
            "auth": connection_pool(self.auth_url),
            "middleware": connection_pool(self.middleware_url),
        }

    # -- the calls -----------------------------------------------------------

    def login(self, username: str, password: str) -> Login:
        """Log in and keep the token for the calls that follow."""
        body = self._call(
            "auth", "POST", "/login", json={"username": username, "password": password}
        )
        self.token, self.username = body["token"], body["username"]
        return cast(Login, body)

    def logout(self) -> None:
        self.token = self.username = None

    def submit_job(
        self,
        job_name: str,
        data: Any,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        job_type: str | None = None,
    ) -> Job:
        """Submit a job of JOB_TYPE (the platform's default, `reverse`, when None) on DATA,
        any JSON value the type's input_schema accepts."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        if request_id:
            headers[REQUEST_ID_HEADER] = request_id
        body: dict[str, Any] = {"job_name": job_name, "data": data}
        if job_type is not None:
            body["job_type"] = job_type
        answer = self._call("middleware", "POST", "/job_submit", json=body, headers=headers)
        return cast(Job, answer["job"])

    def job_types(self) -> list[JobTypeInfo]:
        """The job types a submit may name: schemas, limits, and whether a worker offers each."""
        return cast(list[JobTypeInfo], self._call("middleware", "GET", "/job_types")["job_types"])

    def cancel_job(self, job_id: str) -> Job:
        """Cancel a job: a queued one never starts; a running one is stopped (it shows
        `cancel_requested` until it did). A finished one: PlatformError 409 not_cancellable."""
        return cast(Job, self._call("middleware", "POST", f"/jobs/{job_id}/cancel"))

    def list_jobs(
        self,
        status: JobStatus | str | None = None,
        limit: int | None = None,
        offset: int | None = None,
        all_users: bool = False,
        before: str | None = None,
    ) -> JobPage:
        """A page of jobs, newest first. For deep pages pass the previous page's
        `next_before` as BEFORE (keyset paging: as fast on page 1,000 as on page 1)."""
        params: dict[str, Any] = {
            "status": status,
            "limit": limit,
            "offset": offset,
            "before": before,
        }
        if all_users:
            params["scope"] = "all"
        params = {k: v for k, v in params.items() if v is not None}
        return cast(JobPage, self._call("middleware", "GET", "/list_jobs", fields=params))

    def get_job(self, job_id: str) -> Job:
        return cast(Job, self._call("middleware", "GET", f"/jobs/{job_id}"))

    def retry_job(self, job_id: str) -> Job:
        return cast(Job, self._call("middleware", "POST", f"/jobs/{job_id}/retry"))

    def reset(self) -> dict[str, Any]:
        return self._call("middleware", "POST", "/reset")

    def platform_status(self) -> PlatformStatus:
        return cast(PlatformStatus, self._call("middleware", "GET", "/platform_status"))

    def wait_for_job(
        self, job_id: str, timeout: float = 60.0, until: Collection[str] = FINISHED
    ) -> Job:
        """Poll until the job reaches one of UNTIL; raise TimeoutError after TIMEOUT."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.get_job(job_id)
            if job["status"] in until:
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job['status']} after {timeout:g} s")
            time.sleep(0.1)

    # -- the one place that reads the error shape ---------------------------

    def _call(
        self,
        service: Literal["auth", "middleware"],
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        base = self.auth_url if service == "auth" else self.middleware_url
        headers = dict(headers or {})
        if service == "middleware" and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            # No retries: a POST sent twice could submit a job twice.
            response = self._pools[service].request(
                method, base + path, headers=headers, timeout=self.timeout, retries=False, **kwargs
            )
        except urllib3.exceptions.HTTPError as exc:
            reason = describe_error(exc, self.timeout)
            raise PlatformError(
                f"The {service} service at {base} is not answering ({reason})",
                "unreachable",
                service=service,
            ) from exc
        try:
            body = json.loads(response.data)
        except ValueError:
            body = None
        if response.status < 400 and isinstance(body, dict):
            return body
        raise _error_from(response, body, service)


def connection_pool(url: str) -> urllib3.PoolManager:
    """Connections to URL, through the proxy the environment names for it, if any."""
    parts = urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
        return urllib3.ProxyManager(proxy, maxsize=10)
    return urllib3.PoolManager(maxsize=10)


def _error_from(response: urllib3.BaseHTTPResponse, body: Any, service: str) -> PlatformError:
    if not isinstance(body, dict) or "error" not in body:
        return PlatformError(
            f"The {service} service answered HTTP {response.status}",
            "bad_response",
            response.status,
            service=service,
        )
    retry_after = body.get("retry_after") or response.headers.get("Retry-After")
    return PlatformError(
        str(body["error"]),
        str(body.get("code", "error")),
        response.status,
        field=body.get("field"),
        retry_after=int(retry_after) if retry_after else None,
        service=service,
    )
