"""Files read into rows: JSON, JSON lines, CSV and Parquet (see the package's doc)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from offerengine.errors import FieldError, Invalid, MalformedInput

Format = Literal["json", "jsonl", "csv", "parquet"]
FORMATS: tuple[Format, ...] = ("json", "jsonl", "csv", "parquet")
MEDIA_TYPES: Mapping[Format, str] = {
    "json": "application/json",
    "jsonl": "application/jsonl",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}
MAX_LISTED_ROWS = 100  # bad rows listed with their errors; the rest are counted
ColumnType = Literal["text", "int", "bool", "json"]


@dataclass(frozen=True, slots=True)
class Column:
    """A column of a kind's files: ``json`` columns hold nested values (JSON text in a CSV cell
    or a Parquet string), the others scalars (text also carries decimals and timestamps)."""

    name: str
    type: ColumnType = "text"


@dataclass(frozen=True, slots=True)
class Layout:
    """What a kind's files hold: the collection rows are under in a JSON object and in error
    locations ("products"), the columns, and the columns a CSV file must have."""

    collection: str
    columns: tuple[Column, ...]
    required: tuple[str, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def json_columns(self) -> frozenset[str]:
        return frozenset(c.name for c in self.columns if c.type == "json")


@dataclass
class Rows:
    """The rows of a file and the errors found reading them, by row index."""

    rows: list[dict[str, Any]]
    errors: dict[int, list[FieldError]] = field(default_factory=dict)


def format_of(name: str | None, media_type: str | None) -> Format | None:
    """The format a file name's suffix or a media type names; None when neither does."""
    if name:
        suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        found = {"json": "json", "jsonl": "jsonl", "ndjson": "jsonl", "csv": "csv"}.get(suffix)
        if suffix in ("parquet", "pq"):
            return "parquet"
        if found is not None:
            return found  # type: ignore[return-value]
    kind = (media_type or "").split(";")[0].strip().lower()
    return {
        "application/json": "json",
        "application/jsonl": "jsonl",
        "application/x-ndjson": "jsonl",
        "application/ndjson": "jsonl",
        "text/csv": "csv",
        "application/csv": "csv",
        "application/vnd.apache.parquet": "parquet",
        "application/x-parquet": "parquet",
    }.get(kind)  # type: ignore[return-value]


def read_rows(data: bytes, fmt: Format, layout: Layout, *, max_rows: int) -> Rows:
    """The rows of ``data``, a file in ``fmt``; a file that cannot be read at all (not JSON,
    not UTF-8, not Parquet, a header naming unknown columns, too many rows) is refused whole."""
    if fmt == "json":
        found = _json_rows(data, layout)
    elif fmt == "jsonl":
        found = _jsonl_rows(data, layout)
    elif fmt == "csv":
        found = _csv_rows(data, layout)
    else:
        found = _parquet_rows(data, layout)
    if len(found.rows) > max_rows:
        raise Invalid.field(("file",), f"at most {max_rows} rows per import")
    if not found.rows:
        raise Invalid.field(("file",), "the file holds no rows")
    return found


def _decode(data: bytes) -> Any:
    try:
        return msgspec.json.decode(data)
    except (msgspec.DecodeError, RecursionError) as exc:
        raise MalformedInput.field(("file",), f"not valid JSON: {exc}") from exc


def _json_rows(data: bytes, layout: Layout) -> Rows:
    value = _decode(data)
    if isinstance(value, dict) and set(value) == {layout.collection}:
        value = value[layout.collection]
    if not isinstance(value, list):
        raise Invalid.field(
            ("file",), f'send a JSON list, or an object {{"{layout.collection}": [...]}}'
        )
    return _objects(value, layout.collection)


def _objects(values: Iterable[Any], collection: str) -> Rows:
    found = Rows([])
    for index, row in enumerate(values):
        if isinstance(row, dict):
            found.rows.append(row)
        else:
            found.rows.append({})
            found.errors[index] = [FieldError((collection, index), "not a JSON object")]
    return found


def _jsonl_rows(data: bytes, layout: Layout) -> Rows:
    values: list[Any] = []
    decoder = msgspec.json.Decoder()
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            values.append(decoder.decode(line))
        except (msgspec.DecodeError, RecursionError) as exc:
            raise MalformedInput.field(("file", "line", number), f"not valid JSON: {exc}") from exc
    return _objects(values, layout.collection)


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MalformedInput.field(("file",), "the file is not UTF-8 text") from exc


def _check_header(header: Sequence[str], layout: Layout) -> None:
    unknown = [name for name in header if name not in layout.names]
    missing = [name for name in layout.required if name not in header]
    errors = []
    if unknown:
        errors.append(FieldError(("file", "header"), f"unknown columns: {', '.join(unknown)}"))
    if missing:
        errors.append(FieldError(("file", "header"), f"missing columns: {', '.join(missing)}"))
    if errors:
        raise Invalid.of(errors)


def _csv_rows(data: bytes, layout: Layout) -> Rows:
    try:
        return _read_csv(data, layout)
    except csv.Error as exc:  # a cell over the reader's size limit, a broken quote
        raise MalformedInput.field(("file",), f"not a CSV file: {exc}") from exc


def _read_csv(data: bytes, layout: Layout) -> Rows:
    reader = csv.reader(io.StringIO(_text(data), newline=""))
    header = next(reader, None)
    if header is None:
        raise Invalid.field(("file",), "the file holds no rows")
    _check_header(header, layout)
    json_columns = layout.json_columns
    decoder = msgspec.json.Decoder()
    found = Rows([])
    width = len(header)
    for index, cells in enumerate(reader):
        if len(cells) > width:
            found.rows.append({})
            found.errors[index] = [
                FieldError((layout.collection, index), "more cells than header columns")
            ]
            continue
        row: dict[str, Any] = {}
        for name, cell in zip(header, cells, strict=False):
            if cell == "":
                continue
            if name in json_columns:
                try:
                    row[name] = decoder.decode(cell)
                except (msgspec.DecodeError, RecursionError) as exc:
                    found.errors.setdefault(index, []).append(
                        FieldError((layout.collection, index, name), f"not JSON: {exc}")
                    )
                continue
            row[name] = cell
        found.rows.append(row)
    return found


def _parquet_rows(data: bytes, layout: Layout) -> Rows:
    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError) as exc:
        raise MalformedInput.field(("file",), f"not a Parquet file: {exc}") from exc
    _check_header(table.column_names, layout)
    json_columns = layout.json_columns
    decoder = msgspec.json.Decoder()
    found = Rows([])
    for index, raw in enumerate(table.to_pylist()):
        row: dict[str, Any] = {}
        for name, value in raw.items():
            if value is None:
                continue
            if name in json_columns and isinstance(value, str):
                try:
                    value = decoder.decode(value)
                except (msgspec.DecodeError, RecursionError) as exc:
                    found.errors.setdefault(index, []).append(
                        FieldError((layout.collection, index, name), f"not JSON: {exc}")
                    )
                    continue
            row[name] = value
        found.rows.append(row)
    return found
