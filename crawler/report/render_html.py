"""The HTML report: one self-contained file (inline CSS and SVG, no script, nothing fetched).

Readable on a phone: a viewport meta tag, charts that scale to the width down to 480 px and
then scroll sideways (starting at their right, most recent, end: the `direction: rtl` trick
needs no script), tables that scroll sideways inside their own box. Every string from the database is escaped: community names,
reasons and domains are scraped text.
"""

from __future__ import annotations

from typing import Any

from crawler.report import charts, render_migrations
from crawler.report.charts import esc, parse_time
from crawler.report.render_coverage import coverage_html, provenance_footer
from crawler.report.render_text import (
    CHANGE_COLUMNS,
    COVERAGE_COLUMNS,
    DOMAIN_COLUMNS,
    MISSING,
    NUMERIC,
    TOOL_COLUMNS,
    Column,
    community_columns,
    community_name,
    fmt_count,
    fmt_time,
)
from crawler.textsafe import bdi

CHART_TOOLS = 6  # lines in the weekly mentions chart

CSS = """
:root{--fg:#111827;--muted:#6b7280;--line:#e5e7eb;--bg:#fff;--card:#f9fafb;--up:#047857;--down:#b91c1c}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:1080px;margin:0 auto;padding:16px}
h1{font-size:1.5rem;margin:.2rem 0}
h2{font-size:1.15rem;margin:2rem 0 .5rem;padding-bottom:.25rem;border-bottom:2px solid var(--line)}
p.meta,p.note{color:var(--muted);margin:.2rem 0}
p.note{font-size:.85rem}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px;margin:1rem 0}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 12px}
.card b{display:block;font-size:1.35rem;overflow-wrap:anywhere}
.card span{color:var(--muted);font-size:.85rem}
figure{margin:.5rem 0 1rem}
figure svg{width:100%;height:auto;display:block}
.chart{overflow-x:auto;direction:rtl}
.chart svg{min-width:480px;max-width:900px;margin:0 auto;direction:ltr}
ul.legend{list-style:none;padding:0;margin:.4rem 0;display:flex;flex-wrap:wrap;gap:4px 16px;font-size:.9rem}
ul.legend i{display:inline-block;width:14px;height:4px;border-radius:2px;margin-right:6px;vertical-align:middle}
ul.legend i.dot{width:10px;height:10px;border-radius:50%}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;border:1px solid var(--line);border-radius:8px}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{padding:6px 10px;border-bottom:1px solid var(--line);white-space:nowrap;text-align:left}
td.wrap{white-space:normal;min-width:16rem}
th{background:var(--card);position:sticky;top:0;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.up{color:var(--up)}td.down{color:var(--down)}td.na{color:#9ca3af}
tr:last-child td{border-bottom:0}
.status{display:inline-block;padding:0 8px;border-radius:10px;color:#fff;font-size:.8rem}
footer{margin:2rem 0 1rem;color:var(--muted);font-size:.85rem}
footer.provenance ul{margin:.3rem 0;padding-left:1.2rem;overflow-wrap:anywhere}
"""


def render_html(report: dict[str, Any]) -> str:
    """The whole page as one string."""
    t0, t1 = parse_time(report["window_start"]), parse_time(report["generated_at"])
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="referrer" content="no-referrer">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">",
        f"<title>dfwatch report {esc(fmt_time(report['generated_at']))}</title>",
        f"<style>{CSS}</style></head><body><main>",
        "<h1>dfwatch trend report</h1>",
        f'<p class="meta">Generated {esc(fmt_time(report["generated_at"]))} UTC · window '
        f"{esc(report['since'])} (from {esc(fmt_time(report['window_start']))} UTC)</p>",
        _cards(report),
        "<h2>Growth</h2>",
        f'<p class="note">{esc(_charted(report).capitalize())} over time (the last count of each UTC '
        "day), log scale: a straight line is steady exponential growth. × marks a fall to zero; a "
        "break in a line is a UTC day without an observation.</p>",
        _growth(report, t0, t1),
        "<h2>Communities</h2>",
        '<p class="note">Each row leads with its headline figure: members, or what its platform '
        "counts instead (a repository's stars, a model's downloads, a search's models). Sorted by "
        f"the 7-day gain in that figure; Δ = its change; {MISSING} = unknown (no observation that "
        "far back), never zero.</p>",
        _table(
            community_columns(report),
            [{**c, "name": community_name(c)} for c in report["communities"]],
            status=True,
        ),
        "<h2>Status timeline</h2>",
        '<p class="note">Bans, suspensions, quarantines, privatisations, archives and blocks seen in '
        "the window; hover a dot for the platform's reason.</p>",
        _timeline(report, t0, t1),
        _table(CHANGE_COLUMNS, report["status_changes"], wrap={"reason"}),
        "<h2>Tool mentions</h2>",
        _weekly(report),
        _table(TOOL_COLUMNS, report["tools"]),
        "<h2>Link domains</h2>",
        '<p class="note">Share of the last 7 days\' posts that link somewhere, by linked site.</p>',
        f'<figure class="chart">{charts.domain_bars(report["link_domains"])}</figure>'
        if report["link_domains"]
        else "",
        _table(DOMAIN_COLUMNS, report["link_domains"]),
        render_migrations.html(report, _table),
        coverage_html(report, t0, t1, _table(COVERAGE_COLUMNS, report.get("coverage", []))),
        provenance_footer(report),
        "<footer>dfwatch · every figure is defined in docs/reports.md · "
        "figures computed from the research database, nothing in this page is loaded from elsewhere.</footer>",
        "</main></body></html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"


