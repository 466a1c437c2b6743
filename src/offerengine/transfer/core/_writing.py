"""Rows written a chunk at a time, in each format (see the package's doc)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from offerengine.transfer.core._reading import ColumnType, Format, Layout


class _Sink(io.RawIOBase):
    """A file Parquet's writer writes into, emptied as the export streams."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        data = bytes(b)
        self.parts.append(data)
        self.size += len(data)
        return len(data)

    def tell(self) -> int:
        return self.size

    def drain(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


class Writer:
    """A kind's rows written in ``fmt`` a chunk at a time: :meth:`start`, then :meth:`chunk`
    for each batch of rows, then :meth:`end`; each returns the bytes to send next (memory holds
    one batch, whatever the number of rows)."""

    def __init__(self, fmt: Format, layout: Layout) -> None:
        self.fmt = fmt
        self.layout = layout
        self._encoder = msgspec.json.Encoder(order="sorted")
        self._first = True
        self._sink: _Sink | None = None
        self._parquet: pq.ParquetWriter | None = None

    def start(self) -> bytes:
        if self.fmt == "json":
            return b'{"' + self.layout.collection.encode() + b'":['
        if self.fmt == "csv":
            return _csv_line(self.layout.names)
        if self.fmt == "parquet":
            self._sink = _Sink()
            self._parquet = pq.ParquetWriter(self._sink, _arrow_schema(self.layout))
            return self._sink.drain()
        return b""

    def chunk(self, rows: Sequence[Mapping[str, Any]]) -> bytes:
        if not rows:
            return b""
        if self.fmt == "jsonl":
            return b"".join(self._encoder.encode(row) + b"\n" for row in rows)
        if self.fmt == "json":
            body = b",".join(self._encoder.encode(row) for row in rows)
            lead = b"" if self._first else b","
            self._first = False
            return lead + body
        if self.fmt == "csv":
            return b"".join(_csv_line(self._cells(row)) for row in rows)
        if self._parquet is None or self._sink is None:
            raise RuntimeError("Writer.start() comes first")
        self._parquet.write_table(self._arrow(rows))
        return self._sink.drain()

    def end(self) -> bytes:
        if self.fmt == "json":
            return b"]}"
        if self._parquet is not None and self._sink is not None:
            self._parquet.close()
            return self._sink.drain()
        return b""

    def _cells(self, row: Mapping[str, Any]) -> list[str]:
        cells = []
        for column in self.layout.columns:
            value = row.get(column.name)
            if value is None:
                cells.append("")
            elif column.type == "json":
                cells.append(self._encoder.encode(value).decode())
            elif column.type == "bool":
                cells.append("true" if value else "false")
            else:
                cells.append(str(value))
        return cells

    def _arrow(self, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
        arrays: dict[str, list[Any]] = {}
        for column in self.layout.columns:
            values = [row.get(column.name) for row in rows]
            if column.type == "json":
                values = [None if v is None else self._encoder.encode(v).decode() for v in values]
            elif column.type == "text":
                values = [None if v is None else str(v) for v in values]
            arrays[column.name] = values
        return pa.Table.from_pydict(arrays, schema=_arrow_schema(self.layout))


_ARROW_TYPES: Mapping[ColumnType, pa.DataType] = {
    "text": pa.string(),
    "json": pa.string(),
    "int": pa.int64(),
    "bool": pa.bool_(),
}


def _arrow_schema(layout: Layout) -> pa.Schema:
    return pa.schema([pa.field(c.name, _ARROW_TYPES[c.type]) for c in layout.columns])


def _csv_line(cells: Sequence[str]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(cells)
    return out.getvalue().encode()


def batches(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """``rows`` in lists of ``size`` (the last one shorter)."""
    batch: list[Any] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
