"""The Reddit source end to end: real praw against the fake Reddit API, through `run_crawl`,
into the store. Assertions are on stored rows and on what the fake server saw."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from crawler.run import run_crawl
from tests.conftest import Sleeps
from tests.conftest import config_rows as rows
from tests.fakes.reddit import ERRORS, FakeReddit, Fault

DAY = 86400.0


@pytest.fixture
def fake() -> Iterator[FakeReddit]:
    with FakeReddit() as server:
        yield server


@pytest.fixture
def reddit_config(make_config: Any, fake: FakeReddit) -> Any:
    def _make(
        subreddits: list[Any], settings: str = "", credentials: bool = True, db_url: str | None = None
    ) -> Any:
        env = {"DFWATCH_ENDPOINT_REDDIT": fake.url}
        if credentials:
            env |= {"REDDIT_CLIENT_ID": fake.client_id, "REDDIT_CLIENT_SECRET": fake.client_secret}
        return make_config({"reddit": {"subreddits": subreddits}}, settings, env=env, db_url=db_url)

    return _make


def status_of(config: Any, handle: str) -> tuple[str, str | None]:
    (row,) = rows(config, "select status, status_reason from communities where handle = :h", h=handle)
    return row[0], row[1]


def metric(config: Any, handle: str, name: str, source: str = "reddit_api") -> list[float]:
    return [
        r[0]
        for r in rows(
            config,
            "select m.value from metrics m join communities c on c.id = m.community_id "
            "where c.handle = :h and m.metric = :m and m.source = :s order by m.observed_at",
            h=handle,
            m=name,
            s=source,
        )
    ]


def run_source(config: Any, run_id: int) -> Any:
    (row,) = rows(
        config,
        "select status, requests, retries, rate_limited_seconds, error_summary, errors "
        "from run_sources where run_id = :r and source = 'reddit'",
        r=run_id,
    )
    return row


def crawl(config: Any, sleep: Sleeps | None = None) -> Any:
    return run_crawl(config, only=["reddit"], sleep=sleep if sleep is not None else Sleeps())


def posts_of(config: Any, handle: str) -> list[Any]:
    return rows(
        config,
        "select p.external_id, p.title, p.body, p.author, p.state, p.score, p.url "
        "from posts p join communities c on c.id = p.community_id where c.handle = :h "
        "order by p.created_at",
        h=handle,
    )


# --------------------------------------------------------------------------- metadata


def test_250_subreddits_cost_three_metadata_requests(fake: FakeReddit, reddit_config: Any) -> None:
    names = [f"sub{i:03d}" for i in range(250)]
    for i, name in enumerate(names):
        fake.add_subreddit(name, subscribers=1000 + i)
    config = reddit_config(names)

    result = crawl(config)

    assert result.exit_code == 0
    assert fake.counts["info_sr_name"] == 3
    assert fake.counts["about"] == 0
    assert metric(config, "sub007", "members") == [1007.0]
    assert (
        rows(config, "select count(*) from metrics where metric = 'members' and source = 'reddit_api'")[0][0]
        == 250
    )
    # every request the server saw is in the run log, the token grant included
    assert run_source(config, result.run_id).requests == fake.total_requests
    assert fake.counts["token"] == 1


def test_statuses_keep_the_platforms_reasons(fake: FakeReddit, reddit_config: Any) -> None:
    fake.add_subreddit("OpenOne")
    fake.add_subreddit("BannedOne", status="banned")
    fake.add_subreddit("PrivateOne", status="private")
    fake.add_subreddit(
        "QuarOne", status="quarantined", quarantine_message="Quarantined for shocking content."
    )
    fake.add_subreddit("Restricted1", status="restricted")
    fake.add_subreddit("PrivateListed", status="private", in_info=True)
    config = reddit_config(
        ["OpenOne", "BannedOne", "PrivateOne", "QuarOne", "NoSuchSub", "Restricted1", "PrivateListed"]
    )

    result = crawl(config)

    assert result.exit_code == 0
    assert status_of(config, "OpenOne") == ("active", "subreddit_type: public")
    assert status_of(config, "BannedOne") == ("banned", "404 banned")
    assert status_of(config, "PrivateOne") == ("private", "403 private")
    assert status_of(config, "QuarOne") == (
        "quarantined",
        "403 quarantined: Quarantined for shocking content.",
    )
    assert status_of(config, "NoSuchSub")[0] == "not_found"
    assert "redirect to /subreddits/search" in (status_of(config, "NoSuchSub")[1] or "")
    assert status_of(config, "Restricted1") == ("restricted", "subreddit_type: restricted")
    assert status_of(config, "PrivateListed") == ("private", "subreddit_type: private")
    # one /about per name absent from the batch answer, nothing for the others
    assert fake.counts["about"] == 4
    changes = rows(
        config,
        "select s.new_status, s.reason from status_changes s "
        "join communities c on c.id = s.community_id where c.handle = 'BannedOne'",
    )
    assert [tuple(r) for r in changes] == [("banned", "404 banned")]


def test_absent_metrics_stay_absent(fake: FakeReddit, reddit_config: Any) -> None:
    fake.add_subreddit("Hidden", subscribers=None)
    fake.add_subreddit("Visited", subscribers=50, weekly_visitors=900, weekly_contributions=12)
    fake.add_subreddit("Closed", status="private", in_info=True)
    config = reddit_config(["Hidden", "Visited", "Closed"])

    crawl(config)

    assert metric(config, "Hidden", "members") == []
    assert metric(config, "Closed", "members") == []
    assert metric(config, "Visited", "weekly_visitors") == [900.0]
    assert metric(config, "Visited", "weekly_contributions") == [12.0]
    # active_user_count left the API in September 2025: no online_members, and no 0 for it
    assert metric(config, "Visited", "online_members") == []


# --------------------------------------------------------------------------- limits and faults


def test_429_waits_retry_after_then_succeeds(fake: FakeReddit, reddit_config: Any) -> None:
    fake.add_subreddit("Alpha", subscribers=10)
    fake.script("/api/info", Fault.too_many(7))
    config = reddit_config(["Alpha"])
    sleeps = Sleeps()

    result = crawl(config, sleeps)

    assert result.exit_code == 0
    assert 7.0 in sleeps
    assert metric(config, "Alpha", "members") == [10.0]
    status, requests, retries, waited, _summary, _errors = run_source(config, result.run_id)
    assert (status, retries, waited) == ("ok", 1, 7.0)
    assert requests == fake.total_requests


def test_503_twice_then_success(fake: FakeReddit, reddit_config: Any) -> None:
    fake.add_subreddit("Alpha")
    fake.add_post("Alpha", time.time() - 3600, title="still here")
    fake.script("/r/", Fault.server_error(503), Fault.server_error(503))
    config = reddit_config(["Alpha"])
    sleeps = Sleeps()

    result = crawl(config, sleeps)

    assert result.exit_code == 0
    assert [p[1] for p in posts_of(config, "Alpha")] == ["still here"]
    assert fake.counts["listing"] == 3
    status, requests, retries, _waited, _summary, _errors = run_source(config, result.run_id)
    assert (status, retries) == ("ok", 2)
    assert requests == fake.total_requests
    assert len(sleeps) == 2  # exponential backoff, each wait logged and taken through the run


def test_timeout_is_retried(fake: FakeReddit, reddit_config: Any) -> None:
    fake.add_subreddit("Alpha", subscribers=3)
    fake.script("/api/info", Fault.slow(2.0))
    config = reddit_config(["Alpha"], settings="[rate_limits]\ntimeout_seconds = 0.3\n")

    result = crawl(config)

    assert result.exit_code == 0
    assert metric(config, "Alpha", "members") == [3.0]
    assert run_source(config, result.run_id).retries == 1


def crawl_banned(make_config: Any, count: int, *, quota: int, reset_seconds: int) -> tuple[Any, Any, Sleeps]:
    """Crawl `count` banned subreddits (one /about each) against a fake with this rate limit."""
    with FakeReddit(quota=quota, reset_seconds=reset_seconds) as fake:
        names = [f"Gone{i:02d}" for i in range(count)]
        for name in names:
            fake.add_subreddit(name, status="banned")
        config = make_config(
            {"reddit": {"subreddits": names}},
            env={
                "DFWATCH_ENDPOINT_REDDIT": fake.url,
                "REDDIT_CLIENT_ID": fake.client_id,
                "REDDIT_CLIENT_SECRET": fake.client_secret,
            },
        )
        sleeps = Sleeps()
        return config, crawl(config, sleeps), sleeps


def test_rate_limit_headers_exhausted_wait_for_reset(make_config: Any) -> None:
    config, result, sleeps = crawl_banned(make_config, 3, quota=2, reset_seconds=42)

    assert result.exit_code == 0
    # the wait (the announced reset, less the time since) goes through the run
    assert any(41.0 < s <= 42.0 for s in sleeps)
    assert run_source(config, result.run_id).rate_limited_seconds > 41.0


def test_requests_burst_while_the_window_has_budget(make_config: Any) -> None:
    """Reddit averages its limit over the window to allow bursts: no pacing while budget lasts
    (prawcore alone would sleep up to 10 s a request here, early in a fresh window)."""
    config, result, sleeps = crawl_banned(make_config, 20, quota=600, reset_seconds=590)

    assert result.exit_code == 0
    assert run_source(config, result.run_id).requests >= 22  # token, info, 20 /about
    assert sleeps == []


def test_the_last_requests_of_a_window_wait_for_its_reset(make_config: Any) -> None:
    _, result, sleeps = crawl_banned(make_config, 6, quota=8, reset_seconds=120)

    assert result.exit_code == 0
    # Once 5 or fewer requests are left, the next one waits out the announced reset.
    assert any(119.0 < s <= 120.0 for s in sleeps)


def test_malformed_json_fails_one_batch_and_keeps_the_others(fake: FakeReddit, reddit_config: Any) -> None:
    names = [f"sub{i:03d}" for i in range(150)]
    for name in names:
        fake.add_subreddit(name, subscribers=5)
    fake.script("/api/info", Fault.malformed(), match="sub000", repeat=True)
    config = reddit_config(names)

    result = crawl(config)

    assert result.exit_code == 4
    assert result.status == "partial"
    status, _requests, _retries, _waited, summary, errors = run_source(config, result.run_id)
    assert status == "partial"
    assert errors == 1
    assert "malformed JSON" in summary and "sub000..sub099" in summary
    assert metric(config, "sub120", "members") == [5.0]  # the other batch is stored
    assert metric(config, "sub010", "members") == []
    # names of the failed batch are not guessed at with 100 /about requests
    assert fake.counts["about"] == 0
    ((run_status, run_summary),) = rows(
        config, "select status, error_summary from crawl_runs where id = :r", r=result.run_id
    )
    assert run_status == "partial" and "reddit" in run_summary


def test_wrong_credentials_fail_the_source_with_a_clear_reason(make_config: Any, fake: FakeReddit) -> None:
    fake.add_subreddit("Alpha")
    config = make_config(
        {"reddit": {"subreddits": ["Alpha"]}},
        env={
            "DFWATCH_ENDPOINT_REDDIT": fake.url,
            "REDDIT_CLIENT_ID": "someone-else",
            "REDDIT_CLIENT_SECRET": "nope",
        },
    )

    result = crawl(config)

    assert result.exit_code == 1
    summary = run_source(config, result.run_id).error_summary
    assert "REDDIT_CLIENT_ID" in summary
    assert "nope" not in summary


def test_missing_credentials_skip_the_source_naming_the_variables(
    fake: FakeReddit, reddit_config: Any
) -> None:
    fake.add_subreddit("Alpha")
    config = reddit_config(["Alpha"], credentials=False)

    result = crawl(config)

    outcome = result.sources["reddit"]
    assert outcome.status == "skipped"
    assert "REDDIT_CLIENT_ID" in outcome.skipped_reason and "REDDIT_CLIENT_SECRET" in outcome.skipped_reason
    assert fake.total_requests == 0


# --------------------------------------------------------------------------- posts


def test_second_crawl_stores_only_new_posts_from_one_page(
    fake: FakeReddit, reddit_config: Any, db_url: str
) -> None:
    now = time.time()
    fake.add_subreddit("Alpha", subscribers=300)
    fake.add_subreddit("Beta", subscribers=400)
    for i in range(120):  # two pages back over six days
        fake.add_post("Alpha" if i % 2 else "Beta", now - 3600 - i * 4000)
    old = fake.add_post("Alpha", now - 10 * DAY, title="before the lookback window")
    config = reddit_config(["Alpha", "Beta"], db_url=db_url)

    first = crawl(config)
    assert first.exit_code == 0
    assert fake.counts["listing"] == 2
    stored = {p[0] for p in posts_of(config, "Alpha") + posts_of(config, "Beta")}
    assert len(stored) == 120
    assert old["id"] not in stored

    new_a = fake.add_post("Alpha", now + 60, title="new in Alpha")
    new_b = fake.add_post("Beta", now + 120, title="new in Beta")
    fake.reset_counts()
    second = crawl(config)

    assert second.exit_code == 0
    assert fake.counts["listing"] == 1
    new_rows = rows(
        config, "select external_id from posts where run_id = :r order by external_id", r=second.run_id
    )
    assert [r[0] for r in new_rows] == sorted([new_a["id"], new_b["id"]])
    assert rows(config, "select count(*) from posts")[0][0] == 122
    # each post carries the subscriber count: a second, independent members observation
    assert metric(config, "Beta", "members", source="post_field")[-1] == 400.0


def test_a_dormant_subreddit_does_not_make_the_group_page_back(fake: FakeReddit, reddit_config: Any) -> None:
    now = time.time()
    fake.add_subreddit("Busy")
    fake.add_subreddit("Dormant")
    fake.add_post("Dormant", now - 6 * DAY, title="the only post in a week")
    for i in range(250):
        fake.add_post("Busy", now - 600 - i * 1500)  # 250 posts over four days: three pages
    config = reddit_config(["Busy", "Dormant"])
    crawl(config)
    assert fake.counts["listing"] == 3

    fake.add_post("Busy", now + 60, title="today")
    fake.reset_counts()
    second = crawl(config)

    # the stored cursor of Dormant is six days old; the last complete listing was minutes ago
    assert fake.counts["listing"] == 1
    assert [r[0] for r in rows(config, "select title from posts where run_id = :r", r=second.run_id)] == [
        "today"
    ]


def listing_states(config: Any) -> int:
    return rows(config, "select count(*) from source_state where source = 'reddit' and key like 'listing:%'")[
        0
    ][0]


def stored_ids(config: Any) -> list[str]:
    return [r[0] for r in rows(config, "select external_id from posts where platform = 'reddit'")]


def test_a_listing_cut_off_after_its_first_page_is_fetched_whole_by_the_next_crawl(
    fake: FakeReddit, reddit_config: Any, db_url: str
) -> None:
    now = time.time()
    fake.add_subreddit("Alpha")
    fake.add_subreddit("Beta")
    served = {fake.add_post("Alpha" if i % 2 else "Beta", now - 600 - i * 1200)["id"] for i in range(250)}
    fake.script("/r/", Fault.server_error(503), match="after=", repeat=True)  # page 2 never comes
    config = reddit_config(["Alpha", "Beta"], db_url=db_url)

    first = crawl(config)
    assert first.exit_code == 4
    assert len(stored_ids(config)) == 100  # the newest page: newer than every post still missing
    assert listing_states(config) == 0  # an incomplete listing records nothing

    fake.rules.clear()
    fake.reset_counts()
    second = crawl(config)

    assert second.exit_code == 0
    # paged back to the lookback window, not to the newest stored post
    assert fake.counts["listing"] == 3
    assert sorted(stored_ids(config)) == sorted(served)  # every post, each once
    assert listing_states(config) == 1

    today = fake.add_post("Alpha", now + 60, title="today")
    fake.reset_counts()
    third = crawl(config)

    assert fake.counts["listing"] == 1  # the complete listing is known again: a quiet day is one page
    assert [
        r[0] for r in rows(config, "select external_id from posts where run_id = :r", r=third.run_id)
    ] == [today["id"]]


def test_a_listing_stopped_at_max_pages_moves_on_so_busy_groups_cost_a_day_of_pages(
    fake: FakeReddit, reddit_config: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The page bound is not a failure: the state moves on, and the next crawl pages only back
    to it. (Without that, a group busier than max_pages pages a window would page max_pages
    on every crawl.) The older posts the bound left out are logged, not fetched later."""
    now = time.time()
    fake.add_subreddit("Alpha")
    served = [fake.add_post("Alpha", now - 600 - i * 1200)["id"] for i in range(250)]
    capped = reddit_config(["Alpha"], settings="[reddit]\nmax_pages = 1\n")

    assert crawl(capped).exit_code == 0
    assert sorted(stored_ids(capped)) == sorted(served[:100])  # the newest page
    assert listing_states(capped) == 1
    assert "stopped at max_pages=1" in caplog.text

    newer = {fake.add_post("Alpha", now - 60)["id"]}
    fake.reset_counts()
    assert crawl(reddit_config(["Alpha"])).exit_code == 0

    assert fake.counts["listing"] == 1
    assert set(stored_ids(capped)) == set(served[:100]) | newer


