"""Rows of `dfwatch query` as a terminal table, CSV or JSON (crawler.db.query runs them).

Scraped text is escaped for each output by crawler.textsafe: the table never reads a value
as Rich markup and shows no control character; CSV guards formula-like text unless asked not
to (`--raw-csv`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TextIO

from crawler.errors import ConfigError
from crawler.textsafe import CsvWriter, terminal

TABLE_LIMIT = 1000  # rows `--format table` shows by default (`--limit`)


def _plain(value: Any) -> Any:
    """A JSON/CSV-friendly form: ISO-8601 times, numbers as numbers, bytes as hex."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return value


def _cell(value: Any) -> str:
    """A table cell's text: a JSON value (dict, list) as JSON, anything else as str."""
    value = _plain(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def format_rows(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    fmt: str,
    out: TextIO,
    *,
    limit: int | None = TABLE_LIMIT,
    csv_guard: bool = True,
) -> int:
    """Write rows as a rich table, CSV or a JSON array of objects; returns the rows written.

    CSV and JSON stream every row. The table holds its rows in memory until it is drawn, so
    it shows the first `limit` and says how many it left out. Text in CSV that a spreadsheet
    would run as a formula starts with `'` unless `csv_guard` is off (crawler.textsafe).
    """
    n = 0
    if fmt == "csv":
        writer = CsvWriter(out, guard=csv_guard)
        writer.writerow(columns)
        for row in rows:
            writer.writerow("" if v is None else _plain(v) for v in row)
            n += 1
    elif fmt == "json":
        out.write("[")
        for row in rows:
            out.write(",\n " if n else "\n ")
            out.write(json.dumps(dict(zip(columns, map(_plain, row), strict=True)), ensure_ascii=False))
            n += 1
        out.write("\n]\n" if n else "]\n")
    elif fmt == "table":
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        table = Table(show_lines=False)
        for c in columns:
            table.add_column(Text(terminal(c)))  # Text, not str: never read as Rich markup
        left_out = 0
        for row in rows:
            if limit is not None and n >= limit:
                left_out += 1  # counted, not kept
                continue
            table.add_row(*(Text("") if v is None else Text(terminal(_cell(v))) for v in row))
            n += 1
        Console(file=out, width=max(80, min(250, 16 * len(columns))), soft_wrap=False).print(table)
        if left_out:
            out.write(
                f"{left_out:,} more row{'s' if left_out != 1 else ''} not shown: the table stops at "
                f"{limit:,} rows (--limit N shows more; --format csv or json writes them all)\n"
            )
    else:
        raise ConfigError(f"unknown format {fmt!r} (table, csv or json)", entry="--format")
    return n
