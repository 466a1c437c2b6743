"""Files of configuration objects, read and written without a database: JSON, JSON lines, CSV
and Parquet.

Reading (:func:`read_rows`) turns a file into rows (dicts as a JSON body would give them) and the
errors found while reading, by row: a CSV cell of a JSON column that is not JSON, a row with more
cells than the header. Row indexes count data rows from 0 (a CSV header is not a row); reports
number them from 1 for people (:func:`refuse`). Every format reads to the same rows, so one check
serves them all; an export (:class:`Writer`) reads back as the import it came from.

Errors are collected by row (:class:`Problems`) and reported all at once, the first
:data:`MAX_LISTED_ROWS` bad rows listed with every error of theirs and the rest counted: a file of
100,000 rows with 100,000 bad ones gives a short answer that still says how many.
"""

from offerengine.transfer.core._problems import Problems, located
from offerengine.transfer.core._reading import (
    FORMATS,
    MAX_LISTED_ROWS,
    MEDIA_TYPES,
    Column,
    ColumnType,
    Format,
    Layout,
    Rows,
    format_of,
    read_rows,
)
from offerengine.transfer.core._writing import Writer, batches

__all__ = [
    "FORMATS",
    "MAX_LISTED_ROWS",
    "MEDIA_TYPES",
    "Column",
    "ColumnType",
    "Format",
    "Layout",
    "Problems",
    "Rows",
    "Writer",
    "batches",
    "format_of",
    "located",
    "read_rows",
]
