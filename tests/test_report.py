"""Trend report figures on hand-made series, on SQLite and PostgreSQL, and every text format.

Rows are inserted straight into the tables (SQLAlchemy core), so each test states exactly
which observations exist and the expected figure follows from the definitions in
docs/reports.md.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, insert

from crawler.db.models import Community, Mention, Metric, Post, StatusChange, Tool
from crawler.report import build_report, parse_since, render

NOW = datetime(2018, 2, 28, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
CONTRACT_COMMUNITY = {
    "platform",
    "kind",
    "handle",
    "status",
    "metric",
    "value",
    "last_checked_at",  # when the status was last checked (patient re-checks of dead communities)
    "members",
    "delta_1d",
    "delta_7d",
    "delta_30d",
    "growth_7d_pct",
    "growth_30d_pct",
    "doubling_days",
    "posts_7d",
    "last_observed_at",
    "observed_days",
}
CONTRACT_CHANGE = {"platform", "handle", "observed_at", "old_status", "new_status", "reason"}
CONTRACT_TOOL = {"name", "mentions_7d", "mentions_prev_7d", "mentions_total"}
CONTRACT_DOMAIN = {"domain", "posts_7d", "share"}


class DB:
    """Tiny writer of hand-made rows; ids are returned so tests can hang rows off them."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.post_seq = 0

    def community(
        self, handle: str, platform: str = "reddit", kind: str = "subreddit", status: str = "active"
    ) -> int:
        with self.engine.begin() as conn:
            res = conn.execute(
                insert(Community.__table__).values(
                    platform=platform, kind=kind, handle=handle, status=status, first_seen_at=NOW - 400 * DAY
                )
            )
            return int(res.inserted_primary_key[0])

    def members(
        self,
        cid: int,
        points: list[tuple[datetime, float]],
        source: str = "reddit_api",
        metric: str = "members",
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(Metric.__table__),
                [
                    {"community_id": cid, "metric": metric, "value": v, "observed_at": t, "source": source}
                    for t, v in points
                ],
            )

    def post(
        self,
        cid: int,
        created_at: datetime | None,
        domain: str | None = None,
        tools: tuple[int, ...] = (),
        platform: str = "reddit",
    ) -> int:
        self.post_seq += 1
        with self.engine.begin() as conn:
            res = conn.execute(
                insert(Post.__table__).values(
                    community_id=cid,
                    platform=platform,
                    external_id=f"p{self.post_seq}",
                    created_at=created_at,
                    first_seen_at=NOW,
                    last_seen_at=NOW,
                    link_domain=domain,
                    state="visible",
                )
            )
            pid = int(res.inserted_primary_key[0])
            for tid in tools:
                conn.execute(insert(Mention.__table__).values(post_id=pid, tool_id=tid))
            return pid

    def tool(self, name: str) -> int:
        with self.engine.begin() as conn:
            return int(conn.execute(insert(Tool.__table__).values(name=name)).inserted_primary_key[0])

    def status(self, cid: int, at: datetime, old: str | None, new: str, reason: str | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(StatusChange.__table__).values(
                    community_id=cid, observed_at=at, old_status=old, new_status=new, reason=reason
                )
            )


@pytest.fixture
def db(engine: Engine) -> DB:
    return DB(engine)


def report(db: DB, **kw: Any) -> dict[str, Any]:
    kw.setdefault("since", timedelta(days=30))
    return build_report(db.engine, now=NOW, **kw)


def row(rep: dict[str, Any], handle: str) -> dict[str, Any]:
    return next(c for c in rep["communities"] if c["handle"] == handle)


def days_ago(n: float) -> datetime:
    return NOW - n * DAY


# --- members: deltas, growth, doubling -----------------------------------------------------


def test_delta_7d_over_a_gap_uses_the_last_value_at_or_before_the_cutoff(db: DB) -> None:
    cid = db.community("gappy")
    # latest at day 1; 7 days before is day 8, where nothing was observed: day 9 (200) is used.
    db.members(cid, [(days_ago(12), 100), (days_ago(9), 200), (days_ago(2), 400), (days_ago(1), 500)])
    c = row(report(db), "gappy")
    assert c["members"] == 500
    assert c["delta_1d"] == 100  # day 2 is exactly 1 day before day 1
    assert c["delta_7d"] == 300  # 500 − 200 (day 9), not 500 − 100
    assert c["growth_7d_pct"] == pytest.approx(150.0)
    assert c["delta_30d"] is None  # nothing at or before day 31
    assert c["growth_30d_pct"] is None
    assert c["doubling_days"] is None


