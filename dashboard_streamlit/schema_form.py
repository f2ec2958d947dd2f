"""A submit form built from a job type's input_schema, and the checks the API will make.

`plan(schema)` decides the form: one text area for a string schema (reverse's), one widget
per property for a flat object schema, else one JSON text area. `build(form, values)` turns
the widgets' values into the job's data; `first_error(schema, data)` checks it with the
same Draft 2020-12 validator the platform uses. Only `render()` calls Streamlit.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import streamlit as st
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

Kind = Literal["text", "long_text", "enum", "number", "integer", "boolean"]
Mode = Literal["string", "object", "json"]

LONG_TEXT = 200
"""A string property whose maxLength is above this (or that has none and says it is
multi-line) gets a text area rather than a text input."""
DATA_KEY = "job_data"
"""The widget key of the single Data area (a string schema) and the prefix of the others."""
_SCALAR_TYPES = {"string", "number", "integer", "boolean"}


@dataclass(frozen=True)
class Field:
    """One property of an object schema, as a widget."""

    name: str
    kind: Kind
    label: str
    required: bool
    default: Any = None
    options: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    help: str | None = None


@dataclass(frozen=True)
class Form:
    """How to ask for a job type's data."""

    mode: Mode
    schema: Any
    fields: tuple[Field, ...] = field(default_factory=tuple)


class DataError(ValueError):
    """The data cannot be built (not JSON), or does not match the schema."""


# -- deciding the form -------------------------------------------------------------


def plan(schema: Any) -> Form:
    """The form for SCHEMA: `string` (one Data area), `object` (a widget per property)
    or `json` (one JSON area) for anything the small renderer does not cover."""
    if isinstance(schema, dict):
        if _type_of(schema) == "string" and not _has(schema, "enum", "const"):
            return Form("string", schema)
        if _type_of(schema) == "object":
            fields = _object_fields(schema)
            if fields is not None:
                return Form("object", schema, fields)
    return Form("json", schema)


def _type_of(schema: dict[str, Any]) -> str | None:
    declared = schema.get("type")
    return declared if isinstance(declared, str) else None


def _has(schema: dict[str, Any], *words: str) -> bool:
    return any(word in schema for word in words)


_COMBINATORS = ("allOf", "anyOf", "oneOf", "not", "if", "$ref", "patternProperties")


def _object_fields(schema: dict[str, Any]) -> tuple[Field, ...] | None:
    """A widget per property, or None when a property is not a plain scalar."""
    properties = schema.get("properties")
    if not isinstance(properties, dict) or not properties or _has(schema, *_COMBINATORS):
        return None
    required = schema.get("required") or []
    fields = []
    for name, sub in properties.items():
        built = _field(str(name), sub, name in required)
        if built is None:
            return None
        fields.append(built)
    return tuple(fields)


def _field(name: str, sub: Any, required: bool) -> Field | None:
    if not isinstance(sub, dict) or _has(sub, *_COMBINATORS):
        return None
    label = str(sub.get("title") or name)
    help_text = sub.get("description") if isinstance(sub.get("description"), str) else None
    default = sub.get("default")
    if isinstance(sub.get("enum"), list) and sub["enum"]:
        options = tuple(sub["enum"])
        return Field(name, "enum", label, required, default, options, help=help_text)
    kind_of = _type_of(sub)
    if kind_of not in _SCALAR_TYPES:
        return None
    if kind_of == "string":
        max_length = sub.get("maxLength")
        long = isinstance(max_length, int) and max_length > LONG_TEXT
        kind: Kind = "long_text" if long else "text"
        return Field(name, kind, label, required, default, max_length=max_length, help=help_text)
    if kind_of in ("number", "integer"):
        return Field(
            name,
            "integer" if kind_of == "integer" else "number",
            label,
            required,
            default,
            minimum=_bound(sub, "minimum"),
            maximum=_bound(sub, "maximum"),
            help=help_text,
        )
    return Field(name, "boolean", label, required, bool(default), help=help_text)


def _bound(sub: dict[str, Any], word: str) -> float | None:
    value = sub.get(word)
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


# -- building and checking the data ------------------------------------------------------