def test_a_ban_in_one_group_does_not_make_later_groups_page_back(
    fake: FakeReddit, reddit_config: Any
) -> None:
    """Groups are cut from the watchlist, not from the readable names: a subreddit banned in
    the first hundred leaves both groups' listing states valid (one page each, not three)."""
    now = time.time()
    names = [f"sub{i:03d}" for i in range(150)]
    for name in names:
        fake.add_subreddit(name)
    for i in range(250):  # three pages in each group's window
        fake.add_post("sub010", now - 600 - i * 1200)
        fake.add_post("sub120", now - 600 - i * 1200)
    config = reddit_config(names)
    assert crawl(config).exit_code == 0
    assert listing_states(config) == 2

    fake.subreddits["sub005"].status = "banned"
    fake.reset_counts()
    assert crawl(config).exit_code == 0

    # Both groups page once: the ban leaves group one's state valid (a name that left does
    # not matter) and group two's untouched.
    assert fake.counts["listing"] == 2


def test_posts_lost_from_the_store_after_a_complete_listing_are_fetched_again(
    fake: FakeReddit, reddit_config: Any
) -> None:
    now = time.time()
    fake.add_subreddit("Alpha")
    served = {fake.add_post("Alpha", now - 600 - i * 1200)["id"] for i in range(250)}  # three pages
    config = reddit_config(["Alpha"])
    crawl(config)
    assert listing_states(config) == 1
    # The posts table restored from an older backup while source_state was kept: the newest
    # 150 posts (a page and a half) are gone, and the state still says they were listed.
    eng = create_engine(config.database_url)
    with eng.begin() as conn:
        lost = [r[0] for r in conn.execute(text("select id from posts order by created_at desc limit 150"))]
        for chunk in (lost[:75], lost[75:]):
            ids = ",".join(str(int(i)) for i in chunk)
            conn.execute(text(f"delete from mentions where post_id in ({ids})"))  # noqa: S608 (integers)
            conn.execute(text(f"delete from posts where id in ({ids})"))  # noqa: S608 (integers)
    eng.dispose()
    assert len(stored_ids(config)) == 100

    fake.reset_counts()
    crawl(config)

    # the store's newest post is not the one the state recorded: the state is ignored and
    # the whole window read again (trusting it would have read one page and lost 50 posts)
    assert fake.counts["listing"] == 3
    assert sorted(stored_ids(config)) == sorted(served)