def test_observation_exactly_n_days_before_the_latest_counts_as_at_or_before(db: DB) -> None:
    cid = db.community("exact")
    latest = datetime(2018, 2, 27, 6, 30, 15, 123456, tzinfo=UTC)
    db.members(cid, [(latest - 7 * DAY, 70), (latest - 7 * DAY + timedelta(seconds=1), 71), (latest, 100)])
    c = row(report(db), "exact")
    assert c["delta_7d"] == 30


def test_single_observation_has_members_and_every_delta_null(db: DB) -> None:
    cid = db.community("once")
    db.members(cid, [(days_ago(3), 1234)])
    c = row(report(db), "once")
    assert c["members"] == 1234
    for key in ("delta_1d", "delta_7d", "delta_30d", "growth_7d_pct", "growth_30d_pct", "doubling_days"):
        assert c[key] is None, key


def test_fall_to_zero_at_a_ban_is_minus_100_percent_without_doubling_time(db: DB) -> None:
    cid = db.community("deepfakes", status="banned")
    db.members(cid, [(days_ago(31 + i), 90_000 - 1000 * i) for i in range(5)] + [(days_ago(1), 0)])
    db.status(cid, days_ago(1), "active", "banned", "HTTP 404: banned for involuntary pornography")
    c = row(report(db), "deepfakes")
    assert c["status"] == "banned"
    assert c["members"] == 0
    assert c["delta_30d"] == -90_000
    assert c["growth_30d_pct"] == pytest.approx(-100.0)
    assert c["doubling_days"] is None


def test_unknown_start_is_null_never_zero(db: DB) -> None:
    never = db.community("never_observed", status="unknown")
    young = db.community("three_days_old")
    db.members(young, [(days_ago(3), 10), (days_ago(0.5), 40)])
    rep = report(db)
    assert row(rep, "three_days_old")["delta_1d"] == 30
    assert row(rep, "three_days_old")["delta_7d"] is None
    empty = row(rep, "never_observed")
    assert never and empty["members"] is None and empty["status"] == "unknown"
    assert all(
        empty[k] is None
        for k in CONTRACT_COMMUNITY - {"platform", "kind", "handle", "status", "observed_days", "metric"}
    )
    assert empty["observed_days"] == 0


def test_doubling_time_is_exact_for_a_clean_doubling(db: DB) -> None:
    once = db.community("doubles_in_30")
    db.members(once, [(days_ago(31), 500), (days_ago(1), 1000)])
    thrice = db.community("doubles_every_10")
    db.members(thrice, [(days_ago(30 - d), 100 * 2 ** (d / 10)) for d in range(31)])
    rep = report(db)
    assert row(rep, "doubles_in_30")["doubling_days"] == pytest.approx(30.0, rel=1e-12)
    assert row(rep, "doubles_in_30")["growth_30d_pct"] == pytest.approx(100.0)
    assert row(rep, "doubles_every_10")["doubling_days"] == pytest.approx(10.0, rel=1e-9)
    assert row(rep, "doubles_every_10")["members"] == pytest.approx(800)


def test_shrinking_community_has_no_doubling_time(db: DB) -> None:
    cid = db.community("shrinks")
    db.members(cid, [(days_ago(40), 1000), (days_ago(1), 900)])
    c = row(report(db), "shrinks")
    assert c["growth_30d_pct"] == pytest.approx(-10.0)
    assert c["doubling_days"] is None


def test_growth_from_zero_is_null_not_infinite(db: DB) -> None:
    cid = db.community("from_zero")
    db.members(cid, [(days_ago(8), 0), (days_ago(1), 50)])
    c = row(report(db), "from_zero")
    assert c["delta_7d"] == 50 and c["growth_7d_pct"] is None


