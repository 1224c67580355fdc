"""The X source end to end: real tweepy against the fake X API, through `run_crawl`, into the store."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from crawler.db.engine import make_engine
from crawler.db.models import Metric
from crawler.db.store import Store
from crawler.enrich import Enricher
from crawler.records import CommunityKey, Post
from crawler.run import run_crawl
from crawler.sources.x import search_state_key
from tests.conftest import Sleeps
from tests.conftest import config_rows as rows
from tests.fakes.x import COUNTS, SEARCH, TOKEN, USERS_BY, FakeX, snowflake

QUERY = "DeepFaceLab"
FIRST_ID = snowflake(datetime.now(UTC) - timedelta(hours=1))  # a post id from an hour ago


@pytest.fixture
def fake() -> Iterator[FakeX]:
    with FakeX() as server:
        yield server


@pytest.fixture
def x_config(make_config: Any, fake: FakeX) -> Any:
    def _make(
        accounts: list[str] | None = None,
        queries: list[str] | None = None,
        settings: str = "",
        token: str | None = TOKEN,
        db_url: str | None = None,
    ) -> Any:
        env = {"DFWATCH_ENDPOINT_X": fake.url}
        if token:
            env["X_BEARER_TOKEN"] = token
        watch = {"x": {"accounts": accounts or [], "queries": queries or []}}
        return make_config(watch, settings, env=env, db_url=db_url)

    return _make


def status_of(config: Any, handle: str) -> tuple[str, str | None]:
    (row,) = rows(config, "select status, status_reason from communities where handle = :h", h=handle)
    return row[0], row[1]


def cursors(config: Any) -> dict[str, str]:
    """The X source's saved search cursors (`source_state`), by key."""
    return dict(rows(config, "select key, value from source_state where source = 'x'"))


def run_source(config: Any) -> Any:
    (row,) = rows(
        config,
        "select status, requests, retries, rate_limited_seconds, error_summary, errors "
        "from run_sources where source = 'x' order by run_id desc limit 1",
    )
    return row


# --------------------------------------------------------------------------- accounts


def test_250_accounts_are_looked_up_in_three_requests(x_config, fake, db_url):
    names = [f"acct_{i:03d}" for i in range(250)]
    for i, name in enumerate(names):
        fake.add_user(name, followers=1000 + i)
    config = x_config(accounts=names, db_url=db_url)

    result = run_crawl(config, only=["x"], sleep=Sleeps())

    assert result.status == "ok"
    assert fake.requests[USERS_BY] == 3
    assert [len(p["usernames"].split(",")) for path, p in fake.log if path == USERS_BY] == [100, 100, 50]
    members = rows(
        config,
        "select c.handle, m.value from metrics m join communities c on c.id = m.community_id "
        "where m.metric = 'members' and m.source = 'x_api'",
    )
    assert len(members) == 250
    assert dict(members)["acct_249"] == 1249.0
    assert run_source(config).requests == 3  # every request sent is counted


def test_suspended_unknown_and_protected_accounts_get_their_status_with_reasons(x_config, fake, db_url):
    fake.suspend("gone_acct")
    fake.add_user("locked_acct", followers=77, protected=True)
    config = x_config(accounts=["TwitterDev", "gone_acct", "nobody_here", "locked_acct"], db_url=db_url)

    result = run_crawl(config, only=["x"], sleep=Sleeps())

    assert result.status == "ok"
    assert status_of(config, "TwitterDev") == ("active", None)
    assert status_of(config, "gone_acct") == ("suspended", "User has been suspended: [gone_acct].")
    assert status_of(config, "nobody_here") == (
        "not_found",
        "Could not find user with usernames: [nobody_here].",
    )
    assert status_of(config, "locked_acct")[0] == "protected"
    changes = rows(
        config,
        "select c.handle, s.new_status, s.reason from status_changes s "
        "join communities c on c.id = s.community_id where c.handle = 'gone_acct'",
    )
    assert changes == [("gone_acct", "suspended", "User has been suspended: [gone_acct].")]
    metrics = rows(
        config,
        "select m.metric, m.value from metrics m join communities c on c.id = m.community_id "
        "where c.handle = 'TwitterDev' order by m.metric",
    )
    assert metrics == [
        ("following", 2039.0),
        ("listed", 1672.0),
        ("members", 513958.0),
        ("posts_total", 3635.0),
    ]
    assert rows(
        config,
        "select count(*) from metrics m join communities c on c.id = m.community_id "
        "where c.handle = 'gone_acct'",
    ) == [(0,)]  # hidden counts are absent, not 0
    assert rows(
        config,
        "select m.value from metrics m join communities c on c.id = m.community_id "
        "where c.handle = 'locked_acct' and m.metric = 'members'",
    ) == [(77.0,)]


