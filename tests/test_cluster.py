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
