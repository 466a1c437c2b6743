"""Every configuration kind declared into the generic machinery (versioning.kinds, and the
one-per-tenant documents of versioning.documents) gets the standard routes from
versioning.kind_routes: paths, operation ids and status codes."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter, FastAPI

from offerengine.bundles import service as bundles
from offerengine.catalog import service as catalog
from offerengine.commerce import service as commerce
from offerengine.decisioning import service as decisioning
from offerengine.experiments import service as experiments
from offerengine.flags import service as flags
from offerengine.inventory import rules as inventory_rules
from offerengine.loyalty import service as loyalty
from offerengine.pricing import service as pricing
from offerengine.profiles import segments
from offerengine.promotions import service as promotions
from offerengine.revenue import service as revenue
from offerengine.shopping import config as shopping
from offerengine.versioning.documents import DocumentKind
from offerengine.versioning.editing import Editing
from offerengine.versioning.kind_routes import add_kind_routes
from offerengine.versioning.kinds import ConfigKind

KINDS: list[ConfigKind[Any]] = [
    *decisioning.KINDS.values(),
    commerce.RATE_KIND,
    commerce.FEE_RULE_KIND,
    commerce.COUPON_KIND,
    pricing.RULE_KIND,
    catalog.PRODUCT_KIND,
    bundles.BUNDLE_KIND,
    inventory_rules.INVENTORY_RULE_KIND,
    flags.FEATURE_FLAG_KIND,
    experiments.EXPERIMENT_KIND,
    revenue.FARE_FAMILY_SET_KIND,
    loyalty.PROGRAMME_KIND,
]
DOCUMENTS: list[DocumentKind[Any]] = [
    shopping.OFFER_RULES,
    shopping.FARE_SETTINGS,
    shopping.CONNECTION_RULES,
    segments.SEGMENTS,
    promotions.PROMOTIONS,
]


def _operations(
    kind: ConfigKind[Any] | DocumentKind[Any],
) -> dict[tuple[str, str], tuple[str, set[str]]]:
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
        (f"{item}/versions", "get"): (f"list{one}Versions", "200"),
        (f"{item}/versions/{{version}}", "get"): (f"get{one}Version", "200"),
        (f"{item}/rollback", "post"): (f"rollback{one}", "200"),
    }
    if kind.delete is not None:
        expected[(item, "delete")] = (f"delete{one}", "204")
    for action in kind.actions:
        expected[(f"{item}/{action.name}", "post")] = (f"{action.name}{one}", "200")
    if kind.transfer is not None:
        expected[(f"{collection}/export", "get")] = (f"export{many}", "200")
        expected[(f"{collection}/import", "post")] = (f"import{many}", "200")
    found = _operations(kind)
    assert set(found) == set(expected)
    for key, (operation_id, status) in expected.items():
        assert found[key][0] == operation_id
        assert status in found[key][1]


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_a_kinds_edits_and_history_are_the_generic_ones(kind: ConfigKind[Any]) -> None:
    """Create, update, delete and rollback of every kind are one Editing's steps, not a copy."""
    editing = getattr(kind.create, "__self__", None)
    assert isinstance(editing, Editing)
    assert kind.create == editing.create
    assert kind.update == editing.update
    assert kind.delete == (editing.delete if kind.delete is not None else None)
    assert kind.history is editing.history
    assert kind.history.restore == editing.restore
    assert editing.name == kind.name


def test_experiments_are_started_and_stopped_but_not_deleted() -> None:
    found = _operations(experiments.EXPERIMENT_KIND)
    assert ("/v1/admin/experiments/{id}", "delete") not in found
    assert found[("/v1/admin/experiments/{id}/stop", "post")][0] == "stopExperiment"


@pytest.mark.parametrize("kind", DOCUMENTS, ids=lambda k: k.kind)
def test_a_document_kind_is_read_and_replaced_where_its_tenant_is(kind: DocumentKind[Any]) -> None:
    collection = f"/v1/admin/tenants/{{tenant}}/{kind.path}"
    item = f"/v1/admin/{kind.path}/{{id}}"
    one = kind.operation
    expected = {
        (collection, "get"): f"get{one}",
        (collection, "put"): f"put{one}",
        (f"{item}/versions", "get"): f"list{one}Versions",
        (f"{item}/versions/{{version}}", "get"): f"get{one}Version",
        (f"{item}/rollback", "post"): f"rollback{one}",
    }
    found = _operations(kind)
    assert {key: operation_id for key, (operation_id, _) in found.items()} == expected


def test_the_kinds_have_distinct_names_paths_and_operations() -> None:
    kinds: list[ConfigKind[Any] | DocumentKind[Any]] = [*KINDS, *DOCUMENTS]
    for attribute in ("name", "path", "operation"):
        values = [getattr(kind, attribute) for kind in kinds]
        assert len(values) == len(set(values)), attribute
