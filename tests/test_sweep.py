"""The tiered deletion sweep: which stored posts a crawl re-checks, and what a re-check records.

The schedule's rule is pure (`crawler.recheck.post_due`), the store evaluates it in SQL
(`Store.post_ids_due`, on SQLite and PostgreSQL), and the Reddit source applies it through
`ctx.known.ids_due`; real praw against the fake Reddit API checks the whole path.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text

from crawler.db.store import Store
from crawler.recheck import SLACK, post_due, sweep_ages
from crawler.records import CommunityKey, Post, PostStateUpdate
from crawler.run import run_crawl
from tests.conftest import Sleeps
from tests.conftest import config_rows as rows
from tests.fakes.reddit import FakeReddit

DAY = timedelta(days=1)
NOW = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)
SUB = CommunityKey("reddit", "subreddit", "Alpha")
ALWAYS = timedelta(hours=48)

# (post id, age in days, days since it was last seen visible, due at fraction 1/4?)
SCHEDULE = [
    ("a", 0.5, 0.5, True),  # younger than 48 hours: at every crawl
    ("b", 1.9, 0.9, True),
    ("c", 3.0, 1.0, True),  # 1 day unseen >= 3/4 day
    ("d", 6.0, 1.0, False),  # 1 < 1.5
    ("e", 6.0, 2.0, True),
    ("f", 12.0, 2.0, False),  # 2 < 3
    ("g", 12.0, 3.1, True),
    ("h", 28.0, 6.0, False),  # weekly at a month: 6 < 7
    ("i", 28.0, 7.1, True),
    ("j", 40.0, 20.0, False),  # older than compliance_days (30): never
]


def post(ext: str, created: datetime) -> Post:
    return Post(key=SUB, external_id=ext, created_at=created, title="t", author="p", enriched=True)


def seed(store: Store) -> None:
    """Posts of the table, each last seen visible when the table says."""
    for ext, age, unseen, _due in SCHEDULE:
        store.write([post(ext, NOW - age * DAY)], None, now=NOW - unseen * DAY)


@pytest.mark.parametrize(("ext", "age", "unseen", "due"), SCHEDULE)
def test_the_rule_on_a_table_of_post_ages(ext: str, age: float, unseen: float, due: bool) -> None:
    in_window = age < 30
    assert (in_window and post_due(age * DAY, unseen * DAY, 0.25, ALWAYS, timedelta(0))) is due


def test_the_store_selects_the_posts_the_rule_says_are_due(engine: Engine) -> None:
    store = Store(engine)
    seed(store)
    store.write([post("gone", NOW - 3 * DAY)], None, now=NOW - 2 * DAY)
    store.write([PostStateUpdate("reddit", "gone", "removed", NOW - DAY)], None)
    due = store.post_ids_due(
        "reddit", since=NOW - 30 * DAY, now=NOW, fraction=0.25, always_after=NOW - ALWAYS
    )
    assert sorted(due) == sorted(ext for ext, *_x, is_due in SCHEDULE if is_due)
    # The daily sweep's read, for comparison: every visible post of the window.
    assert sorted(store.post_ids_since("reddit", NOW - 30 * DAY)) == [e for e, *_x in SCHEDULE if e != "j"]


def test_a_post_seen_visible_advances_last_seen_at_and_nothing_else(engine: Engine) -> None:
    store = Store(engine)
    store.write([post("p1", NOW - 5 * DAY), post("p2", NOW - 5 * DAY)], None, now=NOW - 5 * DAY)
    store.write([PostStateUpdate("reddit", "p2", "deleted", NOW - 2 * DAY)], None)
    store.write(
        [
            PostStateUpdate("reddit", "p1", "visible", NOW),
            PostStateUpdate("reddit", "p2", "visible", NOW),  # a removed post stays removed
        ],
        None,
    )
    store.write([PostStateUpdate("reddit", "p1", "visible", NOW - 3 * DAY)], None)  # never back
    with engine.connect() as conn:
        got = {
            r[0]: r[1:]
            for r in conn.execute(text("select external_id, last_seen_at, state, title from posts"))
        }
    assert got["p1"][1:] == ("visible", "t") and got["p2"][1:] == ("deleted", None)
    assert _utc(got["p1"][0]) == NOW and _utc(got["p2"][0]) == NOW - 5 * DAY


def test_sweep_ages_daily_in_the_first_days_weekly_at_a_month() -> None:
    ages = sweep_ages(0.25, 30 * DAY)
    assert ages == [1.5, 2.5, 3.5, 5.5, 7.5, 10.5, 14.5, 19.5, 26.5]
    gaps = [b - a for a, b in zip([0.5, *ages], ages, strict=False)]
    assert gaps[:3] == [1, 1, 1] and gaps[-1] == 7  # the daily sweep costs 29 checks a post
    assert SLACK < timedelta(hours=2)


# --------------------------------------------------------------------------- through praw


@pytest.fixture
def fake() -> Iterator[FakeReddit]:
    with FakeReddit() as server:
        yield server


def checked_ids(fake: FakeReddit) -> set[str]:
    """Post ids the sweep asked about since the fake's counts were last reset."""
    out: set[str] = set()
    for line in fake.log:
        if "/api/info" in line and "id=" in line:
            out.update(re.findall(r"t3_([0-9a-z]+)", line.replace("%2C", ",")))
    return out


