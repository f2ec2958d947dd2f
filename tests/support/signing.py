"""Signing calls in tests as the services sign theirs (security.signature_headers)."""

from __future__ import annotations

import requests

from toy_platform.security import signature_headers


class ServiceAuth(requests.auth.AuthBase):
    """Signs every request of a requests.Session (or call) with the service key."""

    def __init__(self, key: bytes) -> None:
        self.key = key

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        body = r.body or b""
        if isinstance(body, str):
            body = body.encode()
        r.headers.update(signature_headers(self.key, r.method or "GET", r.url or "", body))
        return r
