"""The marketplace's own screens: the quote builder turns its rows into the quote request and
shows the explained result, or the API's errors against the row and field they name; the
commission rates, fee rules and coupons are tables whose items are edited based on their
version, with the API's field errors inline and a stale version refused as a conflict."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from offerengine.settings import Settings
from offerengine.web.pages.layout import NAV, current_menu
from offerengine.web.pages.quote_builder import Builder, input_errors, request_of
from tests.e2e._admin import demo_with_people, logged_in


@pytest.fixture(scope="module")
def demo_settings(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return demo_with_people(
        sqlite_template,
        tmp_path_factory.mktemp("marketplace"),
        [("MKT", "own@mkt.example", "owner"), ("MKT", "see@mkt.example", "viewer")],
    )


@pytest.fixture
def owner(demo_settings: Settings):  # type: ignore[no-untyped-def]
    client = logged_in(demo_settings, "own@mkt.example")
    yield client
    client.__exit__(None, None, None)


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    return found.group(1)


def _basket(token: str, rows: list[dict[str, str]], **fields: str) -> dict[str, str]:
    form = {
        "csrf_token": token,
        "seller_id": "seller-techstore",
        "customer_id": "cust-7",
        "currency": "TRY",
        "delivery_city": "Istanbul",
        "delivery_country": "TR",
        "coupon_codes": "",
        "action": "quote",
        **fields,
    }
    for n, row in enumerate(rows):
        for name in ("product_id", "category_id", "seller_id", "quantity", "unit_price"):
            form[f"items-{n}-{name}"] = row.get(name, "")
    return form


def _input(page: str, name: str) -> str:
    """The tag of the input named ``name``."""
    found = re.search(rf'<input[^>]*name="{re.escape(name)}"[^>]*>', page, re.S)
    assert found, name
    return found.group(0)


def _error(page: str, input_id: str) -> str:
    found = re.search(rf'<small id="{re.escape(input_id)}-error"[^>]*>([^<]*)</small>', page)
    assert found, input_id
    return html.unescape(found.group(1))


# --- the quote builder -----------------------------------------------------------------------------


def test_rows_make_the_quote_request() -> None:
    builder = Builder(
        fields={
            "seller_id": "s1",
            "customer_id": "",
            "currency": "TRY",
            "delivery_city": "Istanbul",
            "delivery_country": "TR",
            "delivery_latitude": "41.1",
            "delivery_longitude": "29",
            "coupon_codes": "SAVE20, welcome  X",
        },
        rows=[
            {"product_id": "A", "category_id": "books", "seller_id": "", "quantity": "2",
             "unit_price": "10.50"},
            dict.fromkeys(("product_id", "category_id", "seller_id", "quantity", "unit_price"), ""),
            {"product_id": "B", "category_id": "", "seller_id": "s2", "quantity": "two",
             "unit_price": "3"},
        ],
        express=True,
    )  # fmt: skip
    document, rows = request_of(builder)
    assert document == {
        "seller_id": "s1",
        "currency": "TRY",
        "items": [
            {"product_id": "A", "category_id": "books", "quantity": 2, "unit_price": "10.50"},
            {"product_id": "B", "seller_id": "s2", "quantity": "two", "unit_price": "3"},
        ],
        "delivery_address": {
            "city": "Istanbul",
            "country": "TR",
            "latitude": 41.1,
            "longitude": 29.0,
        },
        "is_express_delivery": True,
        "coupon_codes": ["SAVE20", "welcome", "X"],
    }
    assert rows == [0, 2]  # the empty row is not sent: item 1 is the third row
    assert input_errors(
        {"items.1.quantity": "bad", "delivery_address.country": "two letters", "x": "y"}, rows
    ) == {"items-2-quantity": "bad", "delivery_country": "two letters", "": "x: y"}


def test_the_builder_quotes_two_rows_and_a_coupon_and_explains_the_result(
    owner: TestClient,
) -> None:
    page = owner.get("/admin/quote")
    assert page.status_code == 200
    assert 'name="items-0-product_id"' in page.text
    assert 'data-type="json-body"' not in page.text
    assert 'for="q-items-0-quantity"' in page.text  # every input has its label
    rows = [
        {"product_id": "ELEC-PHONE-CASE", "category_id": "electronics", "quantity": "2",
         "unit_price": "149.90"},
        {"product_id": "BOOK-1", "category_id": "books", "quantity": "1", "unit_price": "80.00"},
    ]  # fmt: skip
    done = owner.post("/admin/quote", data=_basket(_csrf(page.text), rows, coupon_codes="SAVE20"))
    assert done.status_code == 200, done.text[:2000]
    text = done.text
    sent = json.loads(
        html.unescape(
            re.search(r'<pre class="code" id="quote-request">(.*?)</pre>', text, re.S).group(1)
        )  # type: ignore[union-attr]
    )
    assert sent["items"] == [
        {"product_id": "ELEC-PHONE-CASE", "category_id": "electronics", "quantity": 2,
         "unit_price": "149.90"},
        {"product_id": "BOOK-1", "category_id": "books", "quantity": 1, "unit_price": "80.00"},
    ]  # fmt: skip
    assert sent["coupon_codes"] == ["SAVE20"]
    # The explained result: the total, the steps with running totals, the commission.
    full = json.loads(html.unescape(re.findall(r'<pre class="code">(.*?)</pre>', text, re.S)[-1]))
    assert re.search(rf"<h2>Total {re.escape(full['total_amount'])} TRY", text)
    assert "How the total is made" in text
    for step in full["pricing_breakdown"]["calculations"]:
        assert f"<td>{html.escape(step['running_total'])}</td>" in text
    assert f"Commission {full['commission_breakdown']['total_commission']} TRY" in text
    assert [i["product_id"] for i in full["items"]] == ["ELEC-PHONE-CASE", "BOOK-1"]
    applied = full["coupons"]["applied"]
    assert [c["code"] for c in applied] == ["SAVE20"]
    assert f"<td>SAVE20</td><td>applied: {html.escape(applied[0]['description'])}" in text
    # the rows stay as typed, to change and quote again
    assert 'value="BOOK-1"' in _input(text, "items-1-product_id")


def test_a_bad_row_shows_the_apis_error_against_that_row(owner: TestClient) -> None:
    page = owner.get("/admin/quote")
    rows = [
        {"product_id": "A", "quantity": "1", "unit_price": "10"},
        {},  # an empty row: not sent
        {"product_id": "B", "quantity": "0", "unit_price": "10"},
    ]
    done = owner.post("/admin/quote", data=_basket(_csrf(page.text), rows))
    assert done.status_code == 422, done.text[:2000]
    assert "at least 1" in _error(done.text, "q-items-2-quantity")
    assert 'aria-invalid="true"' in _input(done.text, "items-2-quantity")
    assert "aria-invalid" not in _input(done.text, "items-0-quantity")
    assert _error(done.text, "q-items-0-quantity") == ""
    bad_price = owner.post(
        "/admin/quote",
        data=_basket(_csrf(page.text), [{"product_id": "A", "quantity": "1", "unit_price": "x"}]),
    )
    assert bad_price.status_code == 422
    assert _error(bad_price.text, "q-items-0-unit_price")
    country = owner.post(
        "/admin/quote",
        data=_basket(_csrf(page.text), [rows[0]], delivery_country="Turkey"),
    )
    assert country.status_code == 422
    assert _error(country.text, "q-delivery_country")


def test_rows_are_added_and_removed_without_script(owner: TestClient) -> None:
    page = owner.get("/admin/quote")
    rows = [{"product_id": "A", "quantity": "1", "unit_price": "1"},
            {"product_id": "B", "quantity": "1", "unit_price": "1"}]  # fmt: skip
    added = owner.post("/admin/quote", data=_basket(_csrf(page.text), rows, action="add"))
    assert 'name="items-2-product_id"' in added.text
    assert "<h2>Total" not in added.text
    removed = owner.post("/admin/quote", data=_basket(_csrf(page.text), rows, action="remove-0"))
    assert 'value="B"' in _input(removed.text, "items-0-product_id")
    assert 'name="items-1-product_id"' not in removed.text


def test_the_builder_refuses_a_post_without_the_sessions_token(owner: TestClient) -> None:
    done = owner.post("/admin/quote", data=_basket("forged", [{"product_id": "A"}]))
    assert done.status_code == 422
    assert "csrf_token" in done.text


# --- commission rates, fee rules and coupons -------------------------------------------------------

KINDS = ("commission-rates", "fee-rules", "coupons")


def _first_item(client: TestClient, slug: str) -> tuple[str, str]:
    page = client.get(f"/admin/marketplace/{slug}")
    assert page.status_code == 200, page.text[:1000]
    found = re.search(rf'href="/admin/marketplace/{slug}/([0-9a-f-]{{36}})"', page.text)
    assert found, slug
    return found.group(1), page.text


@pytest.mark.parametrize("slug", KINDS)
def test_the_tables_render_with_headers_and_the_menu_leads_to_them(
    owner: TestClient, slug: str
) -> None:
    item_id, text = _first_item(owner, slug)
    assert '<th scope="col">Scope</th>' in text
    assert '<th scope="col">In force</th>' in text
    assert '<th scope="row">' in text
    assert re.search(r'class="status status-(active|inactive|scheduled|ended)"', text)
    assert f"/admin/marketplace/{slug}" in {href for _, links in NAV for _, href in links}
    assert current_menu(f"/admin/{slug}/{item_id}") == ("Marketplace", f"/admin/marketplace/{slug}")
    editor = owner.get(f"/admin/marketplace/{slug}/{item_id}")
    assert editor.status_code == 200
    for label in re.findall(r'<input id="([^"]+)" name="(?!csrf)', editor.text):
        assert f'for="{label}"' in editor.text  # every control has its label
    assert owner.get(f"/admin/{slug}/{item_id}").status_code == 200  # the fallback stays


def test_a_commission_rate_is_saved_as_a_new_version_then_a_stale_edit_conflicts(
    owner: TestClient,
) -> None:
    item_id, _ = _first_item(owner, "commission-rates")
    before = owner.get(f"/v1/admin/commission-rates/{item_id}").json()
    editor = owner.get(f"/admin/marketplace/commission-rates/{item_id}")
    version = re.search(r'name="version" value="(\d+)"', editor.text).group(1)  # type: ignore[union-attr]
    assert int(version) == before["version"]
    form = _edit_form(editor.text)
    form["name"] = "Edited from the table"
    saved = owner.post(
        f"/admin/marketplace/commission-rates/{item_id}", data=form, follow_redirects=False
    )
    assert saved.status_code == 303, saved.text[:2000]
    after = owner.get(f"/v1/admin/commission-rates/{item_id}").json()
    assert after["version"] == before["version"] + 1
    assert after["name"] == "Edited from the table"
    assert after.get("tiers") == before.get("tiers")  # what the form leaves out is kept
    listing = owner.get(saved.headers["location"])
    assert f"Saved: commission rate version {after['version']}" in listing.text
    assert "Edited from the table" in listing.text
    # The same form again: based on the version before, someone else's save in between.
    form["name"] = "A stale edit"
    stale = owner.post(f"/admin/marketplace/commission-rates/{item_id}", data=form)
    assert stale.status_code == 409
    assert "since you opened it" in stale.text
    assert f"now version {after['version']}" in stale.text
    assert 'value="A stale edit"' in stale.text  # what she typed is still there
    assert (
        owner.get(f"/v1/admin/commission-rates/{item_id}").json()["name"] == "Edited from the table"
    )


def _edit_form(page: str) -> dict[str, str]:
    """The edit form's fields as the browser would post them."""
    form: dict[str, str] = {}
    for tag in re.findall(r"<input [^>]*>", page):
        name = re.search(r'name="([^"]+)"', tag)
        if not name:
            continue
        value = re.search(r'value="([^"]*)"', tag)
        if 'type="checkbox"' in tag:
            if " checked" in tag:
                form[name.group(1)] = "on"
            continue
        form[name.group(1)] = html.unescape(value.group(1)) if value else ""
    for select in re.finditer(r'<select [^>]*name="([^"]+)"[^>]*>(.*?)</select>', page, re.S):
        chosen = re.search(r'<option value="([^"]+)" selected', select.group(2))
        if chosen:
            form[select.group(1)] = chosen.group(1)
    return form


