from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offerengine import money


def test_currencies_have_their_iso_minor_units() -> None:
    assert money.currency("USD").minor_units == 2
    assert money.currency("JPY").minor_units == 0
    assert money.currency("KWD").minor_units == 3
    assert money.currency("TRY").name == "Turkish Lira"


def test_nuc_is_a_filing_unit_never_a_selling_currency() -> None:
    with pytest.raises(money.UnknownCurrency):
        money.currency("NUC")
    assert money.currency("NUC", allow_filing=True).filing_only
    assert "NUC" not in money.currency_codes()
    assert "NUC" in money.currency_codes(allow_filing=True)


@pytest.mark.parametrize("code", ["XAU", "XXX", "ABC", "usd", ""])
def test_codes_without_minor_units_or_unknown_are_refused(code: str) -> None:
    with pytest.raises(money.UnknownCurrency):
        money.currency(code)


def test_amounts_convert_to_minor_units_exactly() -> None:
    assert money.to_minor(Decimal("30.00"), "USD") == 3000
    assert money.to_minor(Decimal("30.1"), "USD") == 3010
    assert money.to_minor(Decimal("1E+2"), "USD") == 10000
    assert money.to_minor(Decimal("1200"), "JPY") == 1200
    assert money.to_minor(Decimal("1.234"), "KWD") == 1234
    assert str(money.from_minor(3000, "USD")) == "30.00"
    assert str(money.from_minor(5, "JPY")) == "5"
    assert str(money.from_minor(-150, "EUR")) == "-1.50"


@pytest.mark.parametrize(("amount", "code"), [("30.001", "USD"), ("0.5", "JPY"), ("1.2345", "KWD")])
def test_more_decimals_than_the_currency_has_is_an_error_not_a_rounding(
    amount: str, code: str
) -> None:
    with pytest.raises(ValueError, match="decimal places"):
        money.to_minor(Decimal(amount), code)


def test_non_finite_and_huge_amounts_are_refused() -> None:
    for bad in (Decimal("NaN"), Decimal("Infinity")):
        with pytest.raises(ValueError, match="finite"):
            money.to_minor(bad, "USD")
    with pytest.raises(ValueError, match="too large"):
        money.to_minor(Decimal("1E+20"), "USD")


def test_computed_amounts_round_once_half_up() -> None:
    assert money.quantize(Decimal("2.345"), "USD") == Decimal("2.35")
    assert money.quantize(Decimal("2.344999"), "USD") == Decimal("2.34")
    assert money.quantize(Decimal("-2.345"), "USD") == Decimal("-2.35")
    assert money.quantize(Decimal("1234.5"), "JPY") == Decimal("1235")


@given(
    st.integers(min_value=-(10**14), max_value=10**14),
    st.sampled_from(["USD", "JPY", "KWD", "TRY", "NUC"]),
)
def test_minor_units_round_trip_through_decimal_amounts(minor: int, code: str) -> None:
    amount = money.from_minor(minor, code)
    assert money.to_minor(amount, code) == minor
    assert money.format_amount(minor, code) == str(amount)
    # the decimal string always shows the currency's decimals
    decimals = money.currency(code, allow_filing=True).minor_units
    assert (len(str(amount).split(".")[1]) if "." in str(amount) else 0) == decimals


@given(st.decimals(min_value=-(10**12), max_value=10**12, allow_nan=False, places=6))
def test_quantize_never_moves_an_amount_by_half_a_minor_unit_or_more(amount: Decimal) -> None:
    rounded = money.quantize(amount, "USD")
    assert abs(rounded - amount) <= Decimal("0.005")
    assert money.to_minor(rounded, "USD") == int(rounded * 100)


@given(
    st.one_of(
        st.decimals(allow_nan=True, allow_infinity=True),
        st.decimals(min_value=-(10**16), max_value=10**16, places=4),
        st.integers(-(10**16), 10**16).map(lambda n: Decimal(n).scaleb(-2)),
        st.sampled_from([Decimal("9999999999999.99"), Decimal("10000000000000.00"),
                         Decimal("25.500"), Decimal("25.505"), Decimal("-0.00"), Decimal("1E+3")]),
    ),
    st.sampled_from(["USD", "JPY", "KWD", "TRY", "NUC"]),
)  # fmt: skip
def test_exact_says_whether_to_minor_takes_an_amount(amount: Decimal, code: str) -> None:
    # A quote checks every price with exact(); to_minor's error then says what is wrong.
    try:
        money.to_minor(amount, code)
    except ValueError:
        takes = False
    else:
        takes = True
    assert money.exact(code)(amount) is takes
