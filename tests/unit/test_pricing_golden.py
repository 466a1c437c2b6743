"""Golden pricing cases: tests/data/pricing/*.json, facts in → price and trace out, pinned clock.

Each case is run through the pure engine exactly as the snapshot and simulate use it.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from offerengine import money
from offerengine.catalog.core import ProductFacts
from offerengine.pricing import core
from offerengine.rules.facts import read_facts
from offerengine.rules.vocabulary import PRICING

CASES = sorted((Path(__file__).parents[1] / "data" / "pricing").glob("*.json"))
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


def _product(spec: dict[str, Any]) -> ProductFacts:
    def amount(key: str) -> Decimal | None:
        return Decimal(spec[key]) if spec.get(key) is not None else None

    return ProductFacts(
        id=uuid.uuid5(uuid.NAMESPACE_URL, "product"),
        product_code="P",
        product_type=spec["product_type"],
        category=spec.get("category"),
        name="P",
        description=None,
        base_price=Decimal(spec["base_price"]),
        currency=spec["currency"],
        cost=None,
        attributes={},
        is_active=True,
        version=1,
        price_floor=amount("price_floor"),
        price_ceiling=amount("price_ceiling"),
    )


def _rules(specs: list[dict[str, Any]]) -> list[core.Rule]:
    return [
        core.compile_rule(
            id=uuid.uuid5(uuid.NAMESPACE_URL, spec["rule_name"]),
            name=spec["rule_name"],
            rule_type=spec["rule_type"],
            version=1,
            priority=spec.get("priority", 0),
            created_at=EPOCH + timedelta(seconds=index),
            conditions=spec.get("conditions", {}),
            adjustments=spec["adjustments"],
            exclusive=spec.get("exclusive", False),
            is_active=spec.get("is_active", True),
            valid_from=datetime.fromisoformat(spec["valid_from"])
            if spec.get("valid_from")
            else None,
            valid_until=datetime.fromisoformat(spec["valid_until"])
            if spec.get("valid_until")
            else None,
        )
        for index, spec in enumerate(specs)
    ]


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_golden_case(path: Path) -> None:
    case = json.loads(path.read_text(encoding="utf-8"))
    product = _product(case["product"])
    at = datetime.fromisoformat(case["at"])
    facts, errors = read_facts(case["facts"], PRICING, loc=("facts",), reserved=core.PRODUCT_FACTS)
    assert errors == []
    complete = core.situation_facts(facts, at=at, timezone=case.get("timezone", "UTC"))
    index = core.PricingIndex.build(_rules(case["rules"]), [product])
    result = core.price(product, index.rules_for(product, include_inactive=True), complete, at=at)

    def show(value: Decimal) -> str:
        return money.show(value, product.currency)

    expected = case["expected"]
    assert str(result.final_price) == expected["final_price"], case["description"]
    steps = [
        {
            "rule": s.rule_name,
            "price_before": show(s.price_before),
            "price_after": show(s.price_after),
        }
        | ({"multiplier": money.plain(s.multiplier)} if s.multiplier is not None else {})
        for s in result.steps
    ]
    # A case names the parts of each step it checks (a multiplier only where there is one).
    wanted = expected["steps"]
    assert [{k: s[k] for k in w} for s, w in zip(steps, wanted, strict=True)] == wanted
    assert [{"rule": s.rule_name, "reason": s.reason} for s in result.skipped] == expected[
        "skipped"
    ]
    assert [
        {"name": g.name, "price_before": show(g.price_before), "price_after": show(g.price_after)}
        for g in result.guard_rails
    ] == expected["guard_rails"]


def test_every_golden_case_is_found() -> None:
    assert len(CASES) >= 8
