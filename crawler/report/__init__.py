"""Trend reports: growth, status changes, tool mentions and link domains, read from the database.

    build_report(engine, since=...)  -> dict   the JSON contract of DESIGN.md (plus chart series)
    render(report, fmt)              -> str    table | md | csv | json | html
    parse_since("30d")               -> timedelta

docs/reports.md defines every figure.
"""

from __future__ import annotations

from crawler.report.build import build_report
from crawler.report.render_text import FORMATS, render
from crawler.report.since import format_since, parse_since

__all__ = ["FORMATS", "build_report", "format_since", "parse_since", "render"]