# --------------------------------------------------------------------------- rate limits and faults


def test_429_with_a_reset_header_waits_until_the_reset(x_config, fake):
    fake.fail(USERS_BY, 429, reset_in=42)
    config = x_config(accounts=["TwitterDev"])
    sleeps = Sleeps()

    result = run_crawl(config, only=["x"], sleep=sleeps)

    assert result.status == "ok"
    assert sleeps == [42.0]  # reset minus the server's Date, not a guess
    assert fake.requests[USERS_BY] == 2
    row = run_source(config)
    assert (row.requests, row.retries, row.rate_limited_seconds) == (2, 1, 42.0)
    assert status_of(config, "TwitterDev") == ("active", None)


def test_429_reset_far_away_is_waited_for_at_most_max_wait_seconds(x_config, fake):
    fake.fail(USERS_BY, 429, reset_in=5000)
    config = x_config(accounts=["TwitterDev"], settings="[rate_limits]\nmax_wait_seconds = 60\n")
    sleeps = Sleeps()

    run_crawl(config, only=["x"], sleep=sleeps)

    assert sleeps == [60.0]
    assert status_of(config, "TwitterDev") == ("active", None)


def test_429_without_a_reset_backs_off_boundedly_then_gives_up_and_the_run_is_partial(x_config, fake):
    fake.fail(USERS_BY, 429, times=50, reset_in=None)
    fake.add_tweets(QUERY, fake.make_tweets(3, start_id=FIRST_ID))
    config = x_config(
        accounts=["TwitterDev"],
        queries=[QUERY],
        settings="[rate_limits]\nmax_retries = 3\nbackoff_seconds = 2\n",
    )
    sleeps = Sleeps()

    result = run_crawl(config, only=["x"], sleep=sleeps)

    assert sleeps == [2.0, 4.0, 8.0]  # exponential, then it stops: no recursion
    assert fake.requests[USERS_BY] == 4  # the first try and three retries
    assert result.status == "partial" and result.exit_code == 4
    row = run_source(config)
    assert row.status == "partial"
    assert "x accounts" in row.error_summary and "gave up after 4 attempts (429)" in row.error_summary
    assert status_of(config, "TwitterDev")[0] == "unknown"
    assert rows(config, "select count(*) from posts") == [(3,)]  # the queries still ran


def test_503_is_retried_and_the_answer_stored(x_config, fake):
    fake.fail(COUNTS, 503, times=2)
    config = x_config(queries=[QUERY], settings="[rate_limits]\nbackoff_seconds = 1\n")
    sleeps = Sleeps()

    result = run_crawl(config, only=["x"], sleep=sleeps)

    assert result.status == "ok"
    assert sleeps == [1.0, 2.0]
    assert fake.requests[COUNTS] == 3
    assert run_source(config).rate_limited_seconds == 0.0  # a server error is not a rate limit
    assert rows(config, "select count(*) from metrics where metric = 'posts_per_day'")[0][0] >= 1


