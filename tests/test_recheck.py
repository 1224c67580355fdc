"""Patient re-checks of dead communities: the backoff, its reset, and what the store keeps.

A community found banned, not_found or suspended on k consecutive checks is due again after
2^k days, at most a week; any change resets it. A skipped check is no check: nothing is
emitted, `last_checked_at` stays, the status history stays exact.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text

from crawler.db.store import Store
from crawler.recheck import CheckState, interval, is_due, next_check
from crawler.records import CommunityKey, CommunityObservation
from crawler.run import run_crawl
from tests.conftest import Sleeps
from tests.conftest import config_rows as rows
from tests.fakes.reddit import FakeReddit

DAY = timedelta(days=1)
T0 = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)
SUB = CommunityKey("reddit", "subreddit", "BannedOne")


@pytest.mark.parametrize(
    ("status", "checks", "days"),
    [
        ("banned", 1, 2),
        ("banned", 2, 4),
        ("banned", 3, 7),  # 2^3 = 8, capped at a week
        ("not_found", 9, 7),
        ("suspended", 2, 4),
        ("active", 5, None),  # every crawl
        ("private", 5, None),
        ("quarantined", 5, None),
        ("banned", 0, None),  # never confirmed: every crawl
    ],
)
def test_the_backoff_doubles_up_to_a_week(status: str, checks: int, days: int | None) -> None:
    state = CheckState(status, checks, T0)
    assert interval(state) == (None if days is None else days * DAY)
    assert next_check(state) == (None if days is None else T0 + days * DAY)


def test_a_check_is_due_at_its_time_less_an_hour_and_an_unknown_community_always() -> None:
    state = CheckState("banned", 2, T0)  # due on T0 + 4 days
    assert not is_due(state, T0 + 3 * DAY)
    assert is_due(state, T0 + 4 * DAY - timedelta(minutes=50))  # a crawl starting a bit early
    assert not is_due(state, T0 + 4 * DAY - timedelta(hours=2))
    assert is_due(None, T0) and is_due(CheckState("banned", 1, None), T0)


def obs(when: datetime, status: str | None) -> CommunityObservation:
    return CommunityObservation(
        key=SUB, observed_at=when, source="reddit_api", status=status, status_reason=status
    )


def test_the_store_counts_consecutive_checks_and_resets_on_a_change(engine: Engine) -> None:
    store = Store(engine)
    store.write([obs(T0, "active")], None)
    store.write([obs(T0 + DAY, "banned"), obs(T0 + DAY, "banned")], None)  # one instant, one check
    assert store.check_states()[SUB.norm] == ("banned", 1, T0 + DAY)
    store.write([obs(T0 + 3 * DAY, "banned")], None)
    store.write([obs(T0 + 3 * DAY + timedelta(hours=1), None)], None)  # says nothing of status
    store.write([obs(T0 + 7 * DAY, "banned")], None)
    assert store.check_states()[SUB.norm][:2] == ("banned", 3)
    store.write([obs(T0 + 14 * DAY, "active")], None)
    assert store.check_states()[SUB.norm] == ("active", 1, T0 + 14 * DAY)
    with engine.connect() as conn:
        history = [
            tuple(r)
            for r in conn.execute(
                text(
                    "select old_status, new_status, observed_at, previous_check_at from status_changes order by id"
                )
            )
        ]
    # The history stays exact: the return happened after the last check that saw the ban.
    assert [(o, n) for o, n, *_ in history] == [(None, "active"), ("active", "banned"), ("banned", "active")]
    assert _utc(history[2][3]) == T0 + 7 * DAY and _utc(history[1][3]) == T0


# --------------------------------------------------------------------------- through praw


@pytest.fixture
def fake() -> Iterator[FakeReddit]:
    with FakeReddit() as server:
        yield server


def test_a_banned_subreddit_is_asked_after_2_then_4_days_and_every_day_once_it_is_back(
    fake: FakeReddit, make_config: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.add_subreddit("OpenOne")
    banned = fake.add_subreddit("BannedOne", status="banned")
    config = make_config(
        {"reddit": {"subreddits": ["OpenOne", "BannedOne", "NoSuchSub"]}},
        env={
            "DFWATCH_ENDPOINT_REDDIT": fake.url,
            "REDDIT_CLIENT_ID": fake.client_id,
            "REDDIT_CLIENT_SECRET": fake.client_secret,
        },
    )

    def crawl_on(day: int) -> int:
        monkeypatch.setenv("DFWATCH_NOW", (T0 + day * DAY).isoformat())
        fake.reset_counts()
        assert run_crawl(config, only=["reddit"], sleep=Sleeps()).status == "ok"
        return fake.counts["about"]

    abouts = {day: crawl_on(day) for day in range(7)}
    # Both dead names: asked on day 0, then 2 days later, then 4 days after that (day 6).
    assert abouts == {0: 2, 1: 0, 2: 2, 3: 0, 4: 0, 5: 0, 6: 2}
    checked = rows(
        config, "select handle, last_checked_at, status, status_checks from communities order by handle"
    )
    by = {r[0]: r[1:] for r in checked}
    assert _utc(by["BannedOne"][0]) == _utc(by["NoSuchSub"][0])
    assert by["BannedOne"][1:] == ("banned", 3) and by["OpenOne"][1] == "active"
    assert _utc(by["BannedOne"][0]).date() == (T0 + 6 * DAY).date()  # the skipped days are no checks
    ((changes_so_far,),) = rows(
        config,
        "select count(*) from status_changes s join communities c on c.id = s.community_id "
        "where c.handle = 'BannedOne'",
    )
    assert changes_so_far == 1  # one change (unknown -> banned), however often it was confirmed

    banned.status = "active"  # back: it is in the batch answer again, at once, for free
    assert crawl_on(7) == 0  # and NoSuchSub, found missing three times, waits a week (day 13)
    assert by_status(config, "BannedOne") == ("active", 1)
    changes = rows(
        config,
        "select old_status, new_status, previous_check_at from status_changes s "
        "join communities c on c.id = s.community_id where c.handle = 'BannedOne' order by s.id",
    )
    assert [(r[0], r[1]) for r in changes] == [(None, "banned"), ("banned", "active")]
    assert _utc(changes[1][2]).date() == (T0 + 6 * DAY).date()  # the change lies in (day 6, day 7]


def by_status(config: Any, handle: str) -> tuple[str, int]:
    ((status, checks),) = rows(
        config, "select status, status_checks from communities where handle = :h", h=handle
    )
    return str(status), int(checks)


def _utc(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
