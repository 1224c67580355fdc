"""The "where they went" section in every format (the JSON carries `migrations` as built).

One flat row per (ban, linked community or domain): table, Markdown and HTML show the
linked communities and the domains; the CSV has a `migration` row per linked community and
a `migration_domain` row per domain, the banned community in platform/handle and the linked
one in target_platform/target_kind/target_handle.
"""

from __future__ import annotations

from typing import Any

from crawler.report.migrations import SPAN

Column = tuple[str, str, Any]

TITLE = (
    f"Where they went ({SPAN.days} days after each ban or suspension, against the {SPAN.days} days before)"
)
CSV_FIELDS = ["target_platform", "target_kind", "target_handle", "posts_before", "posts_after", "watched"]


def _fmt_text(v: Any) -> str:
    return "—" if v is None or v == "" else str(v)


def _fmt_count(v: Any) -> str:
    return "—" if v is None else f"{v:,.0f}"


def _fmt_delta(v: Any) -> str:
    return "—" if v is None else ("0" if v == 0 else f"{v:+,.0f}")


def _fmt_time(v: Any) -> str:
    return "—" if not v else str(v).replace("T", " ").replace("Z", "")[:16]


def _name(kind: str, handle: str) -> str:
    prefix = {"subreddit": "r/", "account": "@", "hashtag": "#", "channel": "t.me/"}.get(kind, "")
    return f"{prefix}{handle}"


COLUMNS: list[Column] = [
    ("banned", "community", _fmt_text),
    ("observed_at", "observed (UTC)", _fmt_time),
    ("new_status", "status", _fmt_text),
    ("target", "linked to", _fmt_text),
    ("posts_before", "posts before", _fmt_count),
    ("posts_after", "posts after", _fmt_count),
    ("change", "change", _fmt_delta),
    ("now", "now", _fmt_text),
]
NUMERIC = {"posts_before", "posts_after", "change"}


def rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Flat rows for the table, Markdown and HTML: linked communities first, then domains."""
    out = []
    for m in report.get("migrations", []):
        base = {
            "banned": f"{m['platform']} {_name(m.get('kind', ''), m['handle'])}",
            "observed_at": m["observed_at"],
            "new_status": m["new_status"],
        }
        for a in m["after"]:
            out.append(
                {
                    **base,
                    "target": f"{a['platform']} {a['kind']} {a['handle']}",
                    "posts_before": a["posts_before"],
                    "posts_after": a["posts_after"],
                    "change": a["posts_after"] - a["posts_before"],
                    "now": "watched" if a.get("watched") else "not watched",
                }
            )
        for d in m.get("domains", []):
            out.append(
                {
                    **base,
                    "target": d["domain"],
                    "posts_before": d["posts_before"],
                    "posts_after": d["posts_after"],
                    "change": d["posts_after"] - d["posts_before"],
                    "now": "domain",
                }
            )
        if not m["after"] and not m.get("domains"):
            out.append({**base, "target": "(no links in either window)"})
    return out


def section(report: dict[str, Any]) -> tuple[str, list[Column], list[dict[str, Any]]]:
    """(title, columns, rows) as render_text.sections lists them."""
    return (TITLE, COLUMNS, rows(report))


def csv_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for m in report.get("migrations", []):
        base = {
            "platform": m["platform"],
            "kind": m.get("kind"),
            "handle": m["handle"],
            "observed_at": m["observed_at"],
            "new_status": m["new_status"],
        }
        for a in m["after"]:
            out.append(
                {
                    "section": "migration",
                    **base,
                    "target_platform": a["platform"],
                    "target_kind": a["kind"],
                    "target_handle": a["handle"],
                    "posts_before": a["posts_before"],
                    "posts_after": a["posts_after"],
                    "watched": a.get("watched"),
                }
            )
        for d in m.get("domains", []):
            out.append(
                {
                    "section": "migration_domain",
                    **base,
                    "domain": d["domain"],
                    "posts_before": d["posts_before"],
                    "posts_after": d["posts_after"],
                }
            )
    return out


def html(report: dict[str, Any], table: Any) -> str:
    """The HTML section; `table(columns, rows)` is the page's own table renderer."""
    note = (
        '<p class="note">For each ban or suspension in the window: the communities and sites the '
        f"other watched communities linked to in the {SPAN.days} days after it against the "
        f"{SPAN.days} days before (distinct posts), and whether the linked communities are watched "
        "now (auto-watch or <code>dfwatch watch add</code>). Candidates: <code>dfwatch discover</code>.</p>"
    )
    return f"<h2>Where they went</h2>{note}{table(COLUMNS, rows(report))}"