def test_same_time_from_two_sources_prefers_the_row_written_last(db: DB) -> None:
    cid = db.community("two_sources")
    t = days_ago(1)
    db.members(cid, [(t - 7 * DAY, 100)], source="arctic_shift")
    db.members(cid, [(t, 150)], source="arctic_shift")
    db.members(cid, [(t, 160)], source="reddit_api")  # written after: wins
    c = row(report(db), "two_sources")
    assert c["members"] == 160 and c["delta_7d"] == 60


def test_observations_after_now_are_ignored(db: DB) -> None:
    cid = db.community("future")
    db.members(cid, [(days_ago(8), 100), (days_ago(1), 200), (NOW + DAY, 999)])
    c = row(report(db), "future")
    assert c["members"] == 200 and c["delta_7d"] == 100


def test_other_metrics_do_not_leak_into_members(db: DB) -> None:
    cid = db.community("repo", platform="github", kind="repo")
    db.members(cid, [(days_ago(1), 5000)], metric="stars")
    assert row(report(db), "repo")["members"] is None


# --- posts_7d -------------------------------------------------------------------------------


def test_posts_7d_counts_stored_posts_and_falls_back_to_posts_per_day(db: DB) -> None:
    sub = db.community("with_posts")
    for t in (days_ago(0.1), days_ago(3), days_ago(6.9), days_ago(7), days_ago(20), None):
        db.post(sub, t)
    quiet = db.community("quiet_now")
    db.post(quiet, days_ago(30))
    q = db.community("DeepFaceLab", platform="x", kind="query")
    # daily buckets: the last observation of a day wins; days older than 7 UTC days are out
    db.members(
        q,
        [
            (datetime(2018, 2, 28, 1, tzinfo=UTC), 5),
            (datetime(2018, 2, 28, 11, tzinfo=UTC), 8),
            (datetime(2018, 2, 22, 0, tzinfo=UTC), 10),
            (datetime(2018, 2, 21, 23, tzinfo=UTC), 1000),
        ],
        source="x_api",
        metric="posts_per_day",
    )
    nothing = db.community("no_posts_known", platform="discord", kind="server")
    rep = report(db)
    assert row(rep, "with_posts")["posts_7d"] == 3  # 7.0 days ago is outside (now − 7d, now]
    assert row(rep, "quiet_now")["posts_7d"] == 0  # posts are stored: a real zero
    assert row(rep, "DeepFaceLab")["posts_7d"] == 18
    assert nothing and row(rep, "no_posts_known")["posts_7d"] is None


# --- status changes, tools, link domains ---------------------------------------------------


def test_status_changes_in_the_window_keep_reason_and_skip_first_seen_active(db: DB) -> None:
    sub = db.community("deepfakes")
    acct = db.community("deepfakesapp", platform="x", kind="account")
    db.status(sub, days_ago(60), None, "active", None)  # first seen, before window
    db.status(sub, days_ago(20), None, "active", None)  # first seen: not news
    db.status(sub, days_ago(10), "active", "quarantined", "HTTP 403: quarantined")
    db.status(sub, days_ago(2), "quarantined", "banned", "banned for violating the content policy")
    db.status(acct, days_ago(40), "active", "suspended", "too old for a 30d window")
    db.status(acct, days_ago(5), None, "suspended", "User has been suspended: [deepfakesapp].")
    rep = report(db)
    changes = [(c["handle"], c["old_status"], c["new_status"], c["reason"]) for c in rep["status_changes"]]
    assert changes == [
        ("deepfakes", "active", "quarantined", "HTTP 403: quarantined"),
        ("deepfakesapp", None, "suspended", "User has been suspended: [deepfakesapp]."),
        ("deepfakes", "quarantined", "banned", "banned for violating the content policy"),
    ]
    assert rep["status_changes"][0]["observed_at"] == "2018-02-18T12:00:00Z"
    assert all(set(c) == CONTRACT_CHANGE for c in rep["status_changes"])


