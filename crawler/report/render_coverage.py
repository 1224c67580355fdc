"""The HTML report's coverage and provenance: a source × day grid, its table, and the footer.

The grid has one lane per source and one cell per UTC day of the window, coloured by the
day's best outcome (ok, partial, failed, skipped); a day without a run of that source is an
empty cell, so a gap in the data reads as a gap, never as a quiet day.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from crawler.report import charts
from crawler.report.charts import BOTTOM, LEFT, RIGHT, TOP, W, esc
from crawler.report.provenance import provenance_lines

CELL_COLOURS = {
    "ok": "#009E73",
    "partial": "#E69F00",
    "failed": "#C0392B",
    "skipped": "#b8bec6",
}
NO_RUN = "#ffffff"
LEGEND = [
    ("ok", CELL_COLOURS["ok"]),
    ("partial (some targets failed)", CELL_COLOURS["partial"]),
    ("failed", CELL_COLOURS["failed"]),
    ("skipped (no credentials)", CELL_COLOURS["skipped"]),
    ("no run", "#e5e7eb"),
]
LANE_H = 30


def coverage_grid(report: dict[str, Any], t0: datetime, t1: datetime) -> str:
    """One SVG: a lane per source with a cell per UTC day in [t0, t1]."""
    sources = [c["source"] for c in report.get("coverage", [])]
    cells = {(d["source"], d["day"]): d for d in report.get("coverage_days", [])}
    height = TOP + BOTTOM + max(1, len(sources)) * LANE_H
    body, px = charts._time_axis(t0, t1, height)
    first = datetime(t0.year, t0.month, t0.day, tzinfo=t0.tzinfo)
    days = []
    day = first
    while day <= t1:
        days.append(day)
        day += timedelta(days=1)
    for i, source in enumerate(sources):
        top = TOP + i * LANE_H
        body.append(f'<text x="{LEFT}" y="{top + 11}" fill="#111827" font-weight="600">{esc(source)}</text>')
        for day in days:
            lo, hi = max(day, t0), min(day + timedelta(days=1), t1)
            x0 = LEFT + (lo - t0).total_seconds() * px
            width = max((hi - lo).total_seconds() * px - 0.6, 0.4)
            key = day.strftime("%Y-%m-%d")
            cell = cells.get((source, key))
            if cell is None:
                fill, tip = NO_RUN, f"{source} {key}: no run"
            else:
                fill = CELL_COLOURS.get(cell["status"], "#555555")
                counts = ", ".join(
                    f"{cell[k]} {k}" for k in ("ok", "partial", "failed", "skipped") if cell[k]
                )
                tip = f"{source} {key}: {cell['status']} ({counts})"
            body.append(
                f'<rect x="{x0:.1f}" y="{top + 15}" width="{width:.1f}" height="{LANE_H - 18}" '
                f'fill="{fill}" stroke="#d1d5db" stroke-width="0.4"><title>{esc(tip)}</title></rect>'
            )
    body.append(
        f'<rect x="{LEFT}" y="{TOP}" width="{W - LEFT - RIGHT}" height="{height - TOP - BOTTOM}" '
        'fill="none" stroke="#9ca3af"/>'
    )
    return charts._svg(body, "crawl coverage per source and day", height)


def coverage_html(report: dict[str, Any], t0: datetime, t1: datetime, table: str) -> str:
    """The Coverage section: note, grid, legend and the per-source table (`table`, rendered
    by the caller with the page's own table function)."""
    if "coverage" not in report:
        return ""
    head = (
        "<h2>Coverage</h2>"
        '<p class="note">Crawl runs that started in the window, per source and UTC day. A cell '
        "shows the day's best outcome (hover for every run); an empty cell is a day without a run "
        "of that source: data missing, not a quiet day. Failed targets are summed in the table.</p>"
    )
    if not report["coverage"]:
        return head + '<p class="note">(no crawl runs in this window)</p>'
    legend = (
        '<ul class="legend">'
        + "".join(
            f'<li><i class="dot" style="background:{c};border:1px solid #d1d5db"></i>{esc(label)}</li>'
            for label, c in LEGEND
        )
        + "</ul>"
    )
    return f'{head}<figure class="chart">{coverage_grid(report, t0, t1)}</figure>{legend}{table}'


def provenance_footer(report: dict[str, Any]) -> str:
    """A footer that says where the figures come from (version, database, config, runs)."""
    lines = provenance_lines(report)
    if not lines:
        return ""
    items = "".join(f"<li>{esc(line)}</li>" for line in lines)
    return f'<footer class="provenance"><b>Provenance</b><ul>{items}</ul></footer>'
