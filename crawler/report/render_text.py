"""Text renderings of a report dict: table (rich), Markdown, CSV and JSON; html is dispatched.

Every renderer takes the dict build_report returns and nothing else, so a report saved as
JSON can be rendered again later in any format.
"""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Callable
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from crawler.report import render_migrations
from crawler.report.provenance import provenance_lines
from crawler.textsafe import CsvWriter, md_text, terminal

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
    prefix = {
        "subreddit": "r/",
        "account": "@",
        "hashtag": "#",
        "channel": "t.me/",  # Telegram's channels, groups and bots all live at t.me/<name>
        "group": "t.me/",
        "bot": "t.me/",
    }.get(c.get("kind", ""), "")
    return f"{prefix}{c['handle']}"


COMMUNITY_COLUMNS: list[Column] = [
    ("platform", "platform", fmt_text),
    ("name", "community", fmt_text),
    ("status", "status", fmt_text),
    ("last_checked_at", "last checked", fmt_time),
    ("value", "size", fmt_count),  # the row's headline figure, named in the next column
    ("metric", "of", fmt_text),
    ("delta_1d", "Δ 1d", fmt_delta),
    ("delta_7d", "Δ 7d", fmt_delta),
    ("delta_30d", "Δ 30d", fmt_delta),
    ("growth_7d_pct", "growth 7d", fmt_pct),
    ("growth_30d_pct", "growth 30d", fmt_pct),
    ("doubling_days", "doubling (days)", fmt_days),
    ("posts_7d", "posts 7d", fmt_count),
]
# Shown beside the community columns where width allows (Markdown, HTML; not the terminal).
OBSERVED_COLUMNS: list[Column] = [
    ("observed_days", "days observed", fmt_count),
    ("last_observed_at", "last observed (UTC)", fmt_time),
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


def fmt_usd(v: Any) -> str:
    return MISSING if v is None else f"{v:,.2f}"


SPEND_COLUMNS: list[Column] = [
    ("source", "source", fmt_text),
    ("cost_usd", "USD (estimated)", fmt_usd),
    ("runs", "runs", fmt_count),
]
DOMAIN_COLUMNS: list[Column] = [
    ("domain", "domain", fmt_text),
    ("posts_7d", "posts 7d", fmt_count),
    ("share", "share", fmt_share),
]
COVERAGE_COLUMNS: list[Column] = [
    ("source", "source", fmt_text),
    ("runs", "runs", fmt_count),
    ("ok", "ok", fmt_count),
    ("partial", "partial", fmt_count),
    ("failed", "failed", fmt_count),
    ("skipped", "skipped", fmt_count),
    ("targets_failed", "targets failed", fmt_count),
    ("cost_usd", "USD (estimated)", fmt_usd),
]
NUMERIC = {
    "members",
    "value",
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
    "observed_days",
    "runs",
    "ok",
    "partial",
    "failed",
    "skipped",
    "targets_failed",
    "cost_usd",
}


def community_columns(report: dict[str, Any]) -> list[Column]:
    """The community columns, with the observation columns when the report has them."""
    has = bool(report["communities"]) and "observed_days" in report["communities"][0]
    return COMMUNITY_COLUMNS + OBSERVED_COLUMNS if has else COMMUNITY_COLUMNS


def sections(
    report: dict[str, Any], wide: bool = False
) -> list[tuple[str, list[Column], list[dict[str, Any]]]]:
    """(title, columns, rows) of each table, in reading order (`wide`: every column)."""
    communities = [{**c, "name": community_name(c)} for c in report["communities"]]
    out = [
        ("Communities", community_columns(report) if wide else COMMUNITY_COLUMNS, communities),
        (f"Status changes (last {report['since']})", CHANGE_COLUMNS, report["status_changes"]),
        ("Tool mentions", TOOL_COLUMNS, report["tools"]),
        ("Link domains (posts of the last 7 days)", DOMAIN_COLUMNS, report["link_domains"]),
        render_migrations.section(report),
        *(
            [(f"Platform charges (last {report['since']})", SPEND_COLUMNS, report["spend"])]
            if report.get("spend")
            else []
        ),
    ]
    if "coverage" in report:
        out.append((COVERAGE_TITLE, COVERAGE_COLUMNS, report["coverage"]))
    return out


COVERAGE_TITLE = "Coverage (crawl runs in the window, per source)"


def render(report: dict[str, Any], fmt: str, *, csv_guard: bool = True) -> str:
    """The report in `fmt` (one of FORMATS) as one string (`csv_guard`: see render_csv)."""
    if fmt == "json":
        return json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        return render_csv(report, guard=csv_guard)
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
            # Text, not str: scraped text is never read as Rich markup.
            table.add_row(*(Text(terminal(f(row.get(key)))) for key, _, f in columns))
        if not rows:
            table.add_row(*(["(none)"] + [""] * (len(columns) - 1)))
        console.print(table)
    for line in provenance_lines(report):
        console.print(line)
    return buf.getvalue()


_MD_SPECIAL = set("\\|<>&`*[]")


def _md_cell(text: str) -> str:
    """Scraped text as literal Markdown: backslash-escape what could start markup or HTML."""
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in md_text(text))


