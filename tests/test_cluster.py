"""The distributed crawl (crawler.cluster): settings, shards, workers on the real Redis and PostgreSQL.

Tests that need Redis (127.0.0.1:6379) or PostgreSQL (127.0.0.1:5432) skip with the reason
where they are absent; each uses a queue and key prefix of its own and a PostgreSQL schema
of its own, dropped afterwards. Counts and orderings, never durations.
"""

from __future__ import annotations

from typing import Any

import pytest

from crawler.errors import ConfigError


def test_a_broker_with_sqlite_is_refused_in_one_sentence(make_config: Any) -> None:
    with pytest.raises(ConfigError, match=r"cluster.broker: a broker .* needs a PostgreSQL database"):
        make_config({}, env={"DFWATCH_BROKER_URL": "redis://127.0.0.1:6379/0"})


def test_the_broker_comes_from_the_environment_before_the_settings(make_config: Any) -> None:
    pg = "postgresql+psycopg://u@127.0.0.1:5432/db"
    config = make_config({}, '[cluster]\nbroker = "redis://a:6379/0"\n', db_url=pg)
    assert config.broker_url == "redis://a:6379/0"
    config = make_config(
        {},
        '[cluster]\nbroker = "redis://a:6379/0"\n',
        env={"DFWATCH_BROKER_URL": "redis://b:6379/1"},
        db_url=pg,
    )
    assert config.broker_url == "redis://b:6379/1"
    assert make_config({}).broker_url is None  # the default: every crawl on this machine


def test_a_broker_that_is_no_redis_url_is_refused_without_echoing_it(make_config: Any) -> None:
    with pytest.raises(ConfigError) as info:
        make_config({}, '[cluster]\nbroker = "amqp://user:hunter2@mq/"\n')
    assert "hunter2" not in str(info.value)
    assert "cluster.broker" in str(info.value)


def test_the_run_shards_migration_and_model_agree(sqlite_engine: Any) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from crawler.db.models import Base

    with sqlite_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert [d for d in diff if "run_shards" in repr(d)] == []


# --------------------------------------------------------------------------- the planner

SECRETS = {
    "REDDIT_CLIENT_ID": "cluster-test-client-id",
    "REDDIT_CLIENT_SECRET": "cluster-test-client-secret-value",
    "X_BEARER_TOKEN": "AAAA-cluster-test-bearer-token-0123456789",
    "GITHUB_TOKEN": "ghp_clustertesttoken0123456789",
    "DFWATCH_PSEUDONYM_KEY": "cluster-test-pseudonym-key",
}


def test_reddit_shards_are_the_batch_unit_and_the_sweep_runs_once(make_config: Any) -> None:
    import json

    from crawler.cluster.shards import plan_shards, shard_targets
    from crawler.run import plan

    names = [f"Sub{i:03d}" for i in range(250)]
    watchlist = {
        "reddit": {"subreddits": names},
        "x": {"accounts": [f"acct{i}" for i in range(150)], "queries": ["deepfake"]},
        "github": {"repos": [f"owner{i}/repo" for i in range(7)]},
        "forums": [
            {"url": "https://forum.one.example", "engine": "phpbb"},
            {"url": "https://forum.two.example", "engine": "phpbb"},
        ],
    }
    pg = "postgresql+psycopg://dbuser:dbpassword@db.example:5432/dfwatch"
    config = make_config(
        watchlist,
        "[cluster]\nspider_group = 5\n",
        env={**SECRETS, "DFWATCH_BROKER_URL": "redis://:brokerpass@redis.example:6379/0"},
        db_url=pg,
    )
    runnable, _skipped = plan(config, ["reddit", "x", "github", "forums"])
    shards = plan_shards(config, 7, runnable)
    reddit = [s for s in shards if s.source == "reddit"]
    assert [(s.steps, len(s.targets)) for s in reddit] == [
        ("targets", 100),
        ("targets", 100),
        ("targets", 50),
        ("finale", 0),
    ]
    assert [h for s in reddit for _p, _k, h in s.targets] == sorted(names, key=str.lower)
    x = [s for s in shards if s.source == "x"]
    assert [len(s.targets) for s in x] == [100, 50, 1]
    github = [s for s in shards if s.source == "github"]
    assert [len(s.targets) for s in github] == [5, 2]  # one site, cut by spider_group
    forums = [s for s in shards if s.source == "forums"]
    assert [s.targets[0][2] for s in forums] == ["https://forum.one.example", "https://forum.two.example"]
    assert {s.run_id for s in shards} == {7} and len({s.fingerprint for s in shards}) == 1
    # A worker rebuilds the targets from its own watchlist.
    assert [t.key.handle for t in shard_targets(config, reddit[0])] == [h for _p, _k, h in reddit[0].targets]

    wire = json.dumps([s.message() for s in shards])
    for secret in [*SECRETS.values(), "dbpassword", "brokerpass", pg]:
        assert secret not in wire
    assert set(shards[0].message()) == {"run_id", "source", "shard", "steps", "targets", "fingerprint"}


def test_a_single_reddit_block_is_one_whole_shard(make_config: Any) -> None:
    from crawler.cluster.shards import plan_shards
    from crawler.run import plan

    config = make_config({"reddit": {"subreddits": ["aa", "bb"]}}, env=SECRETS)
    runnable, _ = plan(config, ["reddit"])
    assert [(s.steps, len(s.targets)) for s in plan_shards(config, 1, runnable)] == [("all", 2)]


def test_the_fingerprint_follows_the_watchlist_not_the_machine(make_config: Any) -> None:
    from crawler.cluster.shards import config_fingerprint

    a = make_config({"reddit": {"subreddits": ["aa"]}}, env=SECRETS)
    b = make_config({"reddit": {"subreddits": ["aa"]}}, "[database]\nurl = 'sqlite:///elsewhere.db'\n")
    c = make_config({"reddit": {"subreddits": ["aa", "bb"]}}, env=SECRETS)
    assert config_fingerprint(a) == config_fingerprint(b) != config_fingerprint(c)
