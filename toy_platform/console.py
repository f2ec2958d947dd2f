"""Console output that survives any console: a character the console's encoding lacks (an
emoji in a job name on a cp1252 Windows console or pipe) is written escaped, never raises."""

from __future__ import annotations

import sys


def tolerant_console() -> None:
    """Make this process's stdout and stderr escape what their encoding cannot show."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is None:  # replaced by something that is not a text stream: leave it
            continue
        try:
            reconfigure(errors="backslashreplace")
        except (ValueError, OSError):  # closed, or detached
            continue