def state_of(config: Any, ext: str) -> str:
    ((state,),) = rows(config, "select state from posts where external_id = :e", e=ext)
    return str(state)


@pytest.mark.parametrize(("sweep", "found_on_day"), [("tiered", 4), ("daily", 1)])
def test_a_deletion_is_found_by_the_tiered_sweep_within_its_tier(
    fake: FakeReddit, make_config: Any, monkeypatch: pytest.MonkeyPatch, sweep: str, found_on_day: int
) -> None:
    fake.add_subreddit("Alpha")
    old = fake.add_post("Alpha", (NOW - 12 * DAY).timestamp(), title="twelve days old")
    young = fake.add_post("Alpha", (NOW - DAY).timestamp(), title="a day old")
    env = {
        "DFWATCH_ENDPOINT_REDDIT": fake.url,
        "REDDIT_CLIENT_ID": fake.client_id,
        "REDDIT_CLIENT_SECRET": fake.client_secret,
    }
    watch = {"reddit": {"subreddits": ["Alpha"]}}
    first = make_config(watch, "[reddit]\nlookback_days = 30\n", env=env)
    # Later crawls list only the last hour, so only the sweep can see the two posts again.
    later = make_config(watch, f'[reddit]\nlookback_days = 0.04\nsweep = "{sweep}"\n', env=env)

    def crawl_on(day: int, config: Any) -> None:
        monkeypatch.setenv("DFWATCH_NOW", (NOW + day * DAY).isoformat())
        fake.reset_counts()
        assert run_crawl(config, only=["reddit"], sleep=Sleeps()).status == "ok"

    crawl_on(0, first)
    fake.delete_post(old["id"])
    asked: dict[int, set[str]] = {}
    for day in range(1, found_on_day + 1):
        assert state_of(first, old["id"]) == "visible"
        crawl_on(day, later)
        asked[day] = checked_ids(fake)
    assert state_of(first, old["id"]) == "deleted"
    assert old["id"] in asked[found_on_day]
    if sweep == "tiered":
        # 12 days old, seen on day 0: due once 1/4 of its age has passed unseen (day 4), not before.
        assert all(old["id"] not in asked[d] for d in (1, 2, 3))
        assert all(young["id"] in asked[d] for d in (1, 2, 3))  # daily while young
    (seen,) = rows(first, "select last_seen_at from posts where external_id = :e", e=young["id"])
    assert _utc(seen[0]) >= NOW + (found_on_day - 1) * DAY


def _utc(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
