"""Every configuration kind declared into the generic machinery (versioning.kinds) gets the
standard routes from versioning.kind_routes: paths, operation ids and status codes."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter, FastAPI

from offerengine.bundles import service as bundles
from offerengine.commerce import service as commerce
from offerengine.decisioning import service as decisioning
from offerengine.pricing import service as pricing
from offerengine.versioning.kind_routes import add_kind_routes
from offerengine.versioning.kinds import ConfigKind

KINDS: list[ConfigKind[Any]] = [
    *decisioning.KINDS.values(),
    commerce.RATE_KIND,
    commerce.FEE_RULE_KIND,
    commerce.COUPON_KIND,
    pricing.RULE_KIND,
    bundles.BUNDLE_KIND,
]


def _operations(kind: ConfigKind[Any]) -> dict[tuple[str, str], tuple[str, set[str]]]:
    app, api = FastAPI(), APIRouter()
    add_kind_routes(api, kind)
    app.include_router(api)
    return {
        (path, method): (op["operationId"], set(op["responses"]))
        for path, item in app.openapi()["paths"].items()
        for method, op in item.items()
    }


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_a_kind_gets_the_standard_routes(kind: ConfigKind[Any]) -> None:
    collection = f"/v1/admin/tenants/{{tenant}}/{kind.path}"
    item = f"/v1/admin/{kind.path}/{{id}}"
    one, many = kind.operation, kind.plural_operation
    expected = {
        (collection, "get"): (f"list{many}", "200"),
        (collection, "post"): (f"create{one}", "201"),
        (item, "get"): (f"get{one}", "200"),
        (item, "put"): (f"update{one}", "200"),
        (item, "delete"): (f"delete{one}", "204"),
        (f"{item}/versions", "get"): (f"list{one}Versions", "200"),
        (f"{item}/versions/{{version}}", "get"): (f"get{one}Version", "200"),
        (f"{item}/rollback", "post"): (f"rollback{one}", "200"),
    }
    if kind.transfer is not None:
        expected[(f"{collection}/export", "get")] = (f"export{many}", "200")
        expected[(f"{collection}/import", "post")] = (f"import{many}", "200")
    found = _operations(kind)
    assert set(found) == set(expected)
    for key, (operation_id, status) in expected.items():
        assert found[key][0] == operation_id
        assert status in found[key][1]


def test_the_kinds_have_distinct_names_paths_and_operations() -> None:
    for attribute in ("name", "path", "operation"):
        values = [getattr(kind, attribute) for kind in KINDS]
        assert len(values) == len(set(values)), attribute
