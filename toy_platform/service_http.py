"""Calls between the services (middleware -> core, core -> middleware): signed, on kept
connections, over urllib3.

Not requests: for the forward and the callbacks, which carry every job, requests spent about
twice urllib3's CPU a call (merging settings, hooks and cookies no internal call has).
Like the public client, a call is never retried here (a POST sent twice could do its work
twice: the loops that call decide), never redirected, and goes straight to its URL, whatever
proxy the environment names. A call that fails raises urllib3's error (its HTTPError);
http_errors.describe_error says it in a few words.
"""

from __future__ import annotations

import json as jsonlib
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import urllib3
from urllib3.util import parse_url

from toy_platform.security import signature_headers

POOL_SIZE = 10
"""Connections kept per service called: a session shared by a service's request threads."""


class HttpStatusError(Exception):
    """An answer with an error status, where the caller asked for a success."""


@dataclass(frozen=True)
class ServiceAnswer:
    status_code: int
    content: bytes

    @property
    def ok(self) -> bool:
        return self.status_code < 400

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not."""
        return jsonlib.loads(self.content)

    def raise_for_status(self) -> None:
        if not self.ok:
            raise HttpStatusError(f"HTTP {self.status_code}: {' '.join(self.text.split())[:200]}")


class ServiceSession:
    """Signed calls to the other services, with KEY; safe to share between threads."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._pools = urllib3.PoolManager(maxsize=POOL_SIZE)

    def post(
        self,
        url: str,
        json: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float = 5.0,
    ) -> ServiceAnswer:
        """POST JSON (None: no body) to URL."""
        return self.request("POST", url, json, headers, timeout)

    def get(
        self, url: str, headers: dict[str, str] | None = None, timeout: float = 5.0
    ) -> ServiceAnswer:
        return self.request("GET", url, None, headers, timeout)

    def request(
        self,
        method: str,
        url: str,
        json: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float = 5.0,
    ) -> ServiceAnswer:
        """The answer, whatever its status; urllib3's error when there is none. TIMEOUT is
        for connecting and for each wait for the answer, as requests has it."""
        body = b"" if json is None else jsonlib.dumps(json, allow_nan=False).encode()
        url = parse_url(url).url  # as it goes out (percent-encoded): what is signed is sent
        sent = dict(headers or {})
        if json is not None:
            sent["Content-Type"] = "application/json"
        sent.update(signature_headers(self._key, method, url, body))
        answer = self._pools.request(
            method,
            url,
            body=body if json is not None else None,
            headers=sent,
            timeout=timeout,
            retries=False,
            redirect=False,
        )
        return ServiceAnswer(answer.status, answer.data)

    def close(self) -> None:
        self._pools.clear()

    def __enter__(self) -> ServiceSession:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def service_session(key: bytes) -> ServiceSession:
    """The session a service calls the others with, signed with KEY."""
    return ServiceSession(key)


NO_ANSWER = (
    urllib3.exceptions.TimeoutError,  # NewConnectionError (refused, unknown host) among them
    urllib3.exceptions.ProtocolError,  # the connection cut
    urllib3.exceptions.SSLError,
)
"""The errors of a call that got no answer from a service that may answer later; a URL that
cannot be called at all (LocationParseError, say) is not among them."""

CALL_FAILED = (urllib3.exceptions.HTTPError, HttpStatusError)
"""What a call that raise_for_status()es can raise: no answer, or an error answer."""
