"""The platform's own job type: reverse a text (the default, needing nothing installed)."""

from __future__ import annotations

from typing import Any

import regex

from toy_platform.jobs.types import DEFAULT_TYPE, JobType, add

_GRAPHEME = regex.compile(r"\X")


def reverse_text(text: str) -> str:
    """Reverse by user-perceived characters, so accents, flags and skin tones survive."""
    return "".join(reversed(_GRAPHEME.findall(text)))


def reverse(data: Any, ctx: Any) -> str:
    return reverse_text(data)


REVERSE = JobType(
    name=DEFAULT_TYPE,
    title="Reverse a text",
    handler=reverse,
    input_schema={"type": "string", "minLength": 1},
    module=__name__,
    in_process=True,
)
add(REVERSE)
