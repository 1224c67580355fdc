"""`dfwatch alerts list` output: table (rich) or JSON."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

FORMATS = ("table", "json")


def render_alerts(rows: Sequence[dict[str, Any]], fmt: str, width: int = 140) -> str:
    if fmt == "json":
        return json.dumps({"alerts": list(rows)}, indent=2, ensure_ascii=False) + "\n"
    if fmt != "table":
        raise ValueError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    from rich import box
    from rich.console import Console
    from rich.table import Table

    buf = io.StringIO()
    console = Console(file=buf, width=width, color_system=None, force_terminal=False, highlight=False)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    for heading in ("created (UTC)", "kind", "title", "delivered", "attempts", "error"):
        table.add_column(heading, overflow="fold")
    for r in rows:
        delivered = "yes" if r["delivered"] else ("pending" if r["pending"] else "no")
        table.add_row(
            (r["created_at"] or "").replace("T", " ").replace("Z", "")[:16],
            r["kind"],
            r["title"],
            delivered,
            str(r["attempts"]),
            r["error"] or "",
        )
    if not rows:
        table.add_row("(none)", "", "", "", "", "")
    console.print(table)
    return buf.getvalue()