def test_403_on_search_keeps_accounts_and_counts_and_records_the_platforms_message(x_config, fake, db_url):
    fake.fail(SEARCH, 403, times=10)
    config = x_config(accounts=["TwitterDev"], queries=[QUERY, "#deepfakes"], db_url=db_url)

    result = run_crawl(config, only=["x"], sleep=Sleeps())

    assert result.status == "partial" and result.exit_code == 4
    assert fake.requests[SEARCH] == 1  # the plan has no access: not asked again per query
    row = run_source(config)
    assert row.status == "partial"
    assert row.error_summary.startswith("x search: HTTP 403")
    assert "client-not-enrolled" in row.error_summary
    assert "You currently have access to a subset of Twitter API v2 endpoints" in row.error_summary
    assert status_of(config, "TwitterDev") == ("active", None)
    per_query = rows(
        config,
        "select c.handle, count(*) from metrics m join communities c on c.id = m.community_id "
        "where m.metric = 'posts_per_day' group by c.handle order by c.handle",
    )
    assert [h for h, _n in per_query] == ["#deepfakes", QUERY]


def test_wrong_token_fails_the_source(x_config, fake):
    config = x_config(accounts=["TwitterDev"], queries=[QUERY], token="not-the-token")

    result = run_crawl(config, only=["x"], sleep=Sleeps())

    assert result.status == "failed" and result.exit_code == 1
    row = run_source(config)
    assert row.status == "failed"
    assert "HTTP 401" in row.error_summary


def test_missing_token_skips_the_source_naming_x_bearer_token(x_config, fake, caplog):
    config = x_config(accounts=["TwitterDev"], token=None)

    with caplog.at_level(logging.WARNING):
        result = run_crawl(config, only=["x"], sleep=Sleeps())

    assert result.sources["x"].status == "skipped"
    assert "X_BEARER_TOKEN" in (result.sources["x"].skipped_reason or "")
    assert sum(1 for r in caplog.records if "X_BEARER_TOKEN" in r.getMessage()) == 1
    assert sum(fake.requests.values()) == 0


# --------------------------------------------------------------------------- queries


def test_second_crawl_asks_only_for_posts_after_the_first_crawls_newest(x_config, fake):
    fake.add_tweets(QUERY, fake.make_tweets(30, start_id=FIRST_ID))
    config = x_config(queries=[QUERY])

    run_crawl(config, only=["x"], sleep=Sleeps())
    fake.add_tweets(QUERY, fake.make_tweets(5, start_id=FIRST_ID + 100))
    run_crawl(config, only=["x"], sleep=Sleeps())

    searches = [p for path, p in fake.log if path == SEARCH]
    assert "since_id" not in searches[0]  # the first crawl has no cursor
    assert searches[1]["since_id"] == str(FIRST_ID + 29)
    assert cursors(config) == {f"search:{QUERY}": str(FIRST_ID + 104)}
    assert searches[1]["max_results"] == "100"
    posts = rows(
        config,
        "select p.external_id, p.url, p.author, p.body from posts p "
        "join communities c on c.id = p.community_id where c.kind = 'query'",
    )
    assert len(posts) == 35 and len({p[0] for p in posts}) == 35
    assert all(p.url.startswith("https://x.com/i/web/status/") for p in posts)
    assert all(p.author and p.author != "2244994945" for p in posts)  # pseudonymised
    assert all(p.body is None for p in posts)  # metadata policy: no text


def store_post(config: Any, external_id: int, when: datetime) -> None:
    """A post stored by an earlier crawl (enriched as the run would)."""
    engine = make_engine(config.database_url)
    post = Post(CommunityKey("x", "query", QUERY), str(external_id), created_at=when)
    Store(engine).write([Enricher(config)(post)], None)
    engine.dispose()


def save_cursor(config: Any, value: int) -> None:
    engine = make_engine(config.database_url)
    Store(engine).set_state("x", search_state_key(QUERY), str(value))
    engine.dispose()


