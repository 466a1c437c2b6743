from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from offerengine.catalog import core


def given_product(**fields: Any) -> core.ProductInput:
    values: dict[str, Any] = {
        "product_type": "SEAT",
        "product_code": "S1",
        "name": "Seat",
        "description": None,
        "category": None,
        "base_price": Decimal("30.00"),
        "base_price_nuc": None,
        "currency": None,
        "cost": None,
        "attributes": {},
        "is_active": True,
    }
    values.update(fields)
    return core.ProductInput(**values)


def test_a_price_without_currency_takes_the_tenants_currency() -> None:
    values = core.normalize(given_product(), default_currency="EUR")
    assert isinstance(values, core.ProductValues)
    assert (values.base_price_minor, values.currency) == (3000, "EUR")


def test_base_price_nuc_is_minor_units_of_nuc() -> None:
    values = core.normalize(
        given_product(base_price=None, base_price_nuc=3000), default_currency="USD"
    )
    assert isinstance(values, core.ProductValues)
    assert (values.base_price_minor, values.currency) == (3000, "NUC")


def test_money_errors_name_the_field_under_the_given_location() -> None:
    errors = core.normalize(
        given_product(base_price=Decimal("1.005"), cost=Decimal("0.001")),
        default_currency="USD",
        loc=("products", 3),
    )
    assert isinstance(errors, list)
    assert [e.loc for e in errors] == [("products", 3, "base_price"), ("products", 3, "cost")]
    unknown = core.normalize(given_product(currency="QQQ"), default_currency="USD")
    assert isinstance(unknown, list)
    assert unknown[0].loc == ("body", "currency")
    clash = core.normalize(
        given_product(base_price=None, base_price_nuc=1, currency="USD"), default_currency="USD"
    )
    assert isinstance(clash, list)


def test_oversized_metadata_is_refused() -> None:
    errors = core.normalize(
        given_product(attributes={"blob": "x" * 70_000}), default_currency="USD"
    )
    assert isinstance(errors, list)
    assert errors[0].loc == ("body", "metadata")


def facts(
    code: str, product_type: str = "SEAT", category: str | None = None, active: bool = True
) -> core.ProductFacts:
    return core.ProductFacts(
        id=uuid.uuid4(),
        product_code=code,
        product_type=product_type,
        category=category,
        name=code,
        description=None,
        base_price=Decimal("10.00"),
        currency="USD",
        cost=Decimal("2.00"),
        attributes={"k": 1},
        is_active=active,
        version=1,
    )


def test_the_catalog_index_holds_active_products_by_code_type_and_category() -> None:
    index = core.CatalogIndex.build(
        [
            facts("B", "BAG"),
            facts("A", "SEAT", "PREMIUM"),
            facts("C", "SEAT", "STANDARD"),
            facts("Z", active=False),
        ]
    )
    assert list(index.by_code) == ["A", "B", "C"]
    assert [p.product_code for p in index.select(product_type="SEAT")] == ["A", "C"]
    assert [p.product_code for p in index.select(category="PREMIUM")] == ["A"]
    assert index.select(product_type="WIFI") == []
    listed = msgspec.json.decode(index.encode_list(index.select(product_type="SEAT")))
    assert [p["product_code"] for p in listed["items"]] == ["A", "C"]
    assert "cost" not in listed["items"][0]


printable = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=30
)


@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "product_type": st.sampled_from(["SEAT", "BAG", "MEAL"]),
                "product_code": st.from_regex(r"[A-Z][A-Z0-9-]{0,10}", fullmatch=True),
                "name": printable,
                "description": st.none() | printable,
                "category": st.none() | printable,
                "base_price": st.decimals(min_value=0, max_value=10**6, places=2).map(str),
                "currency": st.sampled_from(["USD", "EUR"]),
                "cost": st.none() | st.decimals(min_value=0, max_value=10**6, places=2).map(str),
                "metadata": st.dictionaries(printable, st.integers() | printable, max_size=3),
                "is_active": st.booleans(),
            }
        ),
        max_size=5,
    )
)
def test_csv_export_reads_back_as_the_same_rows(rows: list[dict[str, Any]]) -> None:
    read, problems = core.read_csv(core.write_csv(rows))
    assert problems == []
    expected = [
        {k: v for k, v in row.items() if v not in (None, "") and k != "is_active"}
        | {"is_active": "true" if row["is_active"] else "false"}
        for row in rows
    ]
    for row in expected:
        if not row["metadata"]:
            row["metadata"] = {}
    assert read == expected


def test_csv_problems_point_at_rows_and_header() -> None:
    _, header = core.read_csv("sku,name\nA,B\n")
    assert header[0].loc == ("body", "header")
    rows, problems = core.read_csv(
        "product_type,product_code,name,metadata\nBAG,B,Bag,{x}\nBAG,C,Bag,,extra\n"
    )
    assert [p.loc for p in problems] == [("products", 0, "metadata"), ("products", 1)]
    assert rows[0] == {"product_type": "BAG", "product_code": "B", "name": "Bag"}
