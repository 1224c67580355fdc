"""X spend counted and capped: prices per read, each id billed once per UTC day, caps that stop
the source before it would pass them (crawler.sources.billing; the X source end to end with
real tweepy against the fake X API)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crawler.errors import BudgetExhausted
from crawler.run import run_crawl
from crawler.sources.base import MemoryLedger, SourceContext
from crawler.sources.billing import Meter
from tests.conftest import Sleeps
from tests.conftest import config_rows as rows
from tests.fakes.x import SEARCH, TOKEN, FakeX, snowflake

QUERY = "DeepFaceLab"
FIRST_ID = snowflake(datetime.now(UTC) - timedelta(hours=1))
# Crawl days near the real now (the fake's recent search reaches 7 days back from it).
TODAY = datetime.now(UTC).replace(hour=1, minute=0, second=0, microsecond=0)


# --------------------------------------------------------------------------- the meter


class Clock:
    def __init__(self, when: datetime) -> None:
        self.when = when

    def __call__(self) -> datetime:
        return self.when


def meter(make_config: Any, clock: Clock, ledger: MemoryLedger, **caps: float) -> Meter:
    ctx = SourceContext("x", make_config({}), lambda _r: None, ledger=ledger, clock=clock)
    return Meter(ctx, {"post": 0.005, "user": 0.010, "counts_request": 0.001}, **caps)


def test_reads_are_priced_and_each_id_is_billed_once_per_utc_day(make_config: Any) -> None:
    ledger, clock = MemoryLedger(), Clock(TODAY)
    m = meter(make_config, clock, ledger)
    assert m.charge("post", ["1", "2", "3", "3"]) == pytest.approx(0.015)  # a repeat in one answer
    assert m.charge("user", ["alice", "bob"]) == pytest.approx(0.020)
    assert m.charge_request("counts_request") == pytest.approx(0.001)
    clock.when = TODAY + timedelta(hours=20)  # later the same UTC day, another crawl
    again = meter(make_config, clock, ledger)
    assert again.charge("post", ["2", "3", "4"]) == pytest.approx(0.005)  # only 4 is new today
    assert again.charge_request("counts_request") == pytest.approx(0.001)  # requests: every time
    clock.when = TODAY + timedelta(days=1)  # past midnight UTC: billed again
    assert again.charge("post", ["2", "3"]) == pytest.approx(0.010)
    assert m.spent == pytest.approx(0.036) and again.spent == pytest.approx(0.016)
    assert ledger.day_total(TODAY.date()) == pytest.approx(0.042)


def test_a_read_that_could_pass_a_cap_is_refused_before_it_is_sent(make_config: Any) -> None:
    ledger, clock = MemoryLedger(), Clock(TODAY)
    m = meter(make_config, clock, ledger, max_run_usd=0.60)
    m.allow(m.worst("post", 100), "a page")  # 0.50 fits
    m.charge("post", [str(i) for i in range(100)])
    assert m.affordable("post") == 20
    with pytest.raises(BudgetExhausted, match="max_cost_usd_per_run"):
        m.allow(m.worst("post", 21), "a page")
    # The day's cap counts what earlier crawls of the day spent.
    later = meter(make_config, clock, ledger, max_day_usd=0.55)
    assert later.remaining() == pytest.approx(0.05)
    with pytest.raises(BudgetExhausted, match="max_cost_usd_per_day"):
        later.allow(later.worst("user", 6), "6 accounts")


# --------------------------------------------------------------------------- through tweepy


@pytest.fixture
def fake() -> Iterator[FakeX]:
    with FakeX() as server:
        yield server


@pytest.fixture
def x_config(make_config: Any, fake: FakeX, db_url: str) -> Any:
    def _make(settings: str = "", accounts: list[str] | None = None) -> Any:
        watch = {"x": {"accounts": accounts or [], "queries": [QUERY]}}
        env = {"DFWATCH_ENDPOINT_X": fake.url, "X_BEARER_TOKEN": TOKEN}
        return make_config(watch, settings, env=env, db_url=db_url)

    return _make


def crawl_at(config: Any, when: datetime, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("DFWATCH_NOW", when.isoformat())
    return run_crawl(config, only=["x"], sleep=Sleeps())


def last_cost(config: Any) -> float:
    ((cost,),) = rows(
        config, "select cost_usd from run_sources where source = 'x' order by run_id desc limit 1"
    )
    return float(cost)


def cursor(config: Any) -> str:
    ((value,),) = rows(config, "select value from source_state where source = 'x'")
    return str(value)


def test_the_runs_of_one_day_are_charged_as_x_charges_them(
    fake: FakeX, x_config: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("alpha", "beta", "gamma"):
        fake.add_user(name)
    fake.suspend("gamma")  # an error entry, not data: not billed
    fake.add_tweets(QUERY, fake.make_tweets(30, start_id=FIRST_ID))
    config = x_config(accounts=["alpha", "beta", "gamma"])

    crawl_at(config, TODAY, monkeypatch)
    assert last_cost(config) == pytest.approx(2 * 0.010 + 30 * 0.005)

    # The same day, a crawl that lost its cursor reads all 35 posts again: 5 are new today.
    fake.add_tweets(QUERY, fake.make_tweets(5, start_id=FIRST_ID + 100))
    with_rows = rows(config, "select count(*) from billed_reads")
    assert with_rows == [(32,)]
    from crawler.db.engine import make_engine

    engine = make_engine(config.database_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM source_state WHERE source = 'x'")
    engine.dispose()
    crawl_at(config, TODAY + timedelta(hours=12), monkeypatch)
    assert last_cost(config) == pytest.approx(5 * 0.005)

    # The next UTC day everything read is billed again.
    crawl_at(config, TODAY + timedelta(days=1), monkeypatch)
    assert last_cost(config) == pytest.approx(2 * 0.010)  # no new posts since the cursor
    days = rows(config, "select day, sum(cost_usd) from billed_reads group by day order by day")
    assert [(d, round(c, 3)) for d, c in days] == [
        (TODAY.date().isoformat(), 0.195),
        ((TODAY + timedelta(days=1)).date().isoformat(), 0.02),
    ]


def test_the_budget_stops_reading_stores_nothing_past_it_and_the_next_crawl_fills_the_gap(
    fake: FakeX, x_config: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.add_tweets(QUERY, fake.make_tweets(250, start_id=FIRST_ID))
    capped = x_config("[x]\nmax_cost_usd_per_run = 0.60\n")

    result = crawl_at(capped, TODAY, monkeypatch)

    assert result.status == "partial"
    ((status, summary, cost),) = rows(capped, "select status, error_summary, cost_usd from run_sources")
    assert (
        status == "partial" and summary.startswith("x budget: budget:") and "max_cost_usd_per_run" in summary
    )
    assert cost == pytest.approx(0.60)  # 100 posts, then a page of 20 the rest of the budget covers
    searches = [p for path, p in fake.log if path == SEARCH]
    assert [p["max_results"] for p in searches] == ["100", "20"]  # the third page was never asked
    stored = sorted(int(r[0]) for r in rows(capped, "select external_id from posts"))
    assert stored == list(range(FIRST_ID + 130, FIRST_ID + 250))  # the newest 120, nothing more
    # The cursor says what the stored pages cover: the newest post, and the gap below them.
    assert json.loads(cursor(capped)) == {"newest": str(FIRST_ID + 249), "gap": [None, str(FIRST_ID + 130)]}

    fake.add_tweets(QUERY, fake.make_tweets(3, start_id=FIRST_ID + 1000))
    result = crawl_at(x_config(), TODAY + timedelta(hours=6), monkeypatch)

    assert result.status == "ok"
    later = [p for path, p in fake.log if path == SEARCH][2:]
    assert later[0].get("until_id") == str(FIRST_ID + 130) and "since_id" not in later[0]  # the gap first
    assert later[-1]["since_id"] == str(FIRST_ID + 249) and "until_id" not in later[-1]  # then the new posts
    assert rows(capped, "select count(*), count(distinct external_id) from posts") == [(253, 253)]
    assert cursor(capped) == str(FIRST_ID + 1002)
    assert last_cost(capped) == pytest.approx(133 * 0.005)


def test_the_days_cap_holds_across_crawls(
    fake: FakeX, x_config: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(30):
        fake.add_user(f"acct_{i}")
    config = x_config("[x]\nmax_cost_usd_per_day = 0.50\n", accounts=[f"acct_{i}" for i in range(30)])

    assert crawl_at(config, TODAY, monkeypatch).status == "ok"  # 30 users: $0.30
    assert last_cost(config) == pytest.approx(0.30)
    fake.add_tweets(QUERY, fake.make_tweets(100, start_id=FIRST_ID))

    second = crawl_at(config, TODAY + timedelta(hours=3), monkeypatch)

    # Users again: free today. Posts: $0.20 of the day's $0.50 remain, so 40 of them.
    assert second.status == "partial"
    assert last_cost(config) == pytest.approx(0.20)
    assert rows(config, "select count(*) from posts") == [(40,)]
    assert "max_cost_usd_per_day" in second.sources["x"].stats.error_summary


def test_sources_and_the_report_show_the_spend(
    fake: FakeX, x_config: Any, monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    from typer.testing import CliRunner

    from crawler.cli import app
    from crawler.db.engine import make_engine
    from crawler.report import build_report, render

    fake.add_tweets(QUERY, fake.make_tweets(40, start_id=FIRST_ID))
    config = x_config()
    crawl_at(config, datetime.now(UTC), monkeypatch)
    crawl_at(config, datetime.now(UTC) + timedelta(minutes=1), monkeypatch)  # nothing new: $0

    env = {"DFWATCH_DATABASE_URL": db_url, "DFWATCH_PSEUDONYM_KEY": "k", "X_BEARER_TOKEN": ""}
    result = CliRunner().invoke(app, ["sources", "--config", str(config.directory)], env=env)
    assert result.exit_code == 0, result.output
    assert "x: $0.20 spent in the last 30 days (2 runs; estimated platform charges)" in result.output

    monkeypatch.delenv("DFWATCH_NOW")
    engine = make_engine(db_url)
    try:
        # DFWATCH_NOW runs on from when this process started: read the window from a day on.
        report = build_report(engine, since=timedelta(days=30), now=datetime.now(UTC) + timedelta(days=1))
    finally:
        engine.dispose()
    assert report["spend"] == [{"source": "x", "cost_usd": 0.2, "runs": 2}]
    (coverage,) = report["coverage"]  # the coverage row carries the spend of the window too
    assert (coverage["source"], coverage["runs"], coverage["cost_usd"]) == ("x", 2, 0.2)
    assert "| x | 2 | 2 | 0 | 0 | 0 | 0 | 0.20 |" in render(report, "md")
    (query,) = report["communities"]
    assert query["last_checked_at"] is None  # a query has no status to check
    assert "Platform charges (last 30d)" in render(report, "md")
