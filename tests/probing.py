"""Edge inputs for every field an OpenAPI document describes (tests/e2e/test_edge_inputs.py).

:class:`Probe` builds a request body from the examples, defaults and enums of the document's
schemas, and yields it again with one field at a time replaced by an input that used to reach
the database or the calendar unchecked: text the database cannot store, dates at the calendar's
edges, integers past the columns' range, floats and decimals past what arithmetic keeps.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from tests.helpers import departure_day

NOT_UTF8 = "\ufdd0not-utf8\ufdd0"  # a placeholder in the JSON text, replaced by bytes b"\xff\xfe"
TEXTS: tuple[Any, ...] = ("x\x00y", "x\ud800y", NOT_UTF8)
DATES = ("9999-12-31", "0001-01-01")
TIMES = ("9999-12-31T23:59:59", "0001-01-01T00:00:00Z")  # a local and a zoned edge
INTEGERS = (2**31, 2**63)  # past PostgreSQL's integer, past its bigint
NUMBERS = (1e308, 2**63)
NUMERIC_TEXT = ("1E+400",)  # a decimal sent as a string, past every context's exponent
# Query, path and header values, as sent in the URL (percent-encoded) or the header.
URL_VALUES = (
    "x%00y",
    "%FF",
    DATES[0],
    quote(TIMES[0]),
    str(2**31),
    str(2**63),
    "1e400",
)
HEADER_VALUES: tuple[Any, ...] = ("999999999999999999", str(2**63), "9999-12-31T23:59:59", b"\xff")
Loc = tuple[str | int, ...]


class Probe:
    """Builds example bodies from the OpenAPI document and their one-field mutations."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.schemas: dict[str, Any] = document["components"]["schemas"]
        self.texts = 0  # string fields still to be sent the text faults, in this body

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.schemas[schema["$ref"].rsplit("/", 1)[1]]
        if "allOf" in schema and len(schema["allOf"]) == 1:
            return self.resolve(schema["allOf"][0]) | {
                k: v for k, v in schema.items() if k != "allOf"
            }
        return schema

    def options(self, schema: dict[str, Any]) -> list[dict[str, Any]]:
        """The alternatives of a union (not null), or the schema itself."""
        schema = self.resolve(schema)
        found = schema.get("anyOf") or schema.get("oneOf")
        if not found:
            return [schema]
        return [self.resolve(s) for s in found if self.resolve(s).get("type") != "null"]

    def example(self, schema: dict[str, Any], depth: int = 0) -> Any:
        """A value of ``schema``: its example, default or first choice; objects with their
        required properties."""
        schema = self.resolve(schema)
        for key in ("examples", "example"):
            if key in schema:
                found = schema[key]
                return found[0] if key == "examples" and isinstance(found, list) else found
        if schema.get("default") is not None:
            return schema["default"]
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return schema["enum"][0]
        options = self.options(schema)
        if len(options) != 1 or options[0] is not schema:
            return self.example(options[0], depth + 1) if options else None
        return self._typed(schema, depth)

    def _typed(self, schema: dict[str, Any], depth: int) -> Any:
        kind = schema.get("type")
        if kind == "object" or "properties" in schema:
            if depth > 8:
                return {}
            properties = schema.get("properties", {})
            return {
                name: self.example(properties[name], depth + 1)
                for name in schema.get("required", [])
                if name in properties
            }
        if kind == "array":
            return [self.example(schema.get("items", {}), depth + 1)] * max(
                1, schema.get("minItems", 1)
            )
        if kind == "integer":
            return max(1, schema.get("minimum", 1))
        if kind == "number":
            return max(1, schema.get("minimum", 1))
        if kind == "boolean":
            return True
        if schema.get("format") == "date":
            return departure_day()
        if schema.get("format") == "date-time":
            return f"{departure_day()}T12:00:00Z"
        return "probe"

    def variants(
        self, schema: dict[str, Any], base: Any = None, depth: int = 0
    ) -> Iterator[tuple[Loc, Any]]:
        """``base`` (default: an example of ``schema``) with one leaf replaced by an edge input,
        and where it sits."""
        seen: set[str] = set()
        for option in self.options(schema):
            start = base if base is not None else self.example(option, depth)
            for loc, value in self._variants(option, start, depth):
                key = json.dumps([loc, value], default=repr)
                if key not in seen:
                    seen.add(key)
                    yield loc, value

    def _variants(self, schema: dict[str, Any], base: Any, depth: int) -> Iterator[tuple[Loc, Any]]:
        if depth > 6 or "enum" in schema or "const" in schema:
            return
        kind = schema.get("type")
        if kind == "object" or "properties" in schema or "additionalProperties" in schema:
            yield from self._object_variants(schema, base if isinstance(base, dict) else {}, depth)
        elif kind == "array":
            items = base if isinstance(base, list) and base else [None]
            for loc, value in self.variants(schema.get("items", {}), items[0], depth + 1):
                yield (0, *loc), [value, *items[1:]]
        else:
            values = leaf_values(schema)
            if self.texts and schema.get("type") == "string":
                # Text is checked for the whole body at once, before any route reads it: its
                # faults are sent in one string per body (and in every free-form object).
                self.texts -= 1
                values = (*TEXTS, *values)
            for value in values:
                yield (), value

    def _object_variants(
        self, schema: dict[str, Any], base: dict[str, Any], depth: int
    ) -> Iterator[tuple[Loc, Any]]:
        properties: dict[str, Any] = schema.get("properties", {})
        for name, child in properties.items():
            for loc, value in self.variants(child, base.get(name), depth + 1):
                yield (name, *loc), base | {name: value}
        extra = schema.get("additionalProperties", not properties)
        if "patternProperties" in schema:
            extra = next(iter(schema["patternProperties"].values()))
        if extra is True or extra == {}:
            for value in (*TEXTS, *TIMES[:1], *INTEGERS, *NUMBERS[:1]):
                yield ("probe",), base | {"probe": value}
        elif isinstance(extra, dict):
            key = next((k for k in base if k not in properties), "probe")
            for loc, value in self.variants(extra, base.get(key), depth + 1):
                yield (key, *loc), base | {key: value}


def leaf_values(schema: dict[str, Any]) -> tuple[Any, ...]:
    """The edge inputs for a scalar of ``schema`` (text faults aside, see Probe.texts)."""
    kind = schema.get("type")
    if kind == "integer":
        return INTEGERS
    if kind == "number":
        return NUMBERS
    if kind != "string":
        return ()
    fmt = schema.get("format")
    if fmt == "date":
        return DATES
    if fmt == "date-time":
        return TIMES
    if fmt in ("uuid", "uri", "email"):
        return ()
    return (DATES[0], TIMES[0], *NUMERIC_TEXT)


def fill(template: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        template = template.replace("{" + name + "}", value)
    return template


def encode(value: Any) -> bytes:
    """``value`` as JSON, with NUL and surrogates escaped and the placeholder made invalid UTF-8."""
    return json.dumps(value).encode().replace(b'"\\ufdd0not-utf8\\ufdd0"', b'"\xff\xfe"')
