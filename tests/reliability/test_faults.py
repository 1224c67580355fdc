"""429 storms, 5xx bursts and malformed answers: bounded retries, partial runs, the rest stored.

Each crawl is the real CLI against a fake that counts every request it receives, so the
bound on retries is checked where it matters: at the server. A "call" below is one logical
request (path and parameters); with `max_retries = 2` no call may reach the fake more than
1 + 2 = 3 times.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.reddit import Fault
from tests.fakes.x import COUNTS, SEARCH, TOKEN, USERS_BY
from tests.reliability.harness import (
    GatedReddit,
    GatedX,
    Malformed,
    make_crawl,
    query,
    scalar,
    settings,
)

MAX_CALLS = 1 + 2  # the initial request and max_retries = 2 (harness.FAST_RETRIES)
ACCOUNTS = ["acct_a", "acct_b", "acct_c"]
QUERIES = ["DeepFaceLab", "faceswap", "roop"]
EXIT_PARTIAL = 4


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'dfwatch.db'}"


def x_world(fake: GatedX) -> dict[str, set[str]]:
    """Three accounts and three queries of 30 posts each; returns the post ids per query."""
    for i, name in enumerate(ACCOUNTS):
        fake.add_user(name, followers=500 + i)
    served: dict[str, set[str]] = {}
    start = int(fake.make_tweets(1)[0]["id"])
    for n, q in enumerate(QUERIES):
        tweets = fake.make_tweets(30, start_id=start + 1000 * n)
        fake.add_tweets(q, tweets)
        served[q] = {t["id"] for t in tweets}
    return served


def x_crawl(fake: GatedX, db_url: str, tmp_path: Path) -> Any:
    return make_crawl(
        tmp_path / "config",
        db_url,
        {"x": {"accounts": ACCOUNTS, "queries": QUERIES}},
        settings(10),
        endpoints={"x": fake.url},
        credentials={"X_BEARER_TOKEN": TOKEN},
    )


def stored_posts(db_url: str, handle: str) -> set[str]:
    return {
        r[0]
        for r in query(
            db_url,
            """
        select p.external_id from posts p join communities c on c.id = p.community_id
        where c.handle = :h""",
            h=handle,
        )
    }


def x_source_row(db_url: str) -> tuple[Any, ...]:
    (row,) = query(
        db_url, "select status, requests, retries, errors, error_summary from run_sources where source = 'x'"
    )
    return row


def assert_bounded(fake: GatedX) -> None:
    calls = fake.requests_per_call()
    worst = max(calls.values())
    assert worst <= MAX_CALLS, f"a request was sent {worst} times: {calls.most_common(1)}"


def test_429_storm_on_one_query_is_retried_within_bound_and_the_run_is_partial(
    fake_x: GatedX, sqlite_url: str, tmp_path: Path
) -> None:
    served = x_world(fake_x)
    # The first query's search meets a storm longer than the retries; the others do not.
    fake_x.fail(SEARCH, 429, times=MAX_CALLS, reset_in=1)

    done = x_crawl(fake_x, sqlite_url, tmp_path).run()

    assert done.returncode == EXIT_PARTIAL, done.stderr
    assert "Traceback" not in done.stderr
    assert_bounded(fake_x)
    storm = [p for p, params in fake_x.log if p == SEARCH and params["query"] == QUERIES[0]]
    assert len(storm) == MAX_CALLS  # retried, and no further
    status, requests, retries, errors, summary = x_source_row(sqlite_url)
    assert (status, retries, errors) == ("partial", 2, 1)
    assert requests == sum(fake_x.requests.values())  # the run log agrees with the server
    assert summary == f"x search {QUERIES[0]!r}: gave up after 3 attempts (429)"
    assert query(sqlite_url, "select status, error_summary from crawl_runs") == [("partial", "x: partial")]
    assert scalar(sqlite_url, "select rate_limited_seconds from run_sources") > 0
    # Everything that did answer is stored.
    assert stored_posts(sqlite_url, QUERIES[0]) == set()
    for q in QUERIES[1:]:
        assert stored_posts(sqlite_url, q) == served[q]
    assert scalar(sqlite_url, "select count(*) from metrics where metric = 'members'") == len(ACCOUNTS)
    assert scalar(
        sqlite_url, "select count(distinct community_id) from metrics where metric = 'posts_per_day'"
    ) == len(QUERIES)


def test_5xx_bursts_are_retried_and_a_burst_longer_than_the_retries_fails_only_its_call(
    fake_x: GatedX, sqlite_url: str, tmp_path: Path
) -> None:
    served = x_world(fake_x)
    fake_x.fail(USERS_BY, 503, times=2)  # shorter than the retries: recovered
    fake_x.fail(COUNTS, 502, times=MAX_CALLS)  # the first query's counts: given up
    fake_x.fail(SEARCH, 500, times=1)  # recovered

    done = x_crawl(fake_x, sqlite_url, tmp_path).run()

    assert done.returncode == EXIT_PARTIAL, done.stderr
    assert_bounded(fake_x)
    status, requests, retries, errors, summary = x_source_row(sqlite_url)
    assert (status, retries, errors) == ("partial", 2 + 2 + 1, 1)
    assert requests == sum(fake_x.requests.values())
    assert summary == f"x counts {QUERIES[0]!r}: gave up after 3 attempts (502)"
    assert scalar(sqlite_url, "select count(*) from metrics where metric = 'members'") == len(ACCOUNTS)
    for q in QUERIES:
        assert stored_posts(sqlite_url, q) == served[q]
    counted = {
        r[0]
        for r in query(
            sqlite_url,
            """
        select distinct c.handle from metrics m join communities c on c.id = m.community_id
        where m.metric = 'posts_per_day'""",
        )
    }
    assert counted == set(QUERIES[1:])


MALFORMED = {
    "truncated JSON": Malformed(b'{"data": [{"id": "1", "text": "Deep'),
    "not JSON at all": Malformed(b"<html><body>upstream connect error</body></html>"),
    "a JSON list": ["not", "an", "object"],
    "data not a list": {"data": 5, "meta": {"result_count": 1}},
}


@pytest.mark.parametrize("answer", list(MALFORMED), ids=list(MALFORMED))
def test_a_malformed_search_answer_fails_its_query_and_the_rest_is_stored(
    answer: str, fake_x: GatedX, sqlite_url: str, tmp_path: Path
) -> None:
    served = x_world(fake_x)
    fake_x.fail(SEARCH, 200, body=MALFORMED[answer])

    done = x_crawl(fake_x, sqlite_url, tmp_path).run()

    assert done.returncode == EXIT_PARTIAL, done.stderr
    assert "Traceback" not in done.stderr
    status, _requests, _retries, errors, summary = x_source_row(sqlite_url)
    assert (status, errors) == ("partial", 1)
    assert summary.startswith(f"x search {QUERIES[0]!r}: ")
    assert stored_posts(sqlite_url, QUERIES[0]) == set()
    for q in QUERIES[1:]:
        assert stored_posts(sqlite_url, q) == served[q]
    assert scalar(sqlite_url, "select count(*) from metrics where metric = 'members'") == len(ACCOUNTS)


def test_a_malformed_reddit_listing_fails_its_listing_and_the_subreddit_data_is_stored(
    fake_reddit: GatedReddit, sqlite_url: str, tmp_path: Path
) -> None:
    names = ["Alpha", "Beta"]
    now = time.time()
    for i, name in enumerate(names):
        fake_reddit.add_subreddit(name, subscribers=100 + i)
        fake_reddit.add_post(name, now - 600, title="A DeepFaceLab question")
    fake_reddit.script("/r/", Fault.malformed(), match="limit=")  # the combined /new listing
    crawl = make_crawl(
        tmp_path / "config",
        sqlite_url,
        {"reddit": {"subreddits": names}},
        settings(10),
        endpoints={"reddit": fake_reddit.url},
        credentials={
            "REDDIT_CLIENT_ID": fake_reddit.client_id,
            "REDDIT_CLIENT_SECRET": fake_reddit.client_secret,
        },
    )

    done = crawl.run()

    assert done.returncode == EXIT_PARTIAL, done.stderr
    assert "Traceback" not in done.stderr
    ((status, errors, summary),) = query(sqlite_url, "select status, errors, error_summary from run_sources")
    assert (status, errors) == ("partial", 1)
    assert summary.startswith("r/Alpha+Beta: ")
    members = dict(
        query(
            sqlite_url,
            """
        select c.handle, m.value from metrics m join communities c on c.id = m.community_id
        where m.metric = 'members' and m.source = 'reddit_api'""",
        )
    )
    assert members == {"Alpha": 100, "Beta": 101}
