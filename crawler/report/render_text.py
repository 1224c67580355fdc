"""Text renderings of a report dict: table (rich), Markdown, CSV and JSON; html is dispatched.

Every renderer takes the dict build_report returns and nothing else, so a report saved as
JSON can be rendered again later in any format.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Callable
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

FORMATS = ("table", "md", "csv", "json", "html")
MISSING = "—"  # how a null (unknown) figure reads in table and Markdown output

# (key, heading, formatter) of each section's columns, shared by the table and Markdown.
Column = tuple[str, str, Callable[[Any], str]]


def fmt_count(v: Any) -> str:
    return MISSING if v is None else f"{v:,.0f}"


def fmt_delta(v: Any) -> str:
    if v is None:
        return MISSING
    return "0" if v == 0 else f"{v:+,.0f}"


def fmt_pct(v: Any) -> str:
    return MISSING if v is None else f"{v:+.1f} %"


def fmt_days(v: Any) -> str:
    return MISSING if v is None else f"{v:.1f}"


def fmt_share(v: Any) -> str:
    return MISSING if v is None else f"{100 * v:.1f} %"


def fmt_text(v: Any) -> str:
    return MISSING if v is None or v == "" else str(v)


def fmt_time(v: Any) -> str:
    return MISSING if not v else str(v).replace("T", " ").replace("Z", "")[:16]


def community_name(c: dict[str, Any]) -> str:
    """How people write the handle: r/name, @name, #tag; a repo or URL as it is."""
    prefix = {"subreddit": "r/", "account": "@", "hashtag": "#", "channel": "t.me/"}.get(
        c.get("kind", ""), ""
    )
    return f"{prefix}{c['handle']}"


COMMUNITY_COLUMNS: list[Column] = [
    ("platform", "platform", fmt_text),
    ("name", "community", fmt_text),
    ("status", "status", fmt_text),
    ("last_checked_at", "last checked", fmt_time),
    ("members", "members", fmt_count),
    ("delta_1d", "Δ 1d", fmt_delta),
    ("delta_7d", "Δ 7d", fmt_delta),
    ("delta_30d", "Δ 30d", fmt_delta),
    ("growth_7d_pct", "growth 7d", fmt_pct),
    ("growth_30d_pct", "growth 30d", fmt_pct),
    ("doubling_days", "doubling (days)", fmt_days),
    ("posts_7d", "posts 7d", fmt_count),
]
CHANGE_COLUMNS: list[Column] = [
    ("observed_at", "observed (UTC)", fmt_time),
    ("platform", "platform", fmt_text),
    ("handle", "community", fmt_text),
    ("old_status", "from", fmt_text),
    ("new_status", "to", fmt_text),
    ("reason", "reason", fmt_text),
]
TOOL_COLUMNS: list[Column] = [
    ("name", "tool", fmt_text),
    ("mentions_7d", "mentions 7d", fmt_count),
    ("mentions_prev_7d", "previous 7d", fmt_count),
    ("mentions_total", "total", fmt_count),
]
SPEND_COLUMNS: list[Column] = [
    ("source", "source", fmt_text),
    ("cost_usd", "USD (estimated)", lambda v: MISSING if v is None else f"{v:,.2f}"),
    ("runs", "runs", fmt_count),
]
DOMAIN_COLUMNS: list[Column] = [
    ("domain", "domain", fmt_text),
    ("posts_7d", "posts 7d", fmt_count),
    ("share", "share", fmt_share),
]
NUMERIC = {
    "members",
    "delta_1d",
    "delta_7d",
    "delta_30d",
    "growth_7d_pct",
    "growth_30d_pct",
    "doubling_days",
    "posts_7d",
    "mentions_7d",
    "mentions_prev_7d",
    "mentions_total",
    "share",
}


