"""Provenance and coverage of a report: which version, database, config and crawls produced
it, and what is missing (source runs that failed, days a community went unobserved).

The run log is crafted row by row so every expected count follows from the definitions in
docs/reports.md; the SQL runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert
from typer.testing import CliRunner

import crawler
from crawler.cli import app
from crawler.db.engine import make_engine, upgrade
from crawler.db.models import Community, CrawlRun, Metric, RunSource, StatusChange
from crawler.report import build_report, render
from crawler.report.charts import growth_chart, parse_time
from crawler.report.provenance import config_sha256, database_label
from tests.conftest import write_config

NOW = datetime(2018, 2, 28, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
WINDOW = timedelta(days=10)


def at(days_ago: float, hour: int = 0) -> datetime:
    return NOW - days_ago * DAY + timedelta(hours=hour)


def add_run(
    engine: Engine, started: datetime, sources: dict[str, tuple[str, int]], status: str = "ok"
) -> int:
    """One crawl_runs row and its run_sources rows: {source: (status, targets failed)}."""
    with engine.begin() as conn:
        run_id = conn.execute(
            insert(CrawlRun.__table__).values(
                started_at=started,
                finished_at=None if status == "running" else started + timedelta(minutes=30),
                trigger="schedule",
                status=status,
                requests=0,
                items=0,
                errors=0,
                version="0.0.9",
            )
        ).inserted_primary_key[0]
        for source, (st, errors) in sources.items():
            conn.execute(
                insert(RunSource.__table__).values(
                    run_id=run_id,
                    source=source,
                    status=st,
                    requests=1,
                    items=1,
                    errors=errors,
                    retries=0,
                    rate_limited_seconds=0.0,
                )
            )
    return int(run_id)


def crafted_log(engine: Engine) -> dict[str, int]:
    """Runs before, inside and after the window, with every source outcome."""
    ids = {
        "before": add_run(engine, at(12), {"reddit": ("failed", 9)}),
        "d9": add_run(engine, at(9, 3), {"reddit": ("ok", 0), "x": ("skipped", 0), "github": ("ok", 0)}),
        "d8": add_run(
            engine,
            at(8, 3),
            {"reddit": ("partial", 2), "x": ("skipped", 0), "github": ("failed", 5)},
            "failed",
        ),
        "d8b": add_run(engine, at(8, 8), {"reddit": ("ok", 0), "github": ("ok", 0)}),
        # The process died: its reddit row never left `running`; that is a failure.
        "d5": add_run(engine, at(5, 3), {"reddit": ("running", 0), "github": ("ok", 0)}, "aborted"),
        "d2": add_run(engine, at(2, 3), {"reddit": ("partial", 1), "x": ("ok", 0)}, "partial"),
        # Still in progress at report time: counted as a run, its sources not yet.
        "now": add_run(engine, at(0, -1), {"reddit": ("running", 0)}, "running"),
        "after": add_run(engine, at(-1), {"reddit": ("ok", 0)}),
    }
    return ids


def test_provenance_names_version_database_config_and_the_runs_of_the_window(engine: Engine) -> None:
    ids = crafted_log(engine)
    rep = build_report(
        engine,
        since=WINDOW,
        now=NOW,
        database="postgresql+psycopg://alice:s3cret@db.example:5432/dfwatch",
        config_sha256="ab" * 32,
    )
    p = rep["provenance"]
    assert set(p) == {"dfwatch_version", "database", "config_sha256", "generated_at", "runs"}
    assert p["dfwatch_version"] == crawler.__version__
    assert p["database"] == "postgresql+psycopg://db.example:5432/dfwatch"
    assert p["config_sha256"] == "ab" * 32 and p["generated_at"] == "2018-02-28T12:00:00Z"
    window = [ids[k] for k in ("d9", "d8", "d8b", "d5", "d2", "now")]
    assert p["runs"] == {
        "count": 6,
        "ids": window,
        "first_started_at": "2018-02-19T15:00:00Z",
        "last_finished_at": "2018-02-26T15:30:00Z",
    }


def test_provenance_without_runs_is_empty_not_missing(sqlite_engine: Engine) -> None:
    p = build_report(sqlite_engine, since=WINDOW, now=NOW)["provenance"]
    assert p["runs"] == {"count": 0, "ids": [], "first_started_at": None, "last_finished_at": None}
    assert p["config_sha256"] is None
    assert p["database"].startswith("sqlite:///") and "mode=ro" not in p["database"]


def test_coverage_counts_each_outcome_per_source_against_the_run_log(engine: Engine) -> None:
    crafted_log(engine)
    rep = build_report(engine, since=WINDOW, now=NOW)
    cov = {c["source"]: c for c in rep["coverage"]}
    assert list(cov) == ["github", "reddit", "x"]
    assert cov["reddit"] == {
        "source": "reddit",
        "runs": 5,  # d9 ok, d8 partial, d8b ok, d5 unfinished (failed), d2 partial
        "ok": 2,
        "partial": 2,
        "failed": 1,
        "skipped": 0,
        "targets_failed": 3,
        "cost_usd": None,  # Reddit does not charge
    }
    assert cov["x"] == {
        "source": "x",
        "runs": 1,
        "ok": 1,
        "partial": 0,
        "failed": 0,
        "skipped": 2,
        "targets_failed": 0,
        "cost_usd": None,  # this crafted log recorded no charges
    }
    assert (
        cov["github"]["runs"] == 4 and cov["github"]["failed"] == 1 and cov["github"]["targets_failed"] == 5
    )


def test_coverage_days_show_the_best_outcome_of_each_day(engine: Engine) -> None:
    crafted_log(engine)
    days = {(d["source"], d["day"]): d for d in build_report(engine, since=WINDOW, now=NOW)["coverage_days"]}
    # github failed in the morning of day −8 and succeeded in the afternoon: the day is covered.
    assert days[("github", "2018-02-20")]["status"] == "ok"
    assert days[("github", "2018-02-20")]["failed"] == 1 and days[("github", "2018-02-20")]["ok"] == 1
    assert days[("x", "2018-02-19")]["status"] == "skipped"
    assert days[("reddit", "2018-02-23")]["status"] == "failed"
    assert ("reddit", "2018-02-27") not in days  # no run of reddit that day
    assert ("reddit", "2018-02-28") not in days  # the run in progress is not counted yet


def test_communities_carry_last_observation_and_days_observed(engine: Engine) -> None:
    with engine.begin() as conn:
        cid, quiet, never = (
            conn.execute(
                insert(Community.__table__).values(
                    platform="reddit", kind="subreddit", handle=h, status="active", first_seen_at=at(400)
                )
            ).inserted_primary_key[0]
            for h in ("watched", "quiet", "never")
        )
        rows = [(cid, "members", d, 6) for d in (9, 8, 8, 5, 4)]  # two rows on day −8
        rows += [(cid, "posts_per_day", d, 0) for d in (8, 3)]  # another metric: day −3 is new
        rows += [(cid, "members", 30, 0)]  # before the window
        rows += [(quiet, "members", 20, 0)]  # observed, but not in the window
        conn.execute(
            insert(Metric.__table__),
            [
                {
                    "community_id": c,
                    "metric": m,
                    "value": 1.0,
                    "observed_at": at(d, h) + timedelta(minutes=i),
                    "source": "reddit_api",
                }
                for i, (c, m, d, h) in enumerate(rows)
            ],
        )
    comms = {c["handle"]: c for c in build_report(engine, since=WINDOW, now=NOW)["communities"]}
    assert comms["watched"]["observed_days"] == 5  # days −9, −8, −5, −4, −3
    assert comms["watched"]["last_observed_at"] == "2018-02-25T12:06:00Z"
    assert comms["quiet"]["observed_days"] == 0
    assert comms["quiet"]["last_observed_at"] == "2018-02-08T12:08:00Z"
    assert comms["never"]["observed_days"] == 0 and comms["never"]["last_observed_at"] is None
    assert never is not None


def test_a_report_for_a_past_date_shows_each_community_as_it_stood_then(engine: Engine) -> None:
    """Status, reason and last check as of `now`, not as of today; later communities left out."""
    with engine.begin() as conn:

        def community(handle: str, status: str, first_seen: float, checked: float, reason: str | None) -> int:
            values = dict(platform="reddit", kind="subreddit", handle=handle, status=status)
            values.update(first_seen_at=at(first_seen), last_checked_at=at(checked), status_reason=reason)
            return int(conn.execute(insert(Community.__table__).values(**values)).inserted_primary_key[0])

        banned = community("banned_later", "banned", 20, 1, "banned by Reddit")
        steady = community("steady", "active", 20, 6, None)
        community("watched_later", "active", 3, 1, None)
        changes = [(banned, None, "active", 20, None), (banned, "active", "banned", 2, "banned by Reddit")]
        changes += [(steady, None, "active", 20, None)]
        conn.execute(
            insert(StatusChange.__table__),
            [
                {"community_id": c, "old_status": o, "new_status": n, "observed_at": at(d), "reason": r}
                for c, o, n, d, r in changes
            ],
        )
        conn.execute(
            insert(Metric.__table__),
            [
                {
                    "community_id": c,
                    "metric": "members",
                    "value": 10.0,
                    "observed_at": at(d),
                    "source": "reddit_api",
                }
                for c in (banned, steady)
                for d in (20, 12, 6, 2)
                if not (c == steady and d == 2)
            ],
        )
    today = {c["handle"]: c for c in build_report(engine, since=WINDOW, now=NOW)["communities"]}
    assert today["banned_later"]["status"] == "banned"
    assert today["banned_later"]["last_checked_at"] == "2018-02-27T12:00:00Z"
    assert set(today) == {"banned_later", "steady", "watched_later"}

    then = {c["handle"]: c for c in build_report(engine, since=WINDOW, now=at(5))["communities"]}
    assert set(then) == {"banned_later", "steady"}  # watched_later was first seen 3 days ago
    assert then["banned_later"]["status"] == "active"  # banned 2 days ago, not yet 5 days ago
    assert then["banned_later"]["last_checked_at"] == "2018-02-22T12:00:00Z"  # its last measure by then
    assert then["steady"]["status"] == "active"
    assert then["steady"]["last_checked_at"] == "2018-02-22T12:00:00Z"  # checked 6 days ago: its own


def test_config_hash_follows_the_files_as_loaded(tmp_path: Path) -> None:
    d = write_config(tmp_path / "cfg", {"reddit": {"subreddits": ["SFWdeepfakes"]}})
    first = config_sha256(d)
    assert first is not None and re.fullmatch(r"[0-9a-f]{64}", first)
    assert config_sha256(d) == first
    copy = write_config(tmp_path / "elsewhere", {"reddit": {"subreddits": ["SFWdeepfakes"]}})
    assert config_sha256(copy) == first  # where the directory lives does not matter
    write_config(d, {"reddit": {"subreddits": ["SFWdeepfakes", "deepfakes"]}})
    second = config_sha256(d)
    assert second != first
    (d / "watchlist.d").mkdir()
    (d / "watchlist.d" / "discovered.yaml").write_text("telegram:\n  channels: [faceswapnews]\n")
    third = config_sha256(d)
    assert third != second
    (d / "watchlist.d" / "notes.txt").write_text("not a config file")
    assert config_sha256(d) == third
    assert config_sha256(None) is None and config_sha256(tmp_path / "missing") is None


def test_database_label_drops_every_credential() -> None:
    assert database_label("postgresql://u:pw@h:5432/db?password=x&sslmode=require") == (
        "postgresql://h:5432/db?sslmode=require"
    )
    assert database_label("sqlite:///data/dfwatch.db") == "sqlite:///data/dfwatch.db"


def test_report_command_stamps_the_config_hash_and_the_database(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "cfg", {"reddit": {"subreddits": ["SFWdeepfakes"]}})
    db = tmp_path / "db.sqlite"
    eng = make_engine(f"sqlite:///{db}")
    upgrade(eng)
    add_run(eng, datetime.now(UTC) - DAY, {"reddit": ("ok", 0)})
    eng.dispose()
    env = {"DFWATCH_DATABASE_URL": f"sqlite:///{db}"}
    result = CliRunner().invoke(app, ["report", "--format", "json", "--config", str(cfg)], env=env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["provenance"]["config_sha256"] == config_sha256(cfg)
    assert data["provenance"]["database"] == f"sqlite:///{db}"
    assert data["provenance"]["runs"]["count"] == 1
    assert data["coverage"][0]["source"] == "reddit" and data["coverage"][0]["ok"] == 1


# --- renderings ------------------------------------------------------------------------


@pytest.fixture
def covered(sqlite_engine: Engine) -> dict[str, Any]:
    crafted_log(sqlite_engine)
    return build_report(
        sqlite_engine, since=WINDOW, now=NOW, database="sqlite:///x.db", config_sha256="c0" * 32
    )


def test_every_format_carries_the_provenance(covered: dict[str, Any]) -> None:
    run_ids = covered["provenance"]["runs"]["ids"]
    for fmt in ("table", "md", "html"):
        out = render(covered, fmt)
        assert f"dfwatch version: {crawler.__version__}" in out, fmt
        assert "c0" * 32 in out and "sqlite:///x.db" in out, fmt
    assert '<footer class="provenance">' in render(covered, "html")
    assert "## Provenance" in render(covered, "md")
    lines = render(covered, "csv").splitlines()
    head = json.loads(lines[0].removeprefix("# dfwatch provenance: "))
    assert head == covered["provenance"] and head["runs"]["ids"] == run_ids
    rows = list(csv.DictReader(lines[1:]))
    reddit = next(r for r in rows if r["section"] == "coverage" and r["source"] == "reddit")
    assert (reddit["runs"], reddit["failed"], reddit["targets_failed"]) == ("5", "1", "3")


def test_html_coverage_grid_has_a_cell_per_source_and_day(covered: dict[str, Any]) -> None:
    page = render(covered, "html")
    assert "<h2>Coverage</h2>" in page
    grid = page[page.index('aria-label="crawl coverage per source and day"') :]
    grid = grid[: grid.index("</svg>")]
    days = 11  # 18 Feb 12:00 to 28 Feb 12:00 touches 11 UTC days
    assert grid.count("<rect") == 3 * days + 1  # three sources, one frame
    assert "reddit 2018-02-27: no run" in grid
    assert "github 2018-02-20: ok (1 ok, 1 failed)" in grid


def test_html_report_without_runs_says_so_instead_of_an_empty_grid(sqlite_engine: Engine) -> None:
    page = render(build_report(sqlite_engine, since=WINDOW, now=NOW), "html")
    assert "(no crawl runs in this window)" in page and "crawl coverage per source" not in page


def test_growth_chart_breaks_the_line_across_a_day_without_an_observation() -> None:
    t0, t1 = at(10), NOW
    day = [(at(d, 6).isoformat().replace("+00:00", "Z")) for d in (9, 8, 7, 5, 4, 3)]  # day −6 missing
    series = [
        {
            "platform": "reddit",
            "kind": "subreddit",
            "handle": "x",
            "points": [[t, 100 + i] for i, t in enumerate(day)],
        }
    ]
    svg = growth_chart(series, t0, t1)
    lines = re.findall(r'<polyline points="([^"]+)"', svg)
    assert len(lines) == 2, svg
    assert [len(p.split()) for p in lines] == [3, 3]
    every_day = [{**series[0], "points": [[at(d, 6).isoformat(), 100] for d in range(9, 2, -1)]}]
    assert len(re.findall(r"<polyline", growth_chart(every_day, t0, t1))) == 1
    assert parse_time(day[0]) < parse_time(day[-1])


def test_growth_chart_draws_a_lone_day_between_gaps_as_a_dot() -> None:
    pts = [[at(d, 6).isoformat(), 50] for d in (9, 8, 6, 4, 3)]  # day −6 stands alone
    svg = growth_chart([{"platform": "x", "kind": "account", "handle": "a", "points": pts}], at(10), NOW)
    assert len(re.findall(r"<polyline", svg)) == 2 and len(re.findall(r"<circle", svg)) == 1
