"""Golden quote cases: tests/data/quotes/*.json, seed 002's test matrix, hand-computed.

Each case's configuration is checked and compiled exactly as the API saves it and the snapshot
compiles it (``service.body_of``, then the core's compilers); its request goes through the API's
schema; the quote is the pure core's, at the case's pinned time. A case lists:

* ``commission_rates``, ``fee_rules``, ``coupons``: API bodies, each with a ``ref`` (and, for the
  versions of one object, ``version`` and ``saved``, the time that version was saved);
* ``flags`` (evaluated flag values), ``usage`` (accepted uses of a coupon), ``settings``;
* ``expected``: the totals, the steps as ``[step, amount]``, the commission per component, which
  rate (ref and version) made each item's commission, the coupons applied and rejected (with a
  part of the reason), warnings (parts of them), or ``error`` for a refused basket.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from offerengine import money
from offerengine.commerce import core, quote_request, quoting, service
from offerengine.commerce import schemas as s
from offerengine.errors import Invalid

CASES = sorted((Path(__file__).parents[1] / "data" / "quotes").glob("*.json"))
SAVED = datetime(2024, 12, 1, tzinfo=UTC)


def _id(ref: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"quote-golden/{ref}")


def _compiled(
    spec: service.Spec[Any], given: dict[str, Any], currency: str
) -> tuple[Any, datetime]:
    fields = {k: v for k, v in given.items() if k not in ("ref", "version", "saved")}
    data = spec.schema_in.model_validate(fields)
    body, errors, _ = service.body_of(spec, data, base_currency=currency)
    assert errors == [], errors
    saved = datetime.fromisoformat(given["saved"]) if "saved" in given else SAVED
    return {**body, "id": str(_id(given["ref"])), "version": given.get("version", 1)}, saved


def index_of(case: dict[str, Any]) -> core.CommerceIndex:
    currency = case.get("tenant_currency", "TRY")
    rates = [
        core.rate_state(*_compiled(service.RATE, r, currency))
        for r in case.get("commission_rates", [])
    ]
    fees = [
        core.fee_state(*_compiled(service.FEE_RULE, f, currency)) for f in case.get("fee_rules", [])
    ]
    coupons = [
        core.coupon(_compiled(service.COUPON, c, currency)[0]) for c in case.get("coupons", [])
    ]
    settings = case.get("settings", {})
    return core.CommerceIndex(
        rates=rates,
        fees=fees,
        coupons=coupons,
        settings=core.QuoteSettings(**settings),
    )


def run(case: dict[str, Any]) -> core.Quote:
    index = index_of(case)
    request = quote_request.decode(json.dumps(case["request"]).encode())
    currency = request.currency or case.get("tenant_currency", "TRY")
    usage = {_id(code): core.Usage(**counts) for code, counts in case.get("usage", {}).items()}
    return core.quote(
        index,
        quoting.basket(request, currency),
        at=datetime.fromisoformat(case["at"]),
        flags=case.get("flags", {}),
        usage=usage,
    )


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_golden_quote(path: Path) -> None:
    case = json.loads(path.read_text(encoding="utf-8"))
    expected = case["expected"]
    if "error" in expected:
        with pytest.raises(Invalid) as refused:
            run(case)
        error = refused.value.errors[0]
        assert list(error.loc) == expected["error"]["loc"], case["description"]
        assert expected["error"]["msg"] in error.msg
        return
    result = run(case)
    totals = {
        "item_total": result.item_total,
        "discount_amount": result.discount_amount,
        "subtotal": result.subtotal,
        "tax_amount": result.tax_amount,
        "delivery_fee": result.delivery_fee,
        "small_basket_fee": result.small_basket_fee,
        "total_amount": result.total_amount,
    }
    assert {k: str(v) for k, v in totals.items() if k in expected["totals"]} == expected[
        "totals"
    ], case["description"]
    assert [[step.step, str(step.amount)] for step in result.steps] == expected["steps"]
    assert sum(step.amount for step in result.steps) == result.total_amount
    if "commission" in expected:
        got = {c: str(result.commission(c)) for c in core.COMPONENTS}
        got["total"] = str(result.commission())
        assert got == expected["commission"], case["description"]
    if "rates" in expected:
        refs = {_id(r["ref"]): r["ref"] for r in case.get("commission_rates", [])}
        made = [
            [line.index, part.component, refs[part.rate.id], part.rate.version, str(part.amount)]
            for line in result.lines
            for part in line.commissions
        ]
        assert made == expected["rates"], case["description"]
    if "coupons" in expected:
        assert [o.code for o in result.coupons if o.applied] == expected["coupons"]["applied"]
        rejected = {o.code: o.reason for o in result.coupons if not o.applied}
        assert set(rejected) == set(expected["coupons"].get("rejected", {}))
        for code, part in expected["coupons"].get("rejected", {}).items():
            assert part in (rejected[code] or ""), (code, rejected[code])
    if "lines" in expected:
        assert [
            [money.show(v, result.currency) for v in (line.value, line.discount, line.tax)]
            for line in result.lines
        ] == expected["lines"]
    for part in expected.get("warnings", []):
        assert any(part in w for w in result.warnings), (part, result.warnings)
    if "warnings" in expected and not expected["warnings"]:
        assert result.warnings == []


def test_the_golden_cases_cover_seed_002s_test_matrix() -> None:
    kinds = {json.loads(p.read_text(encoding="utf-8"))["matrix"] for p in CASES}
    assert {
        "commission: category only",
        "commission: seller only",
        "commission: logistics only",
        "commission: category + seller",
        "commission: category + logistics",
        "commission: seller + logistics",
        "commission: all three",
        "commission: regional",
        "delivery: standard",
        "delivery: express",
        "delivery: distance",
        "delivery: regional",
        "delivery: small basket",
        "delivery: free delivery",
        "dates: current",
        "dates: future",
        "dates: expired",
        "dates: overlapping",
        "dates: version precedence",
        "regional: city",
        "regional: country",
        "regional: fallback",
    } <= kinds


def test_a_case_names_every_schema_it_uses() -> None:
    # The golden bodies are API bodies: a typo in a case is an error, not a silent default.
    for path in CASES:
        case = json.loads(path.read_text(encoding="utf-8"))
        for fee in case.get("fee_rules", []):
            s.CONFIGURATIONS[fee["type"]].model_validate(fee["configuration"])