def test_since_id_out_of_search_reach_is_dropped_instead_of_failing_the_query(x_config, fake):
    config = x_config(queries=[QUERY])
    run_crawl(config, only=["x"], sleep=Sleeps())
    # The query's cursor was saved 10 days ago (it has been quiet since).
    old_id = snowflake(datetime.now(UTC) - timedelta(days=10))
    store_post(config, old_id, datetime.now(UTC) - timedelta(days=10))
    save_cursor(config, old_id)
    fake.add_tweets(QUERY, fake.make_tweets(3, start_id=FIRST_ID))

    result = run_crawl(config, only=["x"], sleep=Sleeps())

    assert result.status == "ok"
    searches = [p.get("since_id") for path, p in fake.log if path == SEARCH]
    assert searches == [None, str(old_id), None]  # refused with 400, asked again without
    assert rows(config, "select count(*) from posts") == [(4,)]
    assert cursors(config) == {f"search:{QUERY}": str(FIRST_ID + 2)}


def test_query_failing_mid_pagination_keeps_its_cursor_and_the_next_crawl_fetches_the_older_pages(
    x_config, fake, db_url
):
    fake.add_tweets(QUERY, fake.make_tweets(30, start_id=FIRST_ID))
    config = x_config(queries=[QUERY], settings="[rate_limits]\nmax_retries = 0\n", db_url=db_url)
    run_crawl(config, only=["x"], sleep=Sleeps())
    fake.add_tweets(QUERY, fake.make_tweets(250, start_id=FIRST_ID + 100))
    fake.fail(SEARCH, 503, after=1)  # the first page answers, the second does not

    failed = run_crawl(config, only=["x"], sleep=Sleeps())

    assert failed.status == "partial"
    assert rows(config, "select count(*) from posts") == [(130,)]  # the newest page was stored
    assert cursors(config) == {f"search:{QUERY}": str(FIRST_ID + 29)}  # not moved past the gap

    resumed = run_crawl(config, only=["x"], sleep=Sleeps())

    assert resumed.status == "ok"
    searches = [p for path, p in fake.log if path == SEARCH]
    assert searches[-3]["since_id"] == str(FIRST_ID + 29) and "next_token" not in searches[-3]
    assert rows(config, "select count(*), count(distinct external_id) from posts") == [(280, 280)]
    assert cursors(config) == {f"search:{QUERY}": str(FIRST_ID + 349)}


def test_posts_stored_without_a_cursor_are_fetched_again_over_the_whole_window(x_config, fake):
    config = x_config(queries=[QUERY])
    run_crawl(config, only=["x"], sleep=Sleeps())  # nothing found yet: no cursor saved
    assert cursors(config) == {}
    # A store from before cursors were kept, or a crawl killed before its first checkpoint:
    # the newest post is stored, nothing says the older ones are.
    tweets = fake.make_tweets(150, start_id=FIRST_ID)
    fake.add_tweets(QUERY, tweets)
    store_post(config, FIRST_ID + 149, datetime.now(UTC))

    run_crawl(config, only=["x"], sleep=Sleeps())

    last = [p for path, p in fake.log if path == SEARCH][1:]
    assert len(last) == 2 and all("since_id" not in p for p in last)  # the whole recent window
    assert rows(config, "select count(*), count(distinct external_id) from posts") == [(150, 150)]
    assert cursors(config) == {f"search:{QUERY}": str(FIRST_ID + 149)}


