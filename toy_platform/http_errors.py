"""Why an HTTP call failed, in a few words a person can act on (requests' or urllib3's error).

Light on purpose: the public client uses it too.
"""

from __future__ import annotations

import requests
import urllib3

DEFAULT_TIMEOUT_S = 2.0


def timed_out(exc: Exception) -> bool:
    """Whether a failed HTTP call (requests' or urllib3's error) ran out of time."""
    # urllib3's NewConnectionError (refused, unknown host) is a TimeoutError for history's sake.
    return isinstance(exc, requests.Timeout) or (
        isinstance(exc, urllib3.exceptions.TimeoutError)
        and not isinstance(exc, urllib3.exceptions.NewConnectionError)
    )


def describe_error(exc: Exception, timeout: float = DEFAULT_TIMEOUT_S) -> str:
    """A short, human reason for a failed HTTP call (requests' or urllib3's error)."""
    refused = isinstance(exc, urllib3.exceptions.NewConnectionError)
    if timed_out(exc):
        return f"no answer within {timeout:g} s (timeout)"
    if refused or isinstance(exc, (requests.ConnectionError, urllib3.exceptions.ProtocolError)):
        text = str(exc)
        if "refused" in text.lower() or "10061" in text:
            return "connection refused (not running?)"
        return f"cannot connect: {text[:160]}"
    return f"{type(exc).__name__}: {str(exc)[:160]}"
