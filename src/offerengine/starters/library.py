"""The shipped template sets, read from the package's ``sets/*.json`` once per process and
checked against the import schemas of their kinds (a bad file fails the first read, and the
tests read every one)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from offerengine.starters.schemas import (
    TemplateSetContents,
    TemplateSetFile,
    TemplateSetRead,
    TemplateSetSummary,
)


@cache
def template_sets() -> Mapping[str, TemplateSetFile]:
    """Every shipped set by name, in name order."""
    found: dict[str, TemplateSetFile] = {}
    folder = resources.files("offerengine.starters").joinpath("sets")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json"):
            continue
        parsed = TemplateSetFile.model_validate(json.loads(entry.read_text("utf-8")))
        if f"{parsed.name}.json" != entry.name:
            raise ValueError(f"{entry.name} holds the set {parsed.name!r}")
        found[parsed.name] = parsed
    return MappingProxyType(found)


def names() -> list[str]:
    return list(template_sets())


def summary(found: TemplateSetFile) -> TemplateSetSummary:
    return TemplateSetSummary(
        name=found.name,
        title=found.title,
        description=found.description,
        tenant_kinds=list(found.tenant_kinds),
        currency=found.currency,
        contents=_contents(found),
    )


def full(found: TemplateSetFile) -> TemplateSetRead:
    def rows(items: list[Any]) -> list[dict[str, Any]]:
        return [i.model_dump(mode="json", exclude_none=True) for i in items]

    return TemplateSetRead(
        **summary(found).model_dump(),
        products=rows(found.products),
        bundles=rows(found.bundles),
        fare_family_sets=rows(found.fare_family_sets),
    )


def _contents(found: TemplateSetFile) -> TemplateSetContents:
    return TemplateSetContents(
        products=len(found.products),
        bundles=len(found.bundles),
        fare_family_sets=len(found.fare_family_sets),
        bundle_types=sorted({b.bundle_type for b in found.bundles}),
        partners=sorted({p.partner_name for p in found.products if p.partner_name}),
    )