@pytest.mark.parametrize(
    ("slug", "field", "bad"),
    [
        ("commission-rates", "rate", "-5"),
        ("coupons", "usage_limit_total", "0"),
        ("fee-rules", "priority", "many"),
    ],
)
def test_the_apis_field_errors_are_shown_inline(
    owner: TestClient, slug: str, field: str, bad: str
) -> None:
    item_id, _ = _first_item(owner, slug)
    editor = owner.get(f"/admin/marketplace/{slug}/{item_id}")
    form = _edit_form(editor.text)
    form[field] = bad
    refused = owner.post(f"/admin/marketplace/{slug}/{item_id}", data=form)
    assert refused.status_code == 422, refused.text[:2000]
    assert _error(refused.text, f"m-{field}"), refused.text[:3000]
    assert 'aria-invalid="true"' in _input(refused.text, field)
    assert f'value="{bad}"' in _input(refused.text, field)


def test_a_coupons_rule_across_fields_is_shown_on_top(owner: TestClient) -> None:
    item_id, _ = _first_item(owner, "coupons")
    form = _edit_form(owner.get(f"/admin/marketplace/coupons/{item_id}").text)
    form.update(type="PERCENTAGE", value="150")
    refused = owner.post(f"/admin/marketplace/coupons/{item_id}", data=form)
    assert refused.status_code == 422
    assert "at most 100" in refused.text


def test_a_viewer_reads_the_tables_but_gets_no_save(demo_settings: Settings) -> None:
    client = logged_in(demo_settings, "see@mkt.example")
    try:
        item_id, text = _first_item(client, "coupons")
        assert "New coupon" not in text
        editor = client.get(f"/admin/marketplace/coupons/{item_id}")
        assert "Save version" not in editor.text
        refused = client.post(f"/admin/marketplace/coupons/{item_id}", data=_edit_form(editor.text))
        assert refused.status_code == 403
    finally:
        client.__exit__(None, None, None)


def test_an_edit_that_names_no_version_is_not_saved(owner: TestClient) -> None:
    item_id, _ = _first_item(owner, "fee-rules")
    before = owner.get(f"/v1/admin/fee-rules/{item_id}").json()
    form = _edit_form(owner.get(f"/admin/marketplace/fee-rules/{item_id}").text)
    form["version"] = ""
    form["name"] = "Unguarded"
    refused = owner.post(f"/admin/marketplace/fee-rules/{item_id}", data=form)
    assert refused.status_code == 422
    assert owner.get(f"/v1/admin/fee-rules/{item_id}").json()["version"] == before["version"]
