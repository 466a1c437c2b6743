"""Commission resolution against a scan of every rate: the index's keyed look-ups (only the
dimension shapes some rate has) choose the rate the documented order chooses."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from offerengine.commerce import core, service
from offerengine.commerce.core import _commission

AT = datetime(2026, 6, 1, tzinfo=UTC)
SELLERS = ["s1", "s2"]
CATEGORIES = ["electronics", "food"]
PROVIDERS = ["yk", "aras"]
REGIONS = ["Istanbul", "TR", "Berlin"]  # a city, a country, another city
FLAGS = ["beta"]


def _maybe(values: list[str]) -> st.SearchStrategy[str | None]:
    return st.one_of(st.none(), st.sampled_from(values))


rate_fields = st.fixed_dictionaries(
    {
        "seller_id": _maybe(SELLERS),
        "category": _maybe(CATEGORIES),
        "logistics_provider": _maybe(PROVIDERS),
        "region": _maybe(REGIONS),
        "component": _maybe(["seller", "category", "logistics"]),
        "priority": st.integers(0, 2),
        "flag": _maybe(FLAGS),
        "version": st.integers(1, 3),
        "age_days": st.integers(0, 3),
    }
)


def _state(n: int, fields: dict[str, Any]) -> core.RateState:
    given_fields = {
        k: v for k, v in fields.items() if v is not None and k not in ("version", "age_days")
    }
    data = service.RATE.schema_in.model_validate(
        {"currency": "TRY", "commission_type": "PERCENTAGE", "rate": "5", **given_fields}
    )
    body, errors, _ = service.body_of(service.RATE, data, base_currency="TRY")
    assert errors == []
    return core.rate_state(
        {**body, "id": str(uuid.UUID(int=n + 1)), "version": fields["version"]},
        AT - timedelta(days=fields["age_days"]),
    )


def _scan(
    rates: list[core.RateState],
    component: str,
    item: tuple[str | None, str | None, str | None],
    city: str,
    country: str,
    flags: dict[str, Any],
) -> core.RateState | None:
    """The documented order, by brute force: the rates whose set dimensions all match; the
    highest priority, then more dimensions set, then seller, category, logistics and region (a
    city before a country), then the newest."""
    seller, category, logistics = item
    best: tuple[Any, ...] | None = None
    chosen = None
    for r in rates:
        if r.component != component or (r.flag is not None and not flags.get(r.flag)):
            continue
        if r.seller_id is not None and r.seller_id != seller:
            continue
        if r.category is not None and r.category != category:
            continue
        if r.logistics_provider is not None and r.logistics_provider != logistics:
            continue
        if r.region is not None and r.region not in (city, country):
            continue
        level = 0 if r.region is None else 2 if r.region == city else 1
        rank = (
            r.priority,
            r.dimensions,
            r.seller_id is not None,
            r.category is not None,
            r.logistics_provider is not None,
            level,
            r.changed_at,
            r.version,
            str(r.id),
        )
        if best is None or rank > best:
            best, chosen = rank, r
    return chosen


@settings(max_examples=300, deadline=None)
@given(
    fields=st.lists(rate_fields, max_size=14),
    seller=_maybe(SELLERS),
    category=_maybe(CATEGORIES),
    logistics=_maybe(PROVIDERS),
    destination=st.sampled_from([("istanbul", "tr"), ("berlin", "de"), ("ankara", "tr")]),
    beta=st.booleans(),
)
def test_resolution_is_the_scans_choice(
    fields: list[dict[str, Any]],
    seller: str | None,
    category: str | None,
    logistics: str | None,
    destination: tuple[str, str],
    beta: bool,
) -> None:
    rates = [_state(n, f) for n, f in enumerate(fields)]
    in_force = core.CommerceIndex(rates=rates).at(AT)
    city, country = destination
    flags = {"beta": beta}
    item = (core.key(seller), core.key(category), core.key(logistics))
    found = dict(
        _commission.resolve(
            in_force,
            currency="TRY",
            seller=item[0],
            category=item[1],
            logistics=item[2],
            city=city,
            country=country,
            flags=flags,
            signature=(beta,),
        )
    )
    for component in core.COMPONENTS:
        expected = _scan(rates, component, item, city, country, flags)
        assert found.get(component) is expected, (component, found.get(component), expected)