def test_tool_mentions_count_last_week_previous_week_and_total(db: DB) -> None:
    sub = db.community("SFWdeepfakes")
    fakeapp, dfl, unused = db.tool("FakeApp"), db.tool("DeepFaceLab"), db.tool("Unmentioned")
    for t in (days_ago(1), days_ago(2), days_ago(8), days_ago(7), days_ago(100), None):
        db.post(sub, t, tools=(fakeapp,))
    db.post(sub, days_ago(3), tools=(fakeapp, dfl))
    rep = report(db)
    tools = {t["name"]: t for t in rep["tools"]}
    assert tools["FakeApp"] == {
        "name": "FakeApp",
        "mentions_7d": 3,
        "mentions_prev_7d": 2,
        "mentions_total": 7,
    }
    assert tools["DeepFaceLab"]["mentions_7d"] == 1
    assert tools["Unmentioned"] == {
        "name": "Unmentioned",
        "mentions_7d": 0,
        "mentions_prev_7d": 0,
        "mentions_total": 0,
    }
    assert unused and rep["tools"][0]["name"] == "FakeApp"
    weeks = [w for w in rep["tool_weeks"] if w["name"] == "FakeApp"]
    assert len(weeks) == 12 and weeks[-1]["week_end"] == "2018-02-28T12:00:00Z"
    assert [w["mentions"] for w in weeks[-2:]] == [2, 3]  # the same windows as prev_7d and 7d
    assert sum(w["mentions"] for w in weeks) == 5  # day 100 is older than 12 weeks


def test_link_domain_share_is_of_posts_with_a_link_in_the_last_7_days(db: DB) -> None:
    sub = db.community("deepfakes")
    for domain in ("gfycat.com", "gfycat.com", "gfycat.com", "imgur.com", None, None):
        db.post(sub, days_ago(2), domain=domain)
    db.post(sub, days_ago(9), domain="imgur.com")
    rep = report(db)
    assert rep["link_domains"] == [
        {"domain": "gfycat.com", "posts_7d": 3, "share": 0.75},
        {"domain": "imgur.com", "posts_7d": 1, "share": 0.25},
    ]


# --- filters and order ----------------------------------------------------------------------


def _three(db: DB) -> None:
    for handle, platform, kind, gain in (
        ("a", "reddit", "subreddit", 10),
        ("b", "reddit", "subreddit", 500),
        ("c", "x", "account", 50),
    ):
        cid = db.community(handle, platform=platform, kind=kind)
        db.members(cid, [(days_ago(8), 1000), (days_ago(1), 1000 + gain)])
    db.community("unseen")


def test_communities_sort_by_7_day_gain_with_unknown_last_and_top_n(db: DB) -> None:
    _three(db)
    assert [c["handle"] for c in report(db)["communities"]] == ["b", "c", "a", "unseen"]
    assert [c["handle"] for c in report(db, top=2)["communities"]] == ["b", "c"]


def test_platform_and_handle_filters_apply_to_every_section(db: DB) -> None:
    _three(db)
    tool = db.tool("FakeApp")
    db.post(1, days_ago(1), domain="gfycat.com", tools=(tool,))  # community "a" (reddit)
    rep = report(db, platform="x")
    assert [c["handle"] for c in rep["communities"]] == ["c"]
    assert rep["tools"][0]["mentions_7d"] == 0 and rep["link_domains"] == []
    rep = report(db, handles={("reddit", "subreddit", "a"), ("x", "account", "c")})
    assert sorted(c["handle"] for c in rep["communities"]) == ["a", "c"]
    assert rep["tools"][0]["mentions_7d"] == 1 and rep["link_domains"][0]["posts_7d"] == 1


def test_member_series_has_one_point_per_day_for_charted_communities(db: DB) -> None:
    cid = db.community("charted")
    db.members(cid, [(days_ago(2.5), 10), (days_ago(2.1), 12), (days_ago(1), 20), (days_ago(40), 1)])
    series = report(db)["member_series"]
    assert series[0]["handle"] == "charted"
    assert [p[1] for p in series[0]["points"]] == [12, 20]  # day 40 is outside the 30d window


def test_empty_database_gives_an_empty_report(db: DB) -> None:
    rep = report(db)
    assert rep["communities"] == [] and rep["tools"] == [] and rep["member_series"] == []
    for fmt in ("table", "md", "csv", "json", "html"):
        assert render(rep, fmt)


