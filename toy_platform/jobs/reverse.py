"""The job core runs: reverse a string."""

from __future__ import annotations

import regex

_GRAPHEME = regex.compile(r"\X")


def reverse_text(text: str) -> str:
    """Reverse by user-perceived characters, so accents, flags and skin tones survive."""
    return "".join(reversed(_GRAPHEME.findall(text)))