def build(form: Form, values: dict[str, Any]) -> Any:
    """The job's data from the widgets' VALUES (keyed by property name; `data` for the
    string and JSON forms). An optional property left empty is left out. DataError when
    the JSON area does not hold JSON."""
    if form.mode == "string":
        return values.get("data") or ""
    if form.mode == "json":
        text = str(values.get("data") or "").strip()
        if not text:
            raise DataError("Enter the data as JSON (e.g. a string in double quotes).")
        try:
            return json.loads(text)
        except ValueError as exc:
            raise DataError(f"The data is not valid JSON: {exc}") from None
    data: dict[str, Any] = {}
    for f in form.fields:
        value = values.get(f.name)
        if f.kind == "boolean":
            data[f.name] = bool(value)
        elif value is None or (value == "" and not f.required):
            continue
        elif f.kind == "integer" and isinstance(value, float) and value.is_integer():
            data[f.name] = int(value)
        else:
            data[f.name] = value
    return data


def first_error(schema: Any, data: Any) -> tuple[str, str] | None:
    """The most relevant way DATA fails SCHEMA, as (JSON path, message); None if it is valid."""
    error = best_match(Draft202012Validator(schema).iter_errors(data))
    if error is None:
        return None
    return error.json_path, error.message


def check(job_type: str, schema: Any, data: Any) -> None:
    """DataError worded like the API's invalid_data, with the JSON path, if DATA fails."""
    found = first_error(schema, data)
    if found is not None:
        path, message = found
        raise DataError(
            f"The data does not match the input schema of '{job_type}' at {path}: {message}"
        )


# -- the widgets -------------------------------------------------------------------------


def widget_key(job_type: str, form: Form, name: str = "data") -> str:
    """A string schema's Data area is always `job_data` (the same for every such type);
    the others are per type and property, so switching types does not mix their values."""
    if form.mode == "string":
        return DATA_KEY
    return f"{DATA_KEY}.{job_type}.{name}"


def initial_values(job_type: str, form: Form) -> dict[str, Any]:
    """Each widget's key and its value in an empty form (a property's default, if any)."""
    if form.mode != "object":
        return {widget_key(job_type, form): ""}
    return {widget_key(job_type, form, f.name): _initial(f) for f in form.fields}


def _initial(f: Field) -> Any:
    if f.kind == "enum":
        return f.default if f.default in f.options else None
    if f.kind == "boolean":
        return bool(f.default)
    if f.kind in ("number", "integer"):
        if not isinstance(f.default, int | float) or isinstance(f.default, bool):
            return None
        return int(f.default) if f.kind == "integer" else float(f.default)
    return f.default if isinstance(f.default, str) else ""


def render(job_type: str, form: Form) -> dict[str, Any]:
    """Draw FORM's widgets (inside an st.form); their values, for build(). A widget whose key
    is in the session state already (typed in, or reset by the page) takes its value from
    there; otherwise it starts at initial_values()."""
    if form.mode == "string":
        text = st.text_area(
            "Data",
            key=widget_key(job_type, form),
            height=100,
            help=form.schema.get("description") or "The text the job works on",
        )
        return {"data": text}
    if form.mode == "json":
        text = st.text_area(
            "Data (JSON)",
            key=widget_key(job_type, form),
            height=140,
            help="Any JSON value the job type's input schema accepts",
        )
        with st.expander("Input schema"):
            st.code(json.dumps(form.schema, indent=2), language="json")
        return {"data": text}
    values: dict[str, Any] = {}
    for f in form.fields:
        values[f.name] = _widget(f, widget_key(job_type, form, f.name))
    return values


def _widget(f: Field, key: str) -> Any:
    label = f.label if f.required else f"{f.label} (optional)"
    # A widget given both a starting value and a session-state value logs a warning.
    start: dict[str, Any] = {}
    if key not in st.session_state:
        initial = _initial(f)
        if f.kind == "enum":
            start["index"] = list(f.options).index(initial) if initial in f.options else None
        else:
            start["value"] = initial
    if f.kind == "enum":
        return st.selectbox(label, list(f.options), key=key, help=f.help, **start)
    if f.kind == "boolean":
        return st.checkbox(label, key=key, help=f.help, **start)
    if f.kind in ("number", "integer"):
        integer = f.kind == "integer"
        cast = int if integer else float

        def bound(value: float | None) -> Any:
            return None if value is None or not math.isfinite(value) else cast(value)

        return st.number_input(
            label,
            min_value=bound(f.minimum),
            max_value=bound(f.maximum),
            step=1 if integer else None,
            key=key,
            help=f.help,
            **start,
        )
    if f.kind == "long_text":
        return st.text_area(label, max_chars=f.max_length, key=key, help=f.help, **start)
    return st.text_input(label, max_chars=f.max_length, key=key, help=f.help, **start)
