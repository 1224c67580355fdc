"""`dfwatch discover` output: table (rich), JSON (the contract of DESIGN.md) and CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

from crawler.discover.candidates import Candidate

FORMATS = ("table", "json", "csv")
CSV_FIELDS = ("platform", "kind", "handle", "posts", "communities", "first_seen_at", "last_seen_at", "status",
              "linked_from")  # fmt: skip


def _from_text(c: Candidate, limit: int = 4) -> str:
    shown = [f"{f['platform']}:{f['handle']} ({f['posts']})" for f in c.linked_from[:limit]]
    more = len(c.linked_from) - limit
    return ", ".join(shown) + (f", +{more} more" if more > 0 else "")


def render_candidates(candidates: Sequence[Candidate], fmt: str, width: int = 140) -> str:
    if fmt == "json":
        return (
            json.dumps({"candidates": [c.as_json() for c in candidates]}, indent=2, ensure_ascii=False) + "\n"
        )
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
        writer.writeheader()
        for c in candidates:
            row = c.as_json()
            row["linked_from"] = "; ".join(
                f"{f['platform']}:{f['kind']}:{f['handle']}={f['posts']}" for f in c.linked_from
            )
            writer.writerow(row)
        return buf.getvalue()
    if fmt != "table":
        raise ValueError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    from rich import box
    from rich.console import Console
    from rich.table import Table

    buf = io.StringIO()
    console = Console(file=buf, width=width, color_system=None, force_terminal=False, highlight=False)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    for heading in ("candidate", "posts", "communities", "first seen", "last seen", "status", "linked from"):
        table.add_column(heading, justify="right" if heading in ("posts", "communities") else "left")
    for c in candidates:
        table.add_row(
            str(c),
            f"{c.posts:,}",
            f"{c.communities:,}",
            f"{c.first_seen_at:%Y-%m-%d}",
            f"{c.last_seen_at:%Y-%m-%d}",
            c.status,
            _from_text(c),
        )
    if not candidates:
        table.add_row("(none)", "", "", "", "", "", "")
    console.print(table)
    return buf.getvalue()
