"""kill -9 in the middle of a crawl, then crawl again: nothing lost, nothing doubled.

The first crawl is held at a request of the fake (a `Gate`) after some batches were
committed, and killed there with SIGKILL: no handler, `finally` or atexit runs, exactly as
when the OOM killer or a power cut ends it. The second crawl must take over the dead
process's run lock at once (`lock_wait_seconds = 0`: waiting would fail it), mark the dead
run aborted, and leave the database holding every post the fake serves, once.
"""

from __future__ import annotations

import time
from pathlib import Path

from tests.fakes.x import COUNTS, SEARCH, TOKEN
from tests.reliability.harness import (
    Gate,
    GatedReddit,
    GatedX,
    kill9,
    make_crawl,
    query,
    scalar,
    settings,
    wait_until,
)

SUBREDDITS = [f"Fakes{i:02d}" for i in range(25)]  # 25 observations: 2 batches of 10 + 5 buffered
POSTS = 250  # three listing pages of 100


def reddit_world(fake: GatedReddit) -> None:
    now = time.time()
    for i, name in enumerate(SUBREDDITS):
        fake.add_subreddit(name, subscribers=1000 + i)
    for i in range(POSTS):
        fake.add_post(SUBREDDITS[i % len(SUBREDDITS)], now - 3600 - 60 * i, title=f"DeepFaceLab build {i}")


def test_killed_reddit_crawl_is_aborted_and_the_next_crawl_stores_everything_once(
    fake_reddit: GatedReddit, db_url: str, tmp_path: Path
) -> None:
    reddit_world(fake_reddit)
    crawl = make_crawl(
        tmp_path / "config",
        db_url,
        {"reddit": {"subreddits": SUBREDDITS}},
        settings(10),
        endpoints={"reddit": fake_reddit.url},
        credentials={
            "REDDIT_CLIENT_ID": fake_reddit.client_id,
            "REDDIT_CLIENT_SECRET": fake_reddit.client_secret,
        },
    )
    fake_reddit.listing_gate = gate = Gate(nth=2)  # hold the second page of /r/a+b+.../new

    first = crawl.start()
    gate.wait_reached()
    committed = scalar(db_url, "select count(*) from metrics")
    assert committed >= 20, "the kill should land after some batches were committed"
    (run_id, status, pid) = query(db_url, "select id, status, pid from crawl_runs")[0]
    assert (status, pid) == ("running", first.pid)
    kill9(first)
    gate.release()

    second = crawl.run()

    assert second.returncode == 0, second.stderr
    assert f"process {first.pid} is dead" in second.stderr  # the lock was taken over, not waited out
    runs = query(db_url, "select id, status, error_summary from crawl_runs order by id")
    assert runs[0] == (run_id, "aborted", f"process {first.pid} died")
    assert runs[1][1] == "ok"
    assert scalar(db_url, "select count(*) from run_locks") == 0

    stored = [r[0] for r in query(db_url, "select external_id from posts where platform = 'reddit'")]
    assert sorted(stored) == sorted(fake_reddit.posts)  # every post served, each once
    assert scalar(db_url, "select count(*) from mentions") == POSTS  # one DeepFaceLab mention each
    members = dict(
        query(
            db_url,
            """
        select c.handle, m.value from metrics m join communities c on c.id = m.community_id
        where m.metric = 'members' and m.source = 'reddit_api' and m.run_id = :r""",
            r=runs[1][0],
        )
    )
    assert members == {name: 1000 + i for i, name in enumerate(SUBREDDITS)}
    # The killed run's committed observations stay, attributed to it; none was written twice.
    assert scalar(db_url, "select count(*) from metrics where run_id = :r", r=run_id) == committed


QUERY = "DeepFaceLab"


def test_killed_x_search_is_resumed_without_losing_older_posts(
    fake_x: GatedX, db_url: str, tmp_path: Path
) -> None:
    served = fake_x.make_tweets(250)  # three search pages of 100, newest first
    fake_x.add_tweets(QUERY, served)
    crawl = make_crawl(
        tmp_path / "config",
        db_url,
        {"x": {"queries": [QUERY]}},
        settings(10),
        endpoints={"x": fake_x.url},
        credentials={"X_BEARER_TOKEN": TOKEN},
    )
    gate = fake_x.gate(SEARCH, nth=2)

    first = crawl.start()
    gate.wait_reached()
    wait_until(lambda: scalar(db_url, "select count(*) from posts") >= 90, "the first page's batches")
    kill9(first)
    gate.release()
    second = crawl.run()

    assert second.returncode == 0, second.stderr
    assert fake_x.requests[COUNTS] == 2
    stored = {r[0] for r in query(db_url, "select external_id from posts where platform = 'x'")}
    missing = {t["id"] for t in served} - stored
    assert not missing, f"{len(missing)} of {len(served)} posts served were never stored"


def test_reddit_crawl_dying_mid_write_is_resumed_without_losing_older_posts(
    fake_reddit: GatedReddit, tmp_path: Path
) -> None:
    """Dying part-way through the posts, deterministically: a page cap fills the database."""
    db_url = f"sqlite:///{tmp_path / 'dfwatch.db'}"
    now = time.time()
    names = ["Alpha", "Beta", "Gamma"]
    for name in names:
        fake_reddit.add_subreddit(name)
    for i in range(300):
        fake_reddit.add_post(names[i % 3], now - 3600 - 60 * i, title="DeepFaceLab " + "y" * 1500)
    crawl = make_crawl(
        tmp_path / "config",
        db_url,
        {"reddit": {"subreddits": names}},
        settings(10),
        endpoints={"reddit": fake_reddit.url},
        credentials={
            "REDDIT_CLIENT_ID": fake_reddit.client_id,
            "REDDIT_CLIENT_SECRET": fake_reddit.client_secret,
        },
    )
    crawl.program = (str(Path(__file__).with_name("capped_cli.py")),)
    crawl.env["DFWATCH_TEST_MAX_PAGES"] = "120"  # the schema takes ~30 pages; some 80 posts fit after it
    first = crawl.run()
    assert first.returncode == 1, first.stderr
    assert 0 < scalar(db_url, "select count(*) from posts") < 300  # died part-way through the posts

    crawl.program = ("-m", "crawler.cli")
    second = crawl.run()

    assert second.returncode == 0, second.stderr
    stored = {r[0] for r in query(db_url, "select external_id from posts")}
    missing = set(fake_reddit.posts) - stored
    assert not missing, f"{len(missing)} of {len(fake_reddit.posts)} posts served were never stored"