def _cards(report: dict[str, Any]) -> str:
    comms = report["communities"]
    known = [c for c in comms if c["delta_7d"] is not None]
    top = max(known, key=lambda c: c["delta_7d"], default=None)
    tool = report["tools"][0] if report["tools"] and report["tools"][0]["mentions_7d"] else None
    domain = report["link_domains"][0] if report["link_domains"] else None
    cards = [
        (fmt_count(len(comms)), "communities"),
        (fmt_count(len(report["status_changes"])), f"status changes in {report['since']}"),
        (
            f"{top['delta_7d']:+,.0f}" if top else MISSING,
            f"biggest 7-day gain: {community_name(top)}" if top else "biggest 7-day gain",
        ),
        (
            tool["name"] if tool else MISSING,
            f"most mentioned tool: {tool['mentions_7d']:,} mentions in 7 days"
            if tool
            else "most mentioned tool",
        ),
        (
            domain["domain"] if domain else MISSING,
            f"top link domain: {100 * domain['share']:.0f} % of linked posts, 7 days"
            if domain
            else "top link domain",
        ),
    ]
    return (
        '<div class="cards">'
        + "".join(f'<div class="card"><b>{bdi(v)}</b><span>{bdi(k)}</span></div>' for v, k in cards)
        + "</div>"
    )


def _legend(items: list[tuple[str, str]], dot: bool = False) -> str:
    cls = ' class="dot"' if dot else ""
    return (
        '<ul class="legend">'
        + "".join(f'<li><i{cls} style="background:{c}"></i>{bdi(label)}</li>' for label, c in items)
        + "</ul>"
    )


def _charted(report: dict[str, Any]) -> str:
    """The figure the growth chart draws (members, or the charted rows' headline metric)."""
    series = report.get("member_series") or [{}]
    return str(series[0].get("metric") or "members")


def _growth(report: dict[str, Any], t0: Any, t1: Any) -> str:
    series = [{**s, "label": community_name(s)} for s in report.get("member_series", [])]
    legend = _legend([(f"{s['platform']} {s['label']}", charts.colour(i)) for i, s in enumerate(series)])
    chart = charts.growth_chart(series, t0, t1, _charted(report))
    return f'<figure class="chart">{chart}</figure>{legend}'


def _timeline(report: dict[str, Any], t0: Any, t1: Any) -> str:
    changes = report["status_changes"]
    seen = sorted({c["new_status"] for c in changes})
    legend = _legend([(s, charts.STATUS_COLOURS.get(s, "#555555")) for s in seen], dot=True)
    return f'<figure class="chart">{charts.status_timeline(changes, t0, t1)}</figure>{legend if seen else ""}'


def _weekly(report: dict[str, Any]) -> str:
    weeks_by_tool: dict[str, list[int]] = {}
    labels: list[str] = []
    for w in report.get("tool_weeks", []):
        weeks_by_tool.setdefault(w["name"], []).append(int(w["mentions"]))
        label = parse_time(w["week_end"]).strftime("%d %b")
        if len(weeks_by_tool) == 1:
            labels.append(label)
    ranked = sorted(weeks_by_tool.items(), key=lambda kv: (-sum(kv[1]), kv[0].lower()))[:CHART_TOOLS]
    note = (
        f'<p class="note">Mentions per week (weeks ending on the date shown), the {len(ranked)} '
        "most-mentioned tools; a post naming two tools counts for both.</p>"
    )
    legend = _legend([(name, charts.colour(i)) for i, (name, _) in enumerate(ranked)])
    return f'{note}<figure class="chart">{charts.weekly_chart(labels, ranked)}</figure>{legend}'


def _cell_class(key: str, value: Any) -> str:
    classes = []
    if key in NUMERIC:
        classes.append("num")
        if value is None:
            classes.append("na")
        elif key.startswith(("delta", "growth")) and value:
            classes.append("up" if value > 0 else "down")
    return f' class="{" ".join(classes)}"' if classes else ""


def _table(
    columns: list[Column], rows: list[dict[str, Any]], *, wrap: set[str] | None = None, status: bool = False
) -> str:
    if not rows:
        return '<p class="note">(none)</p>'
    num = ' class="num"'
    head = "".join(f'<th{num if k in NUMERIC else ""} scope="col">{esc(h)}</th>' for k, h, _ in columns)
    body = []
    for row in rows:
        cells = []
        for key, _, fmt in columns:
            value = row.get(key)
            text = esc(fmt(value)) if key in NUMERIC else bdi(fmt(value))
            if status and key == "status" and value:
                c = charts.STATUS_COLOURS.get(value, "#555555")
                text = f'<span class="status" style="background:{c}">{text}</span>'
            cls = ' class="wrap"' if wrap and key in wrap else _cell_class(key, value)
            cells.append(f"<td{cls}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'
