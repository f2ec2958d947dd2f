"""Job types: the functions jobs run, each with its input schema, time limit and retries.

A job type is a Python function decorated with `toy_platform.job_type`; decorating it
registers it here. Types are found in the entry-point group `toy_platform.job_types` of the
installed packages and in the modules named with `--job-module` (see `load_job_types`), and
are loaded where jobs run: core's embedded workers and each Celery worker. `reverse`, the
platform's own, is always there.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "toy_platform.job_types"
DEFAULT_TYPE = "reverse"
DEFAULT_TIMEOUT_S = 60.0
MAX_TIMEOUT_S = 24 * 3600.0
MAX_RETRIES = 10
NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$"
ANY_JSON: dict[str, Any] = {}
"""The schema that accepts any JSON value."""


class JobContext(Protocol):
    """What a handler gets beside its data (see jobs.sandbox for the real one)."""

    job_id: str
    attempt: int
    log: logging.LoggerAdapter[logging.Logger]

    def progress(self, fraction: float, message: str = "") -> None: ...

    @property
    def cancelled(self) -> bool: ...


Handler = Callable[[Any, JobContext], Any]


class JobTypeError(ValueError):
    """A job type declared wrongly (a bad name, schema or limit): the message says which."""


@dataclass(frozen=True)
class JobType:
    """A kind of job: its handler and what the platform needs to know to run it."""

    name: str
    title: str
    handler: Handler = field(repr=False, compare=False)
    input_schema: dict[str, Any] = field(default_factory=dict)
    timeout_s: float = DEFAULT_TIMEOUT_S
    max_retries: int = 0
    module: str = ""
    in_process: bool = False
    """Run in the worker itself, not in a process of its own: the platform's own `reverse`,
    which cannot hang or crash, and stays as fast as before."""

    def describe(self) -> dict[str, Any]:
        """The type as /job_types shows it (without `available`, which core adds)."""
        return {
            "name": self.name,
            "title": self.title,
            "input_schema": self.input_schema,
            "timeout_s": self.timeout_s,
            "max_retries": self.max_retries,
        }


_registry: dict[str, JobType] = {}
_lock = threading.Lock()


def job_type(
    name: str | None = None,
    *,
    title: str | None = None,
    input_schema: dict[str, Any] | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    max_retries: int = 0,
) -> Callable[[Handler], Handler]:
    """Declare FUNCTION(data, ctx) a job type (NAME: the function's name by default)."""

    def register(function: Handler) -> Handler:
        declared = _checked(
            JobType(
                name=name or function.__name__,
                title=title or (name or function.__name__).replace("_", " ").capitalize(),
                handler=function,
                input_schema=dict(ANY_JSON if input_schema is None else input_schema),
                timeout_s=float(timeout_s),
                max_retries=max_retries,
                module=function.__module__,
            )
        )
        add(declared)
        function.job_type = declared  # type: ignore[attr-defined]
        return function

    return register


def add(declared: JobType) -> None:
    """Register DECLARED; the same name from another module is an error (which would run?)."""
    with _lock:
        known = _registry.get(declared.name)
        if known is not None and known.module != declared.module:
            raise JobTypeError(
                f"job type {declared.name!r} is declared twice: in {known.module} and in"
                f" {declared.module}"
            )
        _registry[declared.name] = declared


def registered() -> dict[str, JobType]:
    """The job types declared so far, by name."""
    with _lock:
        return dict(_registry)


def get(name: str) -> JobType | None:
    with _lock:
        return _registry.get(name)


def _checked(declared: JobType) -> JobType:
    import re

    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    where = f"job type {declared.name!r} ({declared.module})"
    if not re.match(NAME_PATTERN, declared.name):
        raise JobTypeError(
            f"{where}: a name is 1 to 64 letters, digits, '_', '.' or '-', starting with a letter"
        )
    if not 0 < declared.timeout_s <= MAX_TIMEOUT_S:
        raise JobTypeError(f"{where}: timeout_s must be more than 0 and at most {MAX_TIMEOUT_S:g}")
    if not isinstance(declared.max_retries, int) or not 0 <= declared.max_retries <= MAX_RETRIES:
        raise JobTypeError(f"{where}: max_retries must be a whole number from 0 to {MAX_RETRIES}")
    try:
        Draft202012Validator.check_schema(declared.input_schema)
    except SchemaError as exc:
        raise JobTypeError(f"{where}: input_schema is not a JSON Schema: {exc.message}") from exc
    return declared


MAX_SCHEMA_OBJECTS = 256
_validators: dict[str, Any] = {}
_by_identity: dict[int, tuple[Any, Any]] = {}
"""The validator of a schema object seen before, without writing the schema out again to
find it; a few schemas are checked over and over (a type's, for every job of it)."""


def schema_error(schema: dict[str, Any] | bool, data: Any) -> tuple[str, str] | None:
    """Where DATA first breaks SCHEMA and how, as (JSON path, message); None when it does
    not. The one check of job data: the middleware's at submit, core's at its door.
    Valid data (nearly all) is only checked; finding the error worth naming costs more."""
    validator = _validator(schema)
    if validator.is_valid(data):
        return None
    from jsonschema.exceptions import best_match

    error = best_match(validator.iter_errors(data))
    if error is None:
        return None
    return error.json_path, error.message[:300]


def _validator(schema: dict[str, Any] | bool) -> Any:
    seen = _by_identity.get(id(schema))
    if seen is not None and seen[0] is schema:
        return seen[1]
    import json

    from jsonschema import Draft202012Validator

    key = json.dumps(schema, sort_keys=True)
    validator = _validators.get(key)
    if validator is None:
        validator = _validators[key] = Draft202012Validator(schema)
    if len(_by_identity) >= MAX_SCHEMA_OBJECTS:  # schemas read afresh (core's list, say)
        _by_identity.clear()
    _by_identity[id(schema)] = (schema, validator)  # kept alive: its id is not reused
    return validator


class JobModuleError(Exception):
    """A module named with --job-module cannot be imported: the message says why."""


def load_job_types(modules: Iterable[str] = ()) -> dict[str, JobType]:
    """Import the platform's own types, every installed package's entry points in
    ENTRY_POINT_GROUP, and MODULES; the job types they declare, by name.

    A module named with --job-module that fails to import is an error (JobModuleError): it
    was asked for. An installed package whose entry point fails is logged and skipped: one
    broken plugin must not stop the platform."""
    importlib.import_module("toy_platform.jobs.reverse")
    for entry in _entry_points():
        try:
            entry.load()
        except Exception as exc:
            logger.error(
                "job types of %s cannot be loaded, skipped: %s: %s",
                entry.value,
                type(exc).__name__,
                exc,
                extra={"event": "job_types_not_loaded", "entry_point": entry.value},
            )
    for module in modules:
        try:
            importlib.import_module(module)
        except JobTypeError:
            raise
        except Exception as exc:
            raise JobModuleError(
                f"--job-module {module}: cannot be imported: {type(exc).__name__}: {exc}"
            ) from exc
    return registered()


def _entry_points() -> list[Any]:
    from importlib.metadata import entry_points

    return list(entry_points(group=ENTRY_POINT_GROUP))