def test_a_post_surfacing_late_in_new_is_still_stored(fake: FakeReddit, reddit_config: Any) -> None:
    now = time.time()
    fake.add_subreddit("Alpha")
    fake.add_post("Alpha", now - 60, title="newest at the first crawl")
    fake.add_post("Alpha", now - 7200, title="older")
    config = reddit_config(["Alpha"])
    crawl(config)

    # created before the newest stored post, shown in /new only now (spam filter, approval)
    fake.add_post("Alpha", now - 1200, title="approved late")
    fake.reset_counts()
    crawl(config)

    assert fake.counts["listing"] == 1
    assert [p[1] for p in posts_of(config, "Alpha")] == [
        "older",
        "approved late",
        "newest at the first crawl",
    ]


def test_combined_listing_is_split_when_reddit_refuses_it(fake: FakeReddit, reddit_config: Any) -> None:
    now = time.time()
    for name in ("Alpha", "Beta", "Gamma", "Delta"):
        fake.add_subreddit(name)
        fake.add_post(name, now - 600, title=f"post in {name}")
    refused = Fault(403, json.dumps({**ERRORS["forbidden"], "reason": "private"}).encode())
    fake.script("/r/Alpha+", refused)
    config = reddit_config(["Alpha", "Beta", "Gamma", "Delta"])

    result = crawl(config)

    assert result.exit_code == 0
    assert rows(config, "select count(*) from posts")[0][0] == 4
    assert fake.counts["listing"] == 3  # the refused listing, then its two halves