def render_md(report: dict[str, Any]) -> str:
    """GitHub-flavoured Markdown: one heading and one table per section."""
    lines = ["# dfwatch trend report", "", _header(report) + ".", ""]
    for title, columns, rows in sections(report, wide=True):
        lines += [f"## {title}", ""]
        if not rows:
            lines += ["(none)", ""]
            continue
        lines.append("| " + " | ".join(h for _, h, _ in columns) + " |")
        lines.append("| " + " | ".join("---:" if k in NUMERIC else "---" for k, _, _ in columns) + " |")
        for row in rows:
            lines.append("| " + " | ".join(_md_cell(f(row.get(k))) for k, _, f in columns) + " |")
        lines.append("")
    if report.get("provenance"):
        lines += ["## Provenance", ""]
        lines += [f"- {_md_cell(line)}" for line in provenance_lines(report)]
        lines.append("")
    lines.append("Figures are defined in docs/reports.md; — means unknown (never zero).")
    return "\n".join(lines) + "\n"


CSV_FIELDS = [
    "section",
    "platform",
    "kind",
    "handle",
    "status",
    "metric",
    "value",
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
    "observed_days",
    "last_observed_at",
    "source",
    "runs",
    "ok",
    "partial",
    "failed",
    "skipped",
    "targets_failed",
    *render_migrations.CSV_FIELDS,
]
CSV_PROVENANCE_PREFIX = "# dfwatch provenance: "  # the CSV's first line; read with skiprows=1


def render_csv(report: dict[str, Any], *, guard: bool = True) -> str:
    """One tidy CSV: a `section` column (community, status_change, tool, link_domain, coverage,
    migration, migration_domain) and the union of the sections' fields; an unknown figure is an
    empty cell, never 0. Text that a spreadsheet would run as a formula starts with `'` unless
    `guard` is off (textsafe).

    The first line is a comment holding the provenance as JSON (`# dfwatch provenance: {...}`):
    read the table with `pandas.read_csv(path, skiprows=1)`."""
    buf = io.StringIO()
    if report.get("provenance"):
        buf.write(CSV_PROVENANCE_PREFIX + json.dumps(report["provenance"], ensure_ascii=False) + "\n")
    writer = CsvWriter(buf, guard=guard)
    writer.writerow(CSV_FIELDS)
    for section, key in (
        ("community", "communities"),
        ("status_change", "status_changes"),
        ("tool", "tools"),
        ("link_domain", "link_domains"),
        ("coverage", "coverage"),
    ):
        for row in report.get(key, ()):
            cells = {"section": section, **row}
            writer.writerow("" if cells.get(f) is None else cells[f] for f in CSV_FIELDS)
    for row in render_migrations.csv_rows(report):
        writer.writerow("" if row.get(f) is None else row[f] for f in CSV_FIELDS)
    return buf.getvalue()
