"""The OpenAPI document, made fit for the client generators that read it.

FastAPI writes a valid document, but two of its habits break generated clients, which name a
class by a schema's ``title``:

1. Two models of one name in different modules (``OfferRead`` of shopping and of decisioning)
   become ``offerengine__shopping__schemas__OfferRead`` and so on, each still titled
   ``OfferRead``; a model read and written differently becomes ``X-Input`` and ``X-Output``,
   both titled ``X``. A generator then makes two classes of one name, drops one, and with it
   every operation that refers to it. :func:`tidy` renames the first kind by their domain
   (``ShoppingOfferRead``) and titles every component whose title another one shares by its key.
2. A string enum whose values differ only in punctuation (time zones ``GMT+0``, ``GMT-0`` and
   ``GMT0``) gives its members one name; :func:`tidy` names them apart with the widely read
   ``x-enum-varnames`` extension.

``tests/e2e/test_openapi_client.py`` validates the served document and generates a client from it.
"""

from __future__ import annotations

import collections
import re
from typing import Any

_REF = "#/components/schemas/"
_NOT_WORD = re.compile(r"[^0-9A-Za-z]+")
_SIGN = re.compile(r"[+-](?=\d)")  # a number's sign, as in GMT+3; other hyphens join words


def tidy(document: dict[str, Any]) -> dict[str, Any]:
    """Give ``document``'s schemas names and titles of their own (see the module), in place."""
    schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
    renames = {key: _domain_name(key) for key in schemas if "__" in key}
    taken = set(schemas) - set(renames)
    for old, new in renames.items():
        if new in taken:
            raise ValueError(f"{old} would be renamed {new}, which is taken")
        taken.add(new)
    if renames:
        document["components"]["schemas"] = schemas = {
            renames.get(key, key): value for key, value in schemas.items()
        }
        _rename_refs(document, {_REF + old: _REF + new for old, new in renames.items()})
    titles = collections.Counter(schema.get("title") for schema in schemas.values())
    for key, schema in schemas.items():
        if key in renames.values() or titles[schema.get("title")] > 1 or "-" in key:
            schema["title"] = _NOT_WORD.sub("", key)
    _name_enum_members(document)
    return document


def _domain_name(key: str) -> str:
    """``offerengine__shopping__schemas__OfferRead`` → ``ShoppingOfferRead``."""
    parts = key.split("__")
    domain = parts[1] if len(parts) > 2 else ""
    return "".join(word.capitalize() for word in domain.split("_")) + parts[-1]


def _rename_refs(node: Any, refs: dict[str, str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref in refs:
            node["$ref"] = refs[ref]
        for value in node.values():
            _rename_refs(value, refs)
    elif isinstance(node, list):
        for value in node:
            _rename_refs(value, refs)


def _name_enum_members(node: Any) -> None:
    if isinstance(node, dict):
        values = node.get("enum")
        if (
            isinstance(values, list)
            and values
            and all(isinstance(v, str) for v in values)
            and "x-enum-varnames" not in node
            and len({_NOT_WORD.sub("", v).upper() for v in values}) < len(values)
        ):
            node["x-enum-varnames"] = _member_names(values)
        for value in node.values():
            _name_enum_members(value)
    elif isinstance(node, list):
        for value in node:
            _name_enum_members(value)


def _member_names(values: list[str]) -> list[str]:
    """One distinct identifier per value: ``Etc/GMT+0`` → ``ETC_GMT_PLUS_0``, ``GMT-0`` →
    ``GMT_MINUS_0``, ``GMT0`` → ``GMT0``."""
    names: list[str] = []
    seen: set[str] = set()
    for value in values:
        spelled = _SIGN.sub(lambda m: "_PLUS_" if m.group() == "+" else "_MINUS_", value)
        name = _NOT_WORD.sub("_", spelled).strip("_").upper() or "EMPTY"
        if not name[0].isalpha():
            name = f"VALUE_{name}"
        base, n = name, 2
        while name in seen:
            name, n = f"{base}_{n}", n + 1
        seen.add(name)
        names.append(name)
    return names