# --- formats (SQLite only: rendering does not touch the database) --------------------------


@pytest.fixture
def sample(sqlite_engine: Engine) -> dict[str, Any]:
    db = DB(sqlite_engine)
    sub = db.community("deepfakes", status="banned")
    db.members(sub, [(days_ago(40 - d), 1000 * 2 ** (d / 10)) for d in range(39)] + [(days_ago(1), 0)])
    db.status(sub, days_ago(1), "active", "banned", 'Reddit said: "banned" | <script>alert(1)</script>')
    db.community("FakeApp", platform="x", kind="query")
    tool = db.tool("FakeApp")
    db.post(sub, days_ago(2), domain="gfycat.com", tools=(tool,))
    return report(db)


def test_json_has_exactly_the_contract_keys(sample: dict[str, Any]) -> None:
    data = json.loads(render(sample, "json"))
    assert {"generated_at", "since", "communities", "status_changes", "tools", "link_domains"} <= set(data)
    assert data["since"] == "30d" and data["generated_at"] == "2018-02-28T12:00:00Z"
    assert all(set(c) == CONTRACT_COMMUNITY for c in data["communities"])
    assert all(set(t) == CONTRACT_TOOL for t in data["tools"])
    assert all(set(d) == CONTRACT_DOMAIN for d in data["link_domains"])
    unknown = next(c for c in data["communities"] if c["handle"] == "FakeApp")
    assert unknown["delta_7d"] is None  # JSON null, not 0


def test_csv_parses_with_one_row_per_item_and_empty_cells_for_unknown(sample: dict[str, Any]) -> None:
    lines = render(sample, "csv").splitlines(keepends=True)
    assert lines[0].startswith("# dfwatch provenance: {")  # one comment line, then the table
    rows = list(csv.DictReader(lines[1:]))
    by_section: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        by_section.setdefault(r["section"], []).append(r)
    assert len(by_section["community"]) == 2 and len(by_section["status_change"]) == 1
    banned = next(r for r in by_section["community"] if r["handle"] == "deepfakes")
    assert float(banned["growth_30d_pct"]) == pytest.approx(-100.0) and banned["doubling_days"] == ""
    assert by_section["status_change"][0]["reason"].startswith('Reddit said: "banned"')
    assert by_section["link_domain"][0]["share"] == "1.0"


def test_markdown_has_a_table_per_section_with_escaped_pipes(sample: dict[str, Any]) -> None:
    md = render(sample, "md")
    for heading in ("## Communities", "## Status changes (last 30d)", "## Tool mentions", "## Link domains"):
        assert heading in md
    assert "| platform | community | status | last checked | size | of |" in md
    # a pipe in scraped text does not break the table, and HTML in it stays text
    assert "\\| \\<script\\>alert(1)\\</script\\>" in md and "<script>" not in md
    assert "| reddit | r/deepfakes | banned | — | 0 | members |" in md


def test_table_format_shows_every_section(sample: dict[str, Any]) -> None:
    out = render(sample, "table")
    for title in ("Communities", "Status changes", "Tool mentions", "Link domains"):
        assert title in out
    assert "r/deepfakes" in out and "-100.0 %" in out and "\x1b[" not in out


def test_html_escapes_scraped_text(sample: dict[str, Any]) -> None:
    html = render(sample, "html")
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # self-contained: nothing that would make a browser fetch anything
    for needle in ("src=", "href=", "url(", "@import", "<script", "<link"):
        assert needle not in html, needle


def test_unknown_format_is_refused(sample: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="unknown report format"):
        render(sample, "xlsx")


# --- parse_since ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", timedelta(days=30)),
        ("12h", timedelta(hours=12)),
        ("2w", timedelta(days=14)),
        (" 7D ", 7 * DAY),
    ],
)
def test_parse_since_reads_hours_days_and_weeks(text: str, expected: timedelta) -> None:
    assert parse_since(text) == expected


@pytest.mark.parametrize("text", ["", "30", "d30", "1.5d", "30m", "0d", "-3d"])
def test_parse_since_refuses_other_spellings_with_a_clear_message(text: str) -> None:
    with pytest.raises(ValueError, match=r"window"):
        parse_since(text)