def sections(report: dict[str, Any]) -> list[tuple[str, list[Column], list[dict[str, Any]]]]:
    """(title, columns, rows) of each table, in reading order."""
    communities = [{**c, "name": community_name(c)} for c in report["communities"]]
    return [
        ("Communities", COMMUNITY_COLUMNS, communities),
        (f"Status changes (last {report['since']})", CHANGE_COLUMNS, report["status_changes"]),
        ("Tool mentions", TOOL_COLUMNS, report["tools"]),
        ("Link domains (posts of the last 7 days)", DOMAIN_COLUMNS, report["link_domains"]),
        *(
            [(f"Platform charges (last {report['since']})", SPEND_COLUMNS, report["spend"])]
            if report.get("spend")
            else []
        ),
    ]


def render(report: dict[str, Any], fmt: str) -> str:
    """The report in `fmt` (one of FORMATS) as one string."""
    if fmt == "json":
        return json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        return render_csv(report)
    if fmt == "md":
        return render_md(report)
    if fmt == "table":
        return render_table(report)
    if fmt == "html":
        from crawler.report.render_html import render_html

        return render_html(report)
    raise ValueError(f"unknown report format {fmt!r}: choose one of {', '.join(FORMATS)}")


def _header(report: dict[str, Any]) -> str:
    return (
        f"dfwatch report generated {fmt_time(report['generated_at'])} UTC, "
        f"window {report['since']} (since {fmt_time(report['window_start'])} UTC)"
    )


def render_table(report: dict[str, Any], width: int | None = None) -> str:
    """Rich tables as plain text (no colour codes), as wide as the terminal."""
    width = width or max(100, shutil.get_terminal_size((140, 40)).columns)
    buf = io.StringIO()
    console = Console(file=buf, width=width, color_system=None, force_terminal=False, highlight=False)
    console.print(_header(report))
    for title, columns, rows in sections(report):
        console.print()
        console.print(title)  # not the table's title: that would wrap to a narrow table's width
        table = Table(box=box.SIMPLE_HEAD, show_edge=False)
        for key, heading, _ in columns:
            table.add_column(heading, justify="right" if key in NUMERIC else "left", overflow="fold")
        for row in rows:
            table.add_row(*(f(row.get(key)) for key, _, f in columns))
        if not rows:
            table.add_row(*(["(none)"] + [""] * (len(columns) - 1)))
        console.print(table)
    return buf.getvalue()


_MD_SPECIAL = set("\\|<>&`*[]")


def _md_cell(text: str) -> str:
    """Scraped text as literal Markdown: backslash-escape what could start markup or HTML."""
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in text.replace("\n", " "))


def render_md(report: dict[str, Any]) -> str:
    """GitHub-flavoured Markdown: one heading and one table per section."""
    lines = ["# dfwatch trend report", "", _header(report) + ".", ""]
    for title, columns, rows in sections(report):
        lines += [f"## {title}", ""]
        if not rows:
            lines += ["(none)", ""]
            continue
        lines.append("| " + " | ".join(h for _, h, _ in columns) + " |")
        lines.append("| " + " | ".join("---:" if k in NUMERIC else "---" for k, _, _ in columns) + " |")
        for row in rows:
            lines.append("| " + " | ".join(_md_cell(f(row.get(k))) for k, _, f in columns) + " |")
        lines.append("")
    lines.append("Figures are defined in docs/reports.md; — means unknown (never zero).")
    return "\n".join(lines) + "\n"


CSV_FIELDS = [
    "section",
    "platform",
    "kind",
    "handle",
    "status",
    "last_checked_at",
    "members",
    "delta_1d",
    "delta_7d",
    "delta_30d",
    "growth_7d_pct",
    "growth_30d_pct",
    "doubling_days",
    "posts_7d",
    "observed_at",
    "old_status",
    "new_status",
    "reason",
    "name",
    "mentions_7d",
    "mentions_prev_7d",
    "mentions_total",
    "domain",
    "share",
]


def render_csv(report: dict[str, Any]) -> str:
    """One tidy CSV: a `section` column (community, status_change, tool, link_domain) and the
    union of the sections' fields; an unknown figure is an empty cell, never 0."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for section, key in (
        ("community", "communities"),
        ("status_change", "status_changes"),
        ("tool", "tools"),
        ("link_domain", "link_domains"),
    ):
        for row in report[key]:
            writer.writerow({"section": section, **{k: ("" if v is None else v) for k, v in row.items()}})
    return buf.getvalue()
