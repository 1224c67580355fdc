"""Following the migration: links read at enrichment, evidence, candidates, watch add /
ignore and auto-watch, end to end with real praw against the fake Reddit API."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from crawler.cli import app
from crawler.config import load_config
from crawler.db.store import Store
from crawler.discover import DiscoveredFile, auto_watch, list_candidates, parse_key, refresh_candidates
from crawler.discover.watchfile import HEADER, watchfile_path
from crawler.enrich import Enricher
from crawler.errors import ConfigError
from crawler.plugins import declared
from crawler.records import CommunityKey, Post
from crawler.run import run_crawl
from tests.conftest import Sleeps
from tests.conftest import config_rows as rows
from tests.fakes.reddit import FakeReddit

runner = CliRunner()
T0 = datetime(2018, 2, 7, 12, tzinfo=UTC)


@pytest.fixture
def fake() -> Iterator[FakeReddit]:
    with FakeReddit() as server:
        yield server


def reddit_config(make_config: Any, fake: FakeReddit, subreddits: list[Any], settings: str = "") -> Any:
    env = {
        "DFWATCH_ENDPOINT_REDDIT": fake.url,
        "REDDIT_CLIENT_ID": fake.client_id,
        "REDDIT_CLIENT_SECRET": fake.client_secret,
    }
    return make_config({"reddit": {"subreddits": subreddits}}, settings, env=env)


def reload(config: Any) -> Any:
    return load_config(config.directory, env=dict(config.env))


def crawl(config: Any) -> Any:
    return run_crawl(config, only=["reddit"], sleep=Sleeps())


def post_links(fake: FakeReddit, sub: str, n: int, text_: str, start: float | None = None) -> None:
    start = start or time.time() - 3600
    for i in range(n):
        fake.add_post(sub, start + i, title=f"moved, see {text_}", author=f"user{i}")


# --------------------------------------------------------------------------- enrichment


def test_links_are_read_before_the_counts_policy_drops_the_text(make_config: Any) -> None:
    config = make_config({"reddit": {"subreddits": [{"name": "a_sub", "content": "counts"}]}})
    post = Post(
        CommunityKey("reddit", "subreddit", "a_sub"),
        "p1",
        created_at=T0,
        author="someone",
        title="We moved to t.me/new_home and discord.gg/AbCd",
        body="also https://www.reddit.com/r/a_sub/ (ourselves) and r/Other_Sub",
        link_url="https://github.com/owner/tool",
    )
    out = Enricher(config).enrich_post(post)
    assert out.title is None and out.body is None and out.author is None
    assert [str(k) for k in out.links] == [
        "telegram:channel:new_home",
        "discord:server:AbCd",
        "reddit:subreddit:Other_Sub",
        "github:repo:owner/tool",
    ]  # the community's link to itself is no evidence


def test_link_reading_can_be_switched_off_for_the_benchmark(make_config: Any) -> None:
    config = make_config({"reddit": {"subreddits": ["a_sub"]}})
    post = Post(CommunityKey("reddit", "subreddit", "a_sub"), "p1", title="t.me/new_home")
    assert Enricher(config, read_links=False).enrich_post(post).links == ()


# --------------------------------------------------------------------------- evidence


def test_link_evidence_is_stored_once_however_often_the_post_is_written(
    engine: Engine, make_config: Any
) -> None:
    config = make_config({"reddit": {"subreddits": ["a_sub"]}})
    enricher = Enricher(config)
    store = Store(engine)
    key = CommunityKey("reddit", "subreddit", "a_sub")
    posts = [
        Post(key, f"p{i}", created_at=T0, title="t.me/New_Home and T.ME/new_home/12 and r/b_sub")
        for i in range(3)
    ]
    for _ in range(2):
        store.write([enricher(p) for p in posts], None, now=T0)
    with engine.connect() as conn:
        got = conn.execute(
            text(
                "select platform, kind, lower(handle), count(*) from community_links group by 1, 2, 3 order by 1"
            )
        ).all()
    assert [tuple(r) for r in got] == [
        ("reddit", "subreddit", "b_sub", 3),
        ("telegram", "channel", "new_home", 3),
    ]
    refresh_candidates(engine, now=T0)
    first = [c.as_json() for c in list_candidates(engine, since=T0.replace(year=2017), until=T0)]
    store.write([enricher(p) for p in posts], None, now=T0)
    refresh_candidates(engine, now=T0)
    assert [c.as_json() for c in list_candidates(engine, since=T0.replace(year=2017), until=T0)] == first
    assert first[0]["posts"] == 3 and first[0]["communities"] == 1


# --------------------------------------------------------------------------- end to end


SETTINGS = "[discovery]\nauto_watch = true\nmin_posts = 3\nmin_communities = 2\n"


def _story(fake: FakeReddit) -> None:
    for name in ("alpha", "beta", "gamma", "new_sub"):
        fake.add_subreddit(name, subscribers=1000)
    post_links(fake, "alpha", 2, "t.me/refuge_chan")
    post_links(fake, "beta", 2, "https://telegram.me/Refuge_Chan/")
    post_links(fake, "alpha", 5, "https://discord.gg/OnlyOne")  # one community only
    post_links(fake, "alpha", 3, "https://x.com/some_person")  # an account: never automatic
    post_links(fake, "beta", 3, "x.com/some_person?s=20")
    post_links(fake, "gamma", 3, "x.com/some_person")
    post_links(fake, "beta", 2, "r/new_sub")
    post_links(fake, "gamma", 2, "https://old.reddit.com/r/New_Sub/comments/x/y")
    post_links(fake, "gamma", 4, "r/alpha")  # watched already: a link, not a candidate


def test_auto_watch_follows_the_links_past_both_thresholds_and_never_adds_a_person(
    make_config: Any, fake: FakeReddit
) -> None:
    _story(fake)
    config = reddit_config(make_config, fake, ["alpha", "beta", "gamma"], SETTINGS)
    hand_written = (config.directory / "watchlist.yaml").read_text()
    assert crawl(config).status == "ok"

    cands = {
        (r[0], r[1], r[2].lower()): (r[3], r[4], r[5], r[6])
        for r in rows(
            config, "select platform, kind, handle, posts, communities, status, promoted_by from candidates"
        )
    }
    assert cands == {
        ("telegram", "channel", "refuge_chan"): (4, 2, "watched", "auto"),
        ("reddit", "subreddit", "new_sub"): (4, 2, "watched", "auto"),
        ("discord", "server", "onlyone"): (5, 1, "new", None),
        ("x", "account", "some_person"): (9, 3, "new", None),
    }
    path = watchfile_path(config.directory)
    content = path.read_text()
    assert content.startswith(HEADER)
    written = yaml.safe_load(content)
    assert written == {
        "reddit": {"subreddits": [{"name": "new_sub", "tags": ["discovered"], "content": "counts"}]},
        "telegram": {"channels": [{"name": "refuge_chan", "tags": ["discovered"], "content": "counts"}]},
    }
    assert (config.directory / "watchlist.yaml").read_text() == hand_written

    # The next crawl follows the migration: r/new_sub is crawled, its row observed.
    config = reload(config)
    assert {t.key.handle for t in config.targets("reddit")} == {"alpha", "beta", "gamma", "new_sub"}
    assert crawl(config).status == "ok"
    ((status, members),) = rows(
        config,
        "select c.status, m.value from communities c join metrics m on m.community_id = c.id "
        "where c.handle = 'new_sub' and m.metric = 'members'",
    )
    assert (status, members) == ("active", 1000)


def test_candidates_are_idempotent_over_recrawls(make_config: Any, fake: FakeReddit) -> None:
    _story(fake)
    config = reddit_config(make_config, fake, ["alpha", "beta", "gamma"])
    crawl(config)
    query = "select platform, kind, handle, posts, communities, first_seen_at, last_seen_at, status from candidates"
    first = sorted(map(tuple, rows(config, query)))
    links = rows(config, "select count(*) from community_links")
    crawl(config)
    crawl(config)
    assert sorted(map(tuple, rows(config, query))) == first
    assert rows(config, "select count(*) from community_links") == links
    assert not watchfile_path(config.directory).exists()  # auto_watch is off by default


def test_ignore_is_remembered_across_crawls(make_config: Any, fake: FakeReddit) -> None:
    _story(fake)
    config = reddit_config(make_config, fake, ["alpha", "beta", "gamma"], SETTINGS)
    DiscoveredFile(config).ignore([parse_key("telegram:channel:refuge_chan")])
    crawl(config)
    crawl(reload(config))
    ((status,),) = rows(config, "select status from candidates where handle = 'refuge_chan'")
    assert status == "ignored"
    written = yaml.safe_load(watchfile_path(config.directory).read_text())
    assert "telegram" not in written and written["ignored"] == ["telegram:channel:refuge_chan"]
    result = runner.invoke(
        app, ["discover", "--format", "json", "--config", str(config.directory)], env=dict(config.env)
    )
    handles = {c["handle"].lower() for c in json.loads(result.output)["candidates"]}
    assert "refuge_chan" not in handles
    result = runner.invoke(
        app,
        ["discover", "--all", "--format", "json", "--config", str(config.directory)],
        env=dict(config.env),
    )
    by = {c["handle"].lower(): c["status"] for c in json.loads(result.output)["candidates"]}
    assert by["refuge_chan"] == "ignored" and by["new_sub"] == "watched"


def test_discover_json_ranks_by_communities_then_posts_with_linked_from(
    make_config: Any, fake: FakeReddit
) -> None:
    _story(fake)
    config = reddit_config(make_config, fake, ["alpha", "beta", "gamma"])
    crawl(config)
    result = runner.invoke(
        app,
        ["discover", "--format", "json", "--min-posts", "4", "--config", str(config.directory)],
        env=dict(config.env),
    )
    assert result.exit_code == 0, result.output
    got = json.loads(result.output)["candidates"]
    assert [(c["platform"], c["handle"].lower(), c["posts"], c["communities"]) for c in got] == [
        ("x", "some_person", 9, 3),
        ("reddit", "new_sub", 4, 2),
        ("telegram", "refuge_chan", 4, 2),
        ("discord", "onlyone", 5, 1),
    ]
    assert set(got[0]) == {
        "platform", "kind", "handle", "posts", "communities", "first_seen_at", "last_seen_at", "status", "linked_from"
    }  # fmt: skip
    assert got[0]["status"] == "new" and got[0]["first_seen_at"].endswith("Z")
    assert sorted((f["handle"], f["posts"]) for f in got[0]["linked_from"]) == [
        ("alpha", 3),
        ("beta", 3),
        ("gamma", 3),
    ]
    assert set(got[0]["linked_from"][0]) == {"platform", "kind", "handle", "posts"}
    table = runner.invoke(app, ["discover", "--config", str(config.directory)], env=dict(config.env))
    assert "telegram:channel:" in table.output and table.exit_code == 0
    csv_out = runner.invoke(
        app, ["discover", "--format", "csv", "--config", str(config.directory)], env=dict(config.env)
    )
    assert csv_out.output.splitlines()[0].startswith("platform,kind,handle,posts,communities")


# --------------------------------------------------------------------------- watch add / ignore


def test_watch_add_writes_discovered_yaml_and_the_loader_merges_it(make_config: Any, tmp_path: Path) -> None:
    config = make_config({"reddit": {"subreddits": ["alpha"]}, "telegram": {"channels": ["old_chan"]}})
    env = dict(config.env)
    args = ["watch", "add", "discord:server:AbCd", "https://t.me/s/fresh_chan", "reddit:subreddit:ALPHA",
            "telegram:group:old_chan", "huggingface:model:owner/name", "huggingface:author:someone", "--config", str(config.directory)]  # fmt: skip
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    assert "watching discord:server:AbCd" in result.output
    assert "skipped reddit:subreddit:ALPHA: already watched" in result.output
    assert "skipped telegram:group:old_chan: already watched" in result.output  # one namespace
    assert "watching huggingface:model:owner/name" in result.output
    assert "no source watches huggingface authors yet" in result.output  # no Follow declared
    reloaded = reload(config)
    assert [t.key.handle for t in reloaded.targets("discord")] == ["AbCd"]
    assert [t.key.handle for t in reloaded.targets("telegram")] == ["old_chan", "fresh_chan"]
    assert reloaded.target_for(CommunityKey("discord", "server", "AbCd")).tags == ("discovered",)
    assert reloaded.policy_for(CommunityKey("discord", "server", "AbCd")) == "metadata"  # a person chose it
    # Adding again changes nothing; the file stays valid.
    again = runner.invoke(app, args, env=env)
    assert "skipped discord:server:AbCd: already watched" in again.output
    assert yaml.safe_load(watchfile_path(config.directory).read_text())["discord"] == {
        "invites": [{"name": "AbCd", "tags": ["discovered"]}]
    }


def test_watch_add_refuses_a_handle_its_source_would_not_load(make_config: Any) -> None:
    config = make_config({"reddit": {"subreddits": ["alpha"]}})
    with pytest.raises(ConfigError, match="refused to write"):
        DiscoveredFile(config).add([CommunityKey("telegram", "channel", "no")])  # too short for Telegram
    assert not watchfile_path(config.directory).exists()


def test_watch_ignore_then_add_takes_it_off_the_ignored_list(make_config: Any) -> None:
    config = make_config({"reddit": {"subreddits": ["alpha"]}})
    env, d = dict(config.env), str(config.directory)
    assert (
        runner.invoke(
            app, ["watch", "ignore", "telegram:channel:spam_chan", "--config", d], env=env
        ).exit_code
        == 0
    )
    assert yaml.safe_load(watchfile_path(config.directory).read_text()) == {
        "ignored": ["telegram:channel:spam_chan"]
    }
    assert (
        runner.invoke(app, ["watch", "add", "telegram:channel:Spam_Chan", "--config", d], env=env).exit_code
        == 0
    )
    assert yaml.safe_load(watchfile_path(config.directory).read_text()) == {
        "telegram": {"channels": [{"name": "Spam_Chan", "tags": ["discovered"]}]}
    }
    bad = runner.invoke(app, ["watch", "add", "nonsense", "--config", d], env=env)
    assert bad.exit_code == 2 and "PLATFORM:KIND:HANDLE" in bad.output


def test_auto_watch_does_nothing_when_switched_off(make_config: Any, engine: Engine) -> None:
    config = make_config({"reddit": {"subreddits": ["alpha"]}})
    assert auto_watch(config, engine) == []


@pytest.mark.parametrize("spec", [s for s in declared() if s.follows], ids=lambda s: s.name)
def test_every_declared_follow_maps_onto_its_own_section(spec: Any, make_config: Any) -> None:
    samples = {"subreddit": "some_sub", "account": "someone", "repo": "owner/repo", "server": "AbCd",
               "channel": "some_chan", "group": "some_group", "bot": "SomeSwapBot"}  # fmt: skip
    for follow in spec.follows:
        assert follow.kind in spec.kinds
        config = make_config({})
        by_platform = {("bluesky", "account"): "someone.bsky.social", ("civitai", "model"): "123456"}
        handle = by_platform.get((spec.platform, follow.kind)) or samples.get(follow.kind, "owner/name")
        key = CommunityKey(spec.platform, follow.kind, handle)
        assert DiscoveredFile(config).add([key]).added == [key]
        assert reload(config).target_for(key) is not None


def test_discover_on_a_database_without_the_tables_says_what_to_do(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "old.db"
    sqlite3.connect(db).close()
    env = {"DFWATCH_DATABASE_URL": f"sqlite:///{db}"}
    for args in (["discover"], ["alerts", "list"]):
        result = runner.invoke(app, args, env=env)
        assert result.exit_code == 1 and "dfwatch db upgrade" in result.output, result.output
