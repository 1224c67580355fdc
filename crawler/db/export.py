"""`dfwatch export`: every research table to CSV, Parquet or JSON Lines, streamed.

Rows are read in chunks (`yield_per`, a server-side cursor on PostgreSQL) and written chunk
by chunk, so exporting millions of posts needs no more memory than one chunk. Times are
ISO-8601 UTC text in CSV and JSON Lines, and UTC timestamps in Parquet (its own type). Each
file is written under a temporary name and renamed when complete, so a half-written export
never looks finished.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Boolean, DateTime, Float, Integer, Table, select

from crawler.db import models
from crawler.db.engine import make_engine
from crawler.db.types import UTCDateTime
from crawler.errors import ConfigError

log = logging.getLogger("dfwatch.export")

EXPORT_TABLES: tuple[str, ...] = (
    "communities",
    "metrics",
    "status_changes",
    "posts",
    "tools",
    "mentions",
    "crawl_runs",
    "run_sources",
)
FORMATS = {"csv": "csv", "parquet": "parquet", "jsonl": "jsonl"}  # format -> file extension
CHUNK_ROWS = 5000  # rows per fetch and per Parquet row group batch

Progress = Callable[[str, int], None]  # (table, rows written so far)


def iso(value: datetime) -> str:
    """ISO-8601 in UTC with a Z, the form every export uses for times."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _text_value(value: Any) -> Any:
    return iso(value) if isinstance(value, datetime) else value


def export_tables(
    url: str,
    out_dir: Path,
    fmt: str,
    tables: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Write one file per table into `out_dir`; returns rows written per table."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r} (csv, parquet or jsonl)", entry="--format")
    names = list(tables) if tables else list(EXPORT_TABLES)
    unknown = [t for t in names if t not in EXPORT_TABLES]
    if unknown:
        raise ConfigError(
            f"unknown table {', '.join(unknown)} (known: {', '.join(EXPORT_TABLES)})", entry="--tables"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url, read_only=True)
    counts: dict[str, int] = {}
    try:
        for name in names:
            table = models.Base.metadata.tables[name]
            path = out_dir / f"{name}.{FORMATS[fmt]}"
            part = path.with_name(path.name + ".part")
            with engine.connect() as conn:
                q = select(table).order_by(*table.primary_key.columns)
                result = conn.execution_options(stream_results=True, yield_per=CHUNK_ROWS).execute(q)
                columns = list(result.keys())
                chunks = (list(p) for p in result.partitions())
                writer = {"csv": _write_csv, "jsonl": _write_jsonl, "parquet": _write_parquet}[fmt]
                counts[name] = writer(part, table, columns, chunks, _ticker(name, progress))
            part.replace(path)
            log.info("export table=%s rows=%d file=%s", name, counts[name], path)
    finally:
        engine.dispose()
    return counts


def _ticker(table: str, progress: Progress | None) -> Callable[[int], None]:
    def tick(rows: int) -> None:
        if progress is not None:
            progress(table, rows)

    return tick


def _write_csv(path: Path, _table: Table, columns: list[str], chunks: Any, tick: Callable[[int], Any]) -> int:
    n = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for chunk in chunks:
            writer.writerows(["" if v is None else _text_value(v) for v in row] for row in chunk)
            n += len(chunk)
            tick(n)
    return n


def _write_jsonl(
    path: Path, _table: Table, columns: list[str], chunks: Any, tick: Callable[[int], Any]
) -> int:
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        for chunk in chunks:
            for row in chunk:
                fh.write(
                    json.dumps(dict(zip(columns, map(_text_value, row), strict=True)), ensure_ascii=False)
                )
                fh.write("\n")
            n += len(chunk)
            tick(n)
    return n


def _arrow_type(column: Any) -> Any:
    import pyarrow as pa

    t = column.type
    if isinstance(t, Boolean):
        return pa.bool_()
    if isinstance(t, Integer):
        return pa.int64()
    if isinstance(t, Float):
        return pa.float64()
    if isinstance(t, UTCDateTime | DateTime):
        return pa.timestamp("us", tz="UTC")
    return pa.string()


def _write_parquet(
    path: Path, table: Table, columns: list[str], chunks: Any, tick: Callable[[int], Any]
) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([pa.field(c, _arrow_type(table.c[c])) for c in columns])
    n = 0
    with pq.ParquetWriter(path, schema) as writer:
        for chunk in chunks:
            data = {c: [row[i] for row in chunk] for i, c in enumerate(columns)}
            writer.write_batch(pa.RecordBatch.from_pydict(data, schema=schema))
            n += len(chunk)
            tick(n)
        if n == 0:  # an empty table still gets a file with its schema
            writer.write_table(schema.empty_table())
    return n