def test_page_bound_moves_the_cursor_to_the_newest_post_and_warns_about_the_gap(x_config, fake, caplog):
    fake.add_tweets(QUERY, fake.make_tweets(30, start_id=FIRST_ID))
    config = x_config(queries=[QUERY], settings="[x]\nmax_pages = 2\n")
    run_crawl(config, only=["x"], sleep=Sleeps())
    fake.add_tweets(QUERY, fake.make_tweets(450, start_id=FIRST_ID + 1000))

    with caplog.at_level(logging.WARNING, logger="dfwatch.source.x"):
        run_crawl(config, only=["x"], sleep=Sleeps())

    # Kept at the old cursor, every later crawl would fetch these same two pages again.
    assert cursors(config) == {f"search:{QUERY}": str(FIRST_ID + 1449)}
    (warning,) = [r.getMessage() for r in caplog.records if "max_pages" in r.getMessage()]
    assert f"since_id={FIRST_ID + 29} and id {FIRST_ID + 1250} are not fetched" in warning
    assert rows(config, "select count(*) from posts") == [(230,)]


def test_long_query_cursor_key_fits_the_state_column():
    assert search_state_key(QUERY) == "search:DeepFaceLab"
    long_key = search_state_key("deepfake OR " * 60)
    assert long_key.startswith("search:sha256:") and len(long_key) <= 512


def test_malformed_search_answer_fails_its_query_keeps_no_cursor_and_the_next_query_runs(x_config, fake):
    fake.add_tweets(QUERY, fake.make_tweets(3, start_id=FIRST_ID))
    fake.add_tweets("#deepfakes", fake.make_tweets(4, start_id=FIRST_ID + 10))
    fake.fail(SEARCH, 200, body={"data": str(FIRST_ID)})  # used to read as "no posts"
    config = x_config(queries=[QUERY, "#deepfakes"])

    result = run_crawl(config, only=["x"], sleep=Sleeps())

    assert result.status == "partial"
    row = run_source(config)
    assert row.error_summary == f"x search {QUERY!r}: malformed answer: `data` is str, expected a list"
    assert rows(config, "select count(*) from posts") == [(4,)]
    assert cursors(config) == {"search:#deepfakes": str(FIRST_ID + 13)}


def test_search_answer_cut_short_is_a_malformed_answer_of_its_query(x_config, fake):
    fake.add_tweets(QUERY, fake.make_tweets(3, start_id=FIRST_ID))
    fake.fail(SEARCH, 200, body=b'{"data": [{"id": "1", "text": "Deep')
    config = x_config(queries=[QUERY])

    result = run_crawl(config, only=["x"], sleep=Sleeps())

    assert result.status == "partial"
    assert run_source(config).error_summary == f"x search {QUERY!r}: malformed answer: not JSON"
    assert rows(config, "select count(*) from posts") == [(0,)]
    assert cursors(config) == {}


def test_malformed_users_answer_fails_its_batch_and_the_queries_still_run(x_config, fake):
    fake.fail(USERS_BY, 200, body={"data": 5})
    fake.add_tweets(QUERY, fake.make_tweets(3, start_id=FIRST_ID))
    config = x_config(accounts=["TwitterDev"], queries=[QUERY])

    result = run_crawl(config, only=["x"], sleep=Sleeps())

    assert result.status == "partial"
    assert (
        run_source(config).error_summary
        == "x accounts TwitterDev: malformed answer: `data` is int, expected a list"
    )
    assert status_of(config, "TwitterDev")[0] == "unknown"
    assert rows(config, "select count(*) from posts") == [(3,)]


def test_malformed_counts_answer_fails_that_querys_counts_only(x_config, fake):
    fake.fail(COUNTS, 200, body={"data": [{"start": "2024-05-01T00:00:00.000Z"}]})
    config = x_config(queries=[QUERY, "#deepfakes"])

    result = run_crawl(config, only=["x"], sleep=Sleeps())

    assert result.status == "partial"
    assert run_source(config).error_summary.startswith(f"x counts {QUERY!r}: malformed answer:")
    counted = rows(
        config,
        "select distinct c.handle from metrics m join communities c on c.id = m.community_id "
        "where m.metric = 'posts_per_day'",
    )
    assert counted == [("#deepfakes",)]