def test_removed_and_deleted_posts_lose_their_text(fake: FakeReddit, reddit_config: Any, db_url: str) -> None:
    now = time.time()
    fake.add_subreddit("Alpha")
    kept = fake.add_post("Alpha", now - 3000, title="kept", selftext="body", author="alice")
    removed = fake.add_post("Alpha", now - 2000, title="to be removed", selftext="secret", author="bob")
    deleted = fake.add_post("Alpha", now - 1000, title="to be deleted", selftext="mine", author="carol")
    config = reddit_config([{"name": "Alpha", "content": "full"}], db_url=db_url)
    crawl(config)
    assert {p[1] for p in posts_of(config, "Alpha")} == {"kept", "to be removed", "to be deleted"}

    fake.remove_post(removed["id"])
    fake.delete_post(deleted["id"])
    fake.reset_counts()
    # A listing that shows a post again shows its state too; here the second crawl's window no
    # longer reaches the posts (12 minutes), so only the sweep can find them gone.
    later = reddit_config(
        [{"name": "Alpha", "content": "full"}], "[reddit]\nlookback_days = 0.0083\n", db_url=db_url
    )
    crawl(later)

    assert fake.counts["info_id"] == 1
    by_id = {p[0]: p for p in posts_of(config, "Alpha")}
    assert by_id[removed["id"]][1:5] == (None, None, None, "removed")
    assert by_id[deleted["id"]][1:5] == (None, None, None, "deleted")
    assert by_id[kept["id"]][1] == "kept" and by_id[kept["id"]][2] == "body"
    assert by_id[kept["id"]][3] not in (None, "alice")  # a pseudonym, never the name


def test_nsfw_subreddit_keeps_counts_only(fake: FakeReddit, reddit_config: Any) -> None:
    fake.add_subreddit("AdultOne", over18=True, subscribers=777)
    fake.add_post(
        "AdultOne",
        time.time() - 600,
        title="explicit title",
        selftext="text",
        author="dave",
        score=12,
        num_comments=3,
        url="https://example.org/x.mp4",
    )
    config = reddit_config(["AdultOne"])

    crawl(config)

    ((_id, title, body, author, state, score, url),) = posts_of(config, "AdultOne")
    assert (title, body, author, url) == (None, None, None, None)
    assert (state, score) == ("visible", 12)
    assert rows(config, "select link_domain from posts")[0][0] == "example.org"
    assert metric(config, "AdultOne", "members") == [777.0]
    assert rows(config, "select nsfw from communities where handle = 'AdultOne'")[0][0] in (True, 1)
