"""Bulk files without a database: every format reads back what the export wrote, bad rows are
counted and the first hundred listed, and the import's shortcuts equal the long way."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offerengine.decisioning import schemas as ds
from offerengine.decisioning import service as decisioning
from offerengine.errors import FieldError, Invalid
from offerengine.transfer import core, kinds
from offerengine.transfer import service as transfer

LAYOUT = kinds.PRODUCTS.layout
text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=20,
)
json_value = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**9), 10**9) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)
product_row = st.fixed_dictionaries(
    {"product_type": text, "product_code": text, "name": text},
    optional={
        "description": text,
        "base_price": text,
        "metadata": st.dictionaries(text, json_value, max_size=3),
        "is_active": st.booleans(),
    },
)


def written(rows: list[dict[str, Any]], fmt: core.Format, batch: int = 3) -> bytes:
    writer = core.Writer(fmt, LAYOUT)
    out = io.BytesIO()
    out.write(writer.start())
    for part in core.batches(rows, batch):
        out.write(writer.chunk(part))
    out.write(writer.end())
    return out.getvalue()


@settings(max_examples=40, deadline=None)
@given(rows=st.lists(product_row, min_size=1, max_size=12), fmt=st.sampled_from(core.FORMATS))
def test_every_format_reads_back_the_rows_its_export_wrote(
    rows: list[dict[str, Any]], fmt: core.Format
) -> None:
    found = core.read_rows(written(rows, fmt), fmt, LAYOUT, max_rows=100)

    assert found.errors == {}
    if fmt == "csv":  # a CSV cell is text: booleans read as the words the export wrote
        rows = [
            {k: ("true" if v else "false") if k == "is_active" else v for k, v in r.items()}
            for r in rows
        ]
    assert found.rows == rows


def test_a_csv_cell_of_a_json_column_that_is_not_json_is_an_error_of_its_row() -> None:
    data = b'product_type,product_code,name,metadata\nBAG,B1,Bag,{"a":1}\nBAG,B2,Bag,{oops\n'

    found = core.read_rows(data, "csv", LAYOUT, max_rows=10)

    assert found.rows[0]["metadata"] == {"a": 1}
    assert list(found.errors) == [1]
    assert found.errors[1][0].loc == ("products", 1, "metadata")


@pytest.mark.parametrize(
    ("data", "fmt", "loc"),
    [
        (b"{", "json", ("file",)),
        (b'{"other": []}', "json", ("file",)),
        (b"[]", "json", ("file",)),
        (b"\xff\xfe", "csv", ("file",)),
        (b"color\nred\n", "csv", ("file", "header")),
        (b"not parquet", "parquet", ("file",)),
        (b'{"a": 1}\n{', "jsonl", ("file", "line", 2)),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_whole(
    data: bytes, fmt: core.Format, loc: tuple[Any, ...]
) -> None:
    with pytest.raises(Invalid) as refused:
        core.read_rows(data, fmt, LAYOUT, max_rows=10)
    assert refused.value.errors[0].loc == loc


def test_more_rows_than_an_import_takes_are_refused() -> None:
    with pytest.raises(Invalid, match="at most 2 rows"):
        core.read_rows(b"[{}, {}, {}]", "json", LAYOUT, max_rows=2)


def test_bad_rows_are_all_counted_and_the_first_hundred_listed_in_order() -> None:
    problems = core.Problems("products", "product_code")
    for index in reversed(range(0, 500, 2)):
        problems.add(index, f"P{index}", [FieldError(("products", index, "name"), "bad")])

    refused = problems.refuse(500)

    assert refused.extensions["bad_rows"] == 250
    assert refused.extensions["total_rows"] == 500
    listed = refused.extensions["rows"]
    assert len(listed) == core.MAX_LISTED_ROWS
    # The first hundred seen are kept (here the last rows of the file, added first), in order.
    assert [r["row"] for r in listed] == sorted(r["row"] for r in listed)
    assert listed[0] == {
        "row": 301,
        "product_code": "P300",
        "errors": [{"loc": ["products", 300, "name"], "msg": "bad", "type": "value_error"}],
    }
    assert "250 of 500 rows have errors" in refused.detail


@pytest.mark.parametrize(
    ("name", "media", "expected"),
    [
        ("offers.JSONL", None, "jsonl"),
        ("rates.parquet", "text/csv", "parquet"),
        (None, "text/csv; charset=utf-8", "csv"),
        (None, "application/x-ndjson", "jsonl"),
        ("data.bin", "application/octet-stream", None),
    ],
)
def test_a_format_is_named_by_the_suffix_else_the_media_type(
    name: str | None, media: str | None, expected: str | None
) -> None:
    assert core.format_of(name, media) == expected


@pytest.mark.parametrize(
    ("row", "faulty"),
    [
        ({"name": "plain"}, False),
        ({"name": "a literal \\u0000 is text"}, False),
        ({"name": "a\x00b"}, True),
        ({"metadata": {"deep": ["x\ud800"]}}, True),
    ],
)
def test_text_no_database_stores_is_an_error_of_its_row(row: dict[str, Any], faulty: bool) -> None:
    assert bool(transfer._unstorable(row, ("products", 4))) == faulty


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {
            "status": "draft",
            "start": "2026-01-01T00:00:00Z",
            "end": "2026-02-01T12:30:00+02:00",
            "priority": -4,
            "tags": ["a", "b"],
            "eligibility": {"profile.tier": {"in": ["GOLD"]}},
            "capping": [
                {
                    "scope": "profile",
                    "limit": 2,
                    "window": {"type": "rolling", "unit": "day", "count": 7},
                }
            ],
            "value": "12.50",
            "cost": "0.000001",
            "attributes": {"x": [1, {"y": None}]},
        },
    ],
)
def test_an_imported_offers_history_is_what_its_edits_would_record(fields: dict[str, Any]) -> None:
    placement = uuid.uuid4()
    data = ds.OfferIn.model_validate(
        {
            "name": "upgrade",
            "representations": [{"placement_id": str(placement), "content": {"t": "x"}}],
        }
        | fields
    )
    draft: Any = SimpleNamespace(tenant_id=uuid.uuid4())
    decisioning.OFFER.editing.apply(draft, data)
    draft.id, draft.version = uuid.uuid4(), 3
    draft.created_at = datetime(2026, 12, 8, 1, 2, 3, 456789, tzinfo=UTC)
    draft.updated_at = datetime(2026, 12, 8, 1, 2, 3, tzinfo=UTC)

    assert kinds.OFFERS.dump is not None
    assert kinds.OFFERS.dump(draft) == decisioning.OFFER.editing.dump(draft)