def test_search_pages_are_bounded_by_max_pages(x_config, fake):
    fake.add_tweets(QUERY, fake.make_tweets(450, start_id=FIRST_ID))
    config = x_config(queries=[QUERY], settings="[x]\nmax_pages = 2\n")

    run_crawl(config, only=["x"], sleep=Sleeps())

    assert fake.requests[SEARCH] == 2
    assert [bool(p.get("next_token")) for path, p in fake.log if path == SEARCH] == [False, True]
    ((newest, count),) = rows(config, "select max(external_id), count(*) from posts")
    assert count == 200 and newest == str(FIRST_ID + 449)  # the newest pages first


def daily_counts(config: Any) -> list[tuple[datetime, float]]:
    """posts_per_day rows as typed values (the schema's UTC datetime type, on both databases)."""
    eng = create_engine(config.database_url)
    try:
        with eng.connect() as conn:
            q = select(Metric.observed_at, Metric.value).where(Metric.metric == "posts_per_day")
            return [(r[0], r[1]) for r in conn.execute(q.order_by(Metric.observed_at))]
    finally:
        eng.dispose()


def test_counts_recrawled_update_the_same_days_without_duplicates(x_config, fake, db_url):
    config = x_config(queries=[QUERY], settings="[x]\ncounts_days = 3\n", db_url=db_url)

    run_crawl(config, only=["x"], sleep=Sleeps())
    first = daily_counts(config)
    today = first[-1][0]
    fake.state.day_counts[today.date()] = 999
    run_crawl(config, only=["x"], sleep=Sleeps())
    second = daily_counts(config)

    assert len(first) == 3  # whole days only, each observed at midnight UTC
    assert all((d.hour, d.minute, d.second) == (0, 0, 0) and d.tzinfo is not None for d, _v in first)
    assert [d for d, _v in second] == [d for d, _v in first]  # no duplicates
    assert second[-1][1] == 999.0  # today's bucket was still filling: updated in place
    assert [v for _d, v in second[:-1]] == [v for _d, v in first[:-1]]
    start = next(p for path, p in fake.log if path == COUNTS)
    assert start["granularity"] == "day" and start["start_time"].endswith("T00:00:00Z")


def test_requests_reach_the_configured_endpoint_honestly_and_never_log_the_token(x_config, fake, caplog):
    fake.add_tweets(QUERY, fake.make_tweets(2, start_id=FIRST_ID))
    config = x_config(accounts=["TwitterDev"], queries=[QUERY])

    with caplog.at_level(logging.DEBUG):
        result = run_crawl(config, only=["x"], sleep=Sleeps())

    assert result.status == "ok"
    assert set(fake.requests) == {USERS_BY, COUNTS, SEARCH}
    assert all(ua.startswith("python:dfwatch:") for ua in fake.state.user_agents)
    assert TOKEN not in caplog.text
    assert any("tweepy" in r.name for r in caplog.records)  # tweepy's header log did run


# --------------------------------------------------------------------------- retry decisions


def too_many(headers: dict[str, str]) -> Any:
    import requests
    import tweepy

    response = requests.Response()
    response.status_code, response.reason, response._content = 429, "Too Many Requests", b"{}"
    response.headers.update(headers)
    reset = headers.get("x-rate-limit-reset")
    return tweepy.TooManyRequests(response, reset_time=int(reset) if reset else None)


def test_reset_is_measured_on_the_servers_clock_and_a_past_reset_means_backoff():
    from crawler.sources.x import classify, reset_wait

    date = "Wed, 01 May 2024 12:00:00 GMT"  # 1714564800
    assert reset_wait(too_many({"date": date, "x-rate-limit-reset": "1714564830"})) == 30.0
    assert reset_wait(too_many({"date": date, "x-rate-limit-reset": "1714564700"})) is None
    assert reset_wait(too_many({})) is None
    decision = classify(too_many({}))
    assert decision is not None and decision.wait is None and decision.rate_limited
