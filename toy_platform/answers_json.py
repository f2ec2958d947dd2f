"""The services' JSON answers, written by orjson.

orjson writes JSON several times faster than the json module. Where it would write other
text it is not used: an integer beyond 64 bits (orjson refuses it) and keys that are not
strings go through the json module. NaN and Infinity never reach an answer: every endpoint
refuses them in what it reads (errors.json_body). Requests are still read by the json
module: orjson reads an integer beyond 64 bits as a float, which would change the data.
"""

from __future__ import annotations

from typing import Any

import orjson
from flask.json.provider import DefaultJSONProvider


class AnswersJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider, its answers written by orjson (see the module)."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if not kwargs.get("indent"):
            try:
                return orjson.dumps(obj).decode()
            except (TypeError, orjson.JSONEncodeError):
                pass  # the json module writes it
        return super().dumps(obj, **kwargs)
