"""Loyalty's pure core: what orders earn, what points are worth, which lots a use takes from, when
points expire, and a tier's benefits as offer items."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from offerengine.loyalty import core

GOLD = core.Tier(
    "GOLD", "Gold", core.Benefits(free_bags=2, lounge=True, bonus_percentage=Decimal(50))
)
BLUE = core.Tier("BLUE", "Blue")
PROGRAMME = core.Programme(
    id=uuid.uuid4(),
    code="SKY",
    name="Skyway Miles",
    version=3,
    currency="USD",
    tiers=(BLUE, GOLD),
    earn_rules=(
        core.EarnRule(Decimal(5), product_type="FLIGHT"),
        core.EarnRule(Decimal(8), product_type="FLIGHT", fare_family="FLEX"),
        core.EarnRule(Decimal(12), product_type="FLIGHT", fare_family="FLEX", tier="GOLD"),
        core.EarnRule(Decimal(1)),
    ),
    point_values={"USD": Decimal("0.01"), "JPY": Decimal("1.3")},
    expiry_months=18,
)
AT = datetime(2026, 8, 31, 12, tzinfo=UTC)


def test_the_most_specific_matching_rule_earns_and_the_tier_adds_its_bonus() -> None:
    items = [
        core.EarnItem("FLIGHT", Decimal("199.99"), fare_family="FLEX", item_id="flight"),
        core.EarnItem("MEAL", Decimal("18.50"), item_id="meal"),
        core.EarnItem("BAGGAGE", Decimal("0"), item_id="bag"),
    ]
    gold = core.earn(PROGRAMME, "GOLD", items)
    # 199.99 × 12 = 2399.88 → 2399; 18.50 × 1 → 18; the bag earns nothing; Gold adds 50 %.
    assert [(line.points, line.rule) for line in gold.lines] == [(2399, 2), (18, 3), (0, 3)]
    assert (gold.base, gold.bonus, gold.points) == (2417, 1208, 3625)
    blue = core.earn(PROGRAMME, "BLUE", items)
    assert [line.rule for line in blue.lines] == [1, 3, 3]
    assert (blue.base, blue.bonus) == (1599 + 18, 0)  # 199.99 × 8 = 1599.92


def test_an_item_no_rule_matches_earns_nothing() -> None:
    strict = core.Programme(
        PROGRAMME.id, "S", "S", 1, "USD", (BLUE,), (core.EarnRule(Decimal(5), cabin="BUSINESS"),)
    )
    earned = core.earn(strict, "BLUE", [core.EarnItem("FLIGHT", Decimal(300), cabin="ECONOMY")])
    assert earned.points == 0
    assert earned.lines[0].rule is None


def test_points_are_worth_their_value_rounded_down_in_the_currencys_minor_units() -> None:
    assert core.worth_minor(5000, Decimal("0.01"), "USD") == 5000  # 50.00
    assert core.worth_minor(333, Decimal("0.015"), "USD") == 499  # 4.995 → 4.99
    assert core.worth_minor(7, Decimal("1.3"), "JPY") == 9  # 9.1 → 9 yen


def test_expiry_is_calendar_months_on_with_the_day_clamped() -> None:
    assert core.expiry(PROGRAMME, AT) == datetime(2028, 2, 29, 12, tzinfo=UTC)
    assert core.add_months(datetime(2026, 1, 31, tzinfo=UTC), 1).day == 28
    never = core.Programme(PROGRAMME.id, "N", "N", 1, "USD", (BLUE,))
    assert core.expiry(never, AT) is None


def test_a_use_takes_from_the_lots_expiring_first_and_never_expiring_last() -> None:
    soon, later, never = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    lots = [
        core.Lot(never, 100, None, AT - timedelta(days=900)),
        core.Lot(later, 100, AT + timedelta(days=60), AT - timedelta(days=10)),
        core.Lot(soon, 100, AT + timedelta(days=5), AT - timedelta(days=300)),
    ]
    assert core.take(lots, 150) == [(soon, 100), (later, 50)]
    assert core.take(lots, 500) == [(soon, 100), (later, 100), (never, 100)]
    assert core.expired(lots, AT + timedelta(days=5)) == [lots[2]]


lot_lists = st.lists(
    st.builds(
        core.Lot,
        st.uuids(),
        st.integers(0, 10_000),
        st.one_of(st.none(), st.datetimes(timezones=st.just(UTC))),
        st.datetimes(timezones=st.just(UTC)),
    ),
    max_size=12,
    unique_by=lambda lot: lot.id,
)


@given(lot_lists, st.integers(0, 200_000))
def test_a_use_never_takes_more_than_a_lot_holds_nor_more_than_asked(
    lots: list[core.Lot], points: int
) -> None:
    taken = core.take(lots, points)
    held = {lot.id: lot.remaining for lot in lots}
    assert all(0 < n <= held[lot_id] for lot_id, n in taken)
    assert len({lot_id for lot_id, _ in taken}) == len(taken)
    assert sum(n for _, n in taken) == min(points, sum(held.values()))


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["FLIGHT", "MEAL", "SEAT"]),
            st.decimals(min_value=0, max_value=100_000, places=2),
            st.sampled_from([None, "FLEX", "SAVER"]),
        ),
        max_size=8,
    ),
    st.sampled_from(["BLUE", "GOLD", "UNKNOWN"]),
)
def test_earning_is_whole_points_never_negative_and_the_bonus_its_share(
    rows: list[tuple[str, Decimal, str | None]], tier: str
) -> None:
    items = [core.EarnItem(t, a, fare_family=f) for t, a, f in rows]
    earned = core.earn(PROGRAMME, tier, items)
    assert earned.base == sum(line.points for line in earned.lines) >= 0
    pct = Decimal(50) if tier == "GOLD" else Decimal(0)
    assert earned.bonus == int(earned.base * pct / 100)


def test_a_tiers_benefits_are_items_priced_zero_for_each_seated_passenger() -> None:
    index = core.LoyaltyIndex((PROGRAMME,))
    items = index.benefits("GOLD", "EUR", (("ADULT", 2), ("CHILD", 1), ("INFANT", 1)))
    assert [i["item_id"] for i in items] == ["benefit-free-bags", "benefit-lounge"]
    bags = items[0]
    assert bags["passengers"] == [
        {"type": "ADULT", "count": 4, "unit_price": "0.00"},
        {"type": "CHILD", "count": 2, "unit_price": "0.00"},
    ]
    assert bags["price"]["total"] == "0.00"
    assert bags["benefit"]["explanation"] == (
        "2 free checked bags per passenger: a Gold benefit of Skyway Miles"
    )
    assert index.benefits("BLUE", "USD", (("ADULT", 1),)) == []
    assert index.benefits(None, "USD", (("ADULT", 1),)) == []
    assert index.benefits("GOLD", "JPY", (("ADULT", 1),))[0]["price"]["total"] == "0"
