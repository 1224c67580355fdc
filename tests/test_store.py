"""The store: idempotent batched upserts, status history, posts, mentions, reads for sources.

Every test runs on SQLite and on the real PostgreSQL (the `engine` fixture).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text

from crawler.config import Tool
from crawler.db.store import Store
from crawler.errors import StoreError
from crawler.records import CommunityKey, CommunityObservation, MetricPoint, Post, PostStateUpdate, Record

T0 = datetime(2018, 1, 20, 12, 0, tzinfo=UTC)
SUB = CommunityKey("reddit", "subreddit", "deepfakes")
TOOLS = [
    Tool(name="FakeApp", category="desktop"),
    Tool(name="DeepFaceLab", category="desktop"),
    Tool(name="faceswap", category="desktop"),
]


def rows(engine: Engine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    tables = {
        "communities": "id",
        "metrics": "id",
        "status_changes": "id",
        "posts": "id",
        "mentions": "post_id, tool_id",
        "tools": "id",
    }
    return {t: rows(engine, f"SELECT * FROM {t} ORDER BY {order}") for t, order in tables.items()}  # noqa: S608


def post(ext: str, **kw: Any) -> Post:
    base: dict[str, Any] = dict(
        key=SUB,
        external_id=ext,
        created_at=T0,
        author="pseudo-1",
        title="FakeApp 2.2 released",
        body="works with FakeApp",
        url=f"https://reddit.com/r/deepfakes/comments/{ext}",
        link_domain="github.com",
        score=10,
        num_comments=2,
        flair="Tool",
        mentions=("FakeApp",),
        enriched=True,
    )
    base.update(kw)
    return Post(**base)


def observation(when: datetime, status: str | None = "active", **kw: Any) -> CommunityObservation:
    return CommunityObservation(
        key=kw.pop("key", SUB), observed_at=when, source="reddit_api", status=status, **kw
    )


@pytest.fixture
def store(engine: Engine) -> Store:
    s = Store(engine, batch_size=3)
    s.sync_tools(TOOLS)
    return s


def test_same_batch_twice_changes_nothing(store: Store, engine: Engine) -> None:
    batch: list[Record] = [
        observation(T0, "active", title="deepfakes", metrics={"members": 15000.0, "online_members": 90.0}),
        MetricPoint(SUB, "members", 10000.0, T0 - timedelta(days=7), "arctic_shift"),
        post("7r1a", mentions=("FakeApp", "faceswap")),
        post("7r1b", title=None, body=None, mentions=()),
        observation(T0 + timedelta(hours=6), "banned", status_reason="HTTP 404: banned"),
        PostStateUpdate("reddit", "7r1b", "deleted", T0 + timedelta(hours=1)),
    ]
    first = store.write(batch, None, now=T0)
    after_first = snapshot(engine)
    store.write(batch, None, now=T0)
    assert snapshot(engine) == after_first
    assert (
        first.communities,
        first.metrics,
        first.status_changes,
        first.posts,
        first.mentions,
        first.post_state_updates,
    ) == (2, 3, 2, 2, 2, 1)
    assert len(after_first["metrics"]) == 3
    assert len(after_first["status_changes"]) == 2


def test_same_metric_key_updates_value_only(store: Store, engine: Engine) -> None:
    store.write([MetricPoint(SUB, "posts_per_day", 3.0, T0, "post_field")], None)
    store.write([MetricPoint(SUB, "posts_per_day", 7.0, T0, "post_field")], None)
    store.write([MetricPoint(SUB, "posts_per_day", 5.0, T0, "arctic_shift")], None)
    got = rows(engine, "SELECT value, source FROM metrics ORDER BY source")
    assert got == [(5.0, "arctic_shift"), (7.0, "post_field")]


def test_first_status_has_no_old_status_and_repeats_add_no_rows(store: Store, engine: Engine) -> None:
    store.write([observation(T0, "active")], None)
    store.write([observation(T0 + timedelta(days=1), "active")], None)
    store.write([observation(T0 + timedelta(days=2), "banned", status_reason="HTTP 404")], None)
    store.write([observation(T0 + timedelta(days=3), "banned", status_reason="HTTP 404")], None)
    changes = rows(engine, "SELECT old_status, new_status, reason FROM status_changes ORDER BY observed_at")
    assert changes == [(None, "active", None), ("active", "banned", "HTTP 404")]
    assert rows(engine, "SELECT status, status_reason FROM communities") == [("banned", "HTTP 404")]


def test_history_older_than_last_check_does_not_flip_status(store: Store, engine: Engine) -> None:
    store.write([observation(T0 + timedelta(days=30), "banned", status_reason="HTTP 404")], None)
    store.write([observation(T0, "active", title="deepfakes", metrics={"members": 90000.0})], None)
    assert rows(engine, "SELECT status FROM communities") == [("banned",)]
    assert rows(engine, "SELECT new_status FROM status_changes") == [("banned",)]
    # The old observation still fills what was unknown and still keeps its metrics.
    assert rows(engine, "SELECT title FROM communities") == [("deepfakes",)]
    assert rows(engine, "SELECT value FROM metrics") == [(90000.0,)]
    last = rows(engine, "SELECT last_checked_at FROM communities")[0][0]
    assert str(last).startswith("2018-02-19")


def test_observation_updates_only_supplied_fields(store: Store, engine: Engine) -> None:
    store.write(
        [
            observation(
                T0,
                "active",
                title="deepfakes",
                url="https://reddit.com/r/deepfakes",
                nsfw=True,
                external_id="t5_3m0sz",
            )
        ],
        None,
    )
    store.write([observation(T0 + timedelta(days=1), None, title="Deepfakes!")], None)
    got = rows(engine, "SELECT title, url, nsfw, external_id, status FROM communities")
    assert got == [("Deepfakes!", "https://reddit.com/r/deepfakes", True, "t5_3m0sz", "active")]


def test_post_upsert_updates_score_comments_and_last_seen(store: Store, engine: Engine) -> None:
    store.write([post("7r1a", score=10, num_comments=2)], None, now=T0)
    store.write([post("7r1a", score=55, num_comments=9)], None, now=T0 + timedelta(days=1))
    got = rows(engine, "SELECT score, num_comments, first_seen_at, last_seen_at FROM posts")
    assert len(got) == 1
    score, comments, first, last = got[0]
    assert (score, comments) == (55, 9)
    assert str(first).startswith("2018-01-20") and str(last).startswith("2018-01-21")


def test_mentions_are_replaced_by_the_latest_visible_copy(store: Store, engine: Engine) -> None:
    store.write([post("7r1a", mentions=("FakeApp", "faceswap", "NotATool"))], None)
    store.write([post("7r1a", mentions=("DeepFaceLab",))], None)
    got = rows(engine, "SELECT t.name FROM mentions m JOIN tools t ON t.id = m.tool_id ORDER BY t.name")
    assert got == [("DeepFaceLab",)]


def test_removed_post_loses_text_and_never_gets_it_back(store: Store, engine: Engine) -> None:
    store.write([post("7r1a")], None, now=T0)
    store.write([PostStateUpdate("reddit", "7r1a", "removed", T0 + timedelta(hours=2))], None)
    erased = rows(engine, "SELECT state, title, body, author, url, score FROM posts")
    assert erased == [("removed", None, None, None, None, 10)]
    # A later listing still carries the text (a cache, an archive): it must not come back.
    store.write([post("7r1a", score=12)], None, now=T0 + timedelta(days=1))
    assert rows(engine, "SELECT state, title, body, author, url, score FROM posts") == [
        ("removed", None, None, None, None, 12)
    ]
    # Its mentions, found while the text was there, are kept.
    assert rows(engine, "SELECT count(*) FROM mentions") == [(1,)]


def test_post_seen_deleted_in_a_listing_loses_its_text(store: Store, engine: Engine) -> None:
    store.write([post("7r1a")], None)
    store.write([post("7r1a", state="deleted", title="[deleted]", author=None, mentions=())], None)
    assert rows(engine, "SELECT state, title, body, author, url FROM posts") == [
        ("deleted", None, None, None, None)
    ]
    assert rows(engine, "SELECT count(*) FROM mentions") == [(1,)]


def test_post_that_was_not_enriched_is_refused(store: Store, engine: Engine) -> None:
    with pytest.raises(StoreError, match="not enriched"):
        store.write([post("7r1a", enriched=False)], None)
    assert rows(engine, "SELECT count(*) FROM posts") == [(0,)]


def test_handles_are_compared_case_insensitively(store: Store, engine: Engine) -> None:
    store.ensure_communities([CommunityKey("reddit", "subreddit", "SFWdeepfakes")], T0)
    store.write([observation(T0, "active", key=CommunityKey("reddit", "subreddit", "sfwdeepfakes"))], None)
    fresh = Store(engine)  # no cache: the database itself must match the handle
    assert fresh.community_status(CommunityKey("reddit", "subreddit", "SFWDEEPFAKES")) == "active"
    assert rows(engine, "SELECT handle, status FROM communities") == [("SFWdeepfakes", "active")]


def test_ensure_communities_creates_unknown_rows_once(store: Store, engine: Engine) -> None:
    keys = [
        SUB,
        CommunityKey("github", "repo", "iperov/DeepFaceLab"),
        CommunityKey("reddit", "subreddit", "DeepFakes"),
    ]
    store.ensure_communities(keys, T0)
    store.ensure_communities(keys, T0 + timedelta(days=1))
    got = rows(
        engine, "SELECT platform, handle, status, first_seen_at, last_checked_at FROM communities ORDER BY id"
    )
    assert [(p, h, s, lc) for p, h, s, _, lc in got] == [
        ("reddit", "deepfakes", "unknown", None),
        ("github", "iperov/DeepFaceLab", "unknown", None),
    ]
    assert all(str(first).startswith("2018-01-20") for *_, first, _ in got)


def test_reads_for_sources(store: Store, engine: Engine) -> None:
    x = CommunityKey("x", "account", "deepfakes_app")
    store.write(
        [
            post("1960000000000000001", key=x, created_at=T0),
            post("999999999999999999", key=x, created_at=T0 + timedelta(hours=1)),
            post("7r1a", created_at=T0 - timedelta(days=2)),
            post("7r1b", created_at=T0 + timedelta(days=1)),
            post("7r1c", created_at=T0 + timedelta(days=2), state="removed"),
        ],
        None,
    )
    assert store.max_post_external_id(x) == "1960000000000000001"
    assert store.newest_post(x) == ("999999999999999999", T0 + timedelta(hours=1))
    assert store.newest_post(CommunityKey("reddit", "subreddit", "nothing")) is None
    assert sorted(store.post_ids_since("reddit", T0)) == ["7r1b"]
    assert store.community_id(SUB) is not None and store.community_status(SUB) == "unknown"
    assert store.community_status(CommunityKey("reddit", "subreddit", "nothing")) is None


def test_source_state_round_trips(store: Store) -> None:
    assert store.get_state("arctic_shift", "r/deepfakes") is None
    store.set_state("arctic_shift", "r/deepfakes", "2018-02-07")
    store.set_state("arctic_shift", "r/deepfakes", "2018-02-08")
    assert store.get_state("arctic_shift", "r/deepfakes") == "2018-02-08"


def test_run_time_stamps_posts_when_no_now_is_given(store: Store, engine: Engine) -> None:
    from crawler.db import runlog

    run_id = runlog.start_run(engine, trigger="manual", version="0.0.0", pid=1, host="h")
    store.write([post("7r1a")], run_id)
    store.write([post("7r1a", score=99)], run_id)
    first, last, run = rows(engine, "SELECT first_seen_at, last_seen_at, run_id FROM posts")[0]
    assert first == last and run == run_id
