"""The worker's side of a shard: the `crawl_shard` actor and what it runs.

`crawl_shard` receives a shard's message (crawler.cluster.shards), loads the worker's own
config, and runs the shard's source over the shard's targets exactly as one machine runs a
source (`crawler.run.run_group`: the same contexts, sink, enrichment and store), spending
requests against the credential budgets shared in Redis. Its outcome and counters become
the shard's `run_shards` row.

Delivery is at least once; the actor makes it count once:

* a shard whose row is closed (ok, partial, failed) is skipped, and so is a shard of a run
  that is no longer running (timed out, or closed by hand);
* a shard found `running` was being run by a worker that died (or was stopped): it runs
  again; the store's upserts and the checkpoints (saved only after the rows they stand
  for) absorb what the first attempt already stored;
* a shard that crashes (an error outside the source, a spider child that died) is retried
  by Dramatiq, at most `[cluster] max_retries` times, and then failed with its targets
  named; a shard that killed its worker every time is failed the same way, counted by its
  attempts. A source's own failures (targets that failed, a source that raised) do not
  crash the shard: they end it `partial` or `failed` as they end a source on one machine.
* a worker whose config differs from the planner's (the fingerprint) fails the shard at
  once, saying so: retrying would crawl the wrong watchlist again.

Spider shards run in a child process (`python -m crawler.cluster.child`): Scrapy's reactor
starts once per process, and a worker runs many shards.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from sqlalchemy import Engine

from crawler.cluster.budget import RedisBudget
from crawler.cluster.shards import Shard, config_fingerprint, shard_targets
from crawler.config import Config, load_config
from crawler.db import keyguard, shardlog
from crawler.db.engine import make_engine
from crawler.enrich import Enricher
from crawler.errors import ConfigError, DfwatchError
from crawler.run import RunParts, run_group
from crawler.sources.base import SourceContext
from crawler.sources.registry import get_source
from crawler.stats import SourceStats

log = logging.getLogger("dfwatch.worker")

ACTOR = "crawl_shard"
MIN_BACKOFF_MS = 1_000  # Dramatiq's first retry delay (it doubles, with jitter)
MAX_BACKOFF_MS = 30_000
MAX_NAMED_TARGETS = 10  # targets a failed shard's summary names before "and N more"


class ShardCrashed(DfwatchError):
    """The shard stopped outside its source (a child process died, the database went away)."""


def describe_targets(shard: Shard) -> str:
    """`reddit#2 (r/a, r/b, … 100 targets)`: which shard, and which targets it had."""
    handles = [h for _p, _k, h in shard.targets]
    if not handles:
        return f"{shard} ({shard.steps})"
    named = ", ".join(handles[:MAX_NAMED_TARGETS])
    more = f", and {len(handles) - MAX_NAMED_TARGETS} more" if len(handles) > MAX_NAMED_TARGETS else ""
    return f"{shard} ({len(handles)} targets: {named}{more})"


def declare(broker: RedisBroker, config: Config, config_dir: str | None) -> dramatiq.Actor[Any, Any]:
    """The `crawl_shard` actor on `broker` (the planner sends with it, a worker runs it).

    `config_dir` is where the worker loads its config for every shard (its own machine's).
    """
    cluster = config.settings.cluster

    def crawl_shard(body: dict[str, Any]) -> None:
        run_message(config_dir, body)

    decorate = dramatiq.actor(
        actor_name=ACTOR,
        queue_name=cluster.queue,
        broker=broker,
        max_retries=cluster.max_retries,
        min_backoff=MIN_BACKOFF_MS,
        max_backoff=MAX_BACKOFF_MS,
        # A shard may run as long as a whole crawl may (Dramatiq's default is 10 minutes).
        time_limit=int(config.settings.schedule.timeout_minutes * 60_000),
    )
    return decorate(crawl_shard)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_message(config_dir: str | None, body: dict[str, Any]) -> None:
    """Run one delivered shard (see the module docstring); raise to have it retried."""
    shard = Shard.from_message(body)
    config = load_config(config_dir)
    engine = make_engine(config.database_url)
    try:
        _run_delivered(config, config_dir, engine, shard)
    finally:
        engine.dispose()


def _run_delivered(config: Config, config_dir: str | None, engine: Engine, shard: Shard) -> None:
    row = shardlog.get_shard(engine, shard.run_id, shard.source, shard.index)
    if row is None:
        log.warning("run=%d shard=%s unknown (the run was deleted): skipped", shard.run_id, shard)
        return
    if row.status in shardlog.DONE:
        log.info("run=%d shard=%s already %s: skipped (a redelivery)", shard.run_id, shard, row.status)
        return
    if row.run_status != "running":
        log.info("run=%d shard=%s: the run is %s: skipped", shard.run_id, shard, row.run_status)
        return
    attempts = shardlog.start_shard(engine, shard.run_id, shard.source, shard.index, worker_name())
    max_attempts = config.settings.cluster.max_retries + 1
    if attempts > max_attempts:
        fail_shard(engine, shard, f"gave up after {attempts - 1} attempts: every one ended its worker")
        return
    if shard.fingerprint != config_fingerprint(config):
        fail_shard(
            engine,
            shard,
            "this worker's config (settings, watchlist, tools) differs from the one the crawl was "
            "planned with: nothing was crawled (deploy the same config to every worker)",
        )
        return
    log.info("run=%d shard=%s attempt=%d started", shard.run_id, shard, attempts)
    try:
        source = get_source(shard.source)
        if source is not None and source.group == "scrapy":
            _run_child(config, config_dir, shard)
        else:
            execute_shard(config, engine, shard)
    except ConfigError as exc:  # this worker cannot run it (a key, a watchlist entry): no retry
        fail_shard(engine, shard, str(exc))
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
        if attempts >= max_attempts:
            fail_shard(engine, shard, f"crashed on all {attempts} attempts, last: {reason}")
            return
        log.warning("run=%d shard=%s attempt=%d crashed (%s): retried", shard.run_id, shard, attempts, reason)
        raise


def fail_shard(engine: Engine, shard: Shard, reason: str) -> None:
    """Close the shard as failed, its targets named (a no-op if it is closed already)."""
    summary = f"{describe_targets(shard)}: {reason}"
    log.error("run=%d shard failed: %s", shard.run_id, summary)
    stats = SourceStats(errors=max(1, len(shard.targets)))
    shardlog.finish_shard(engine, shard.run_id, shard.source, shard.index, "failed", stats, summary)


def execute_shard(
    config: Config,
    engine: Engine,
    shard: Shard,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Run the shard in this process and close its row; its status (ok, partial, failed)."""
    enricher = Enricher(config)
    keyguard.check_key(engine, enricher.key)  # another key must not write pseudonyms here
    source = get_source(shard.source)
    if source is None:
        raise ConfigError(f"source {shard.source} is not available on this worker's installation")
    missing = source.missing_env(config)
    if missing:
        raise ConfigError(f"set {' and '.join(missing)} on this worker to run {shard.source}")
    try:
        targets = shard_targets(config, shard)
    except KeyError as exc:
        raise ConfigError(f"this worker's watchlist has no {exc.args[0]}") from None
    broker_url = config.broker_url
    budget = RedisBudget.for_config(config, broker_url) if broker_url else None
    parts = RunParts.open(config, engine, enricher, shard.run_id, sleep)

    def abandon(contexts: list[SourceContext], why: str) -> None:
        stats = contexts[0].stats if contexts else None
        if stats is not None:
            shardlog.finish_shard(engine, shard.run_id, shard.source, shard.index, "failed", stats, why)

    outcome = run_group(
        parts,
        [(shard.source, source)],
        on_start=lambda _name: None,
        on_abandon=abandon,
        targets={shard.source: targets},
        steps=shard.steps,
        budget=budget,
    )[0]
    shardlog.finish_shard(
        engine, shard.run_id, shard.source, shard.index, outcome.status, outcome.ctx.stats, outcome.summary
    )
    return outcome.status


def _run_child(config: Config, config_dir: str | None, shard: Shard) -> None:
    """Run a spider shard in `python -m crawler.cluster.child` (one reactor per process)."""
    cmd = [sys.executable, "-m", "crawler.cluster.child"]
    if config_dir is not None:
        cmd += ["--config", str(Path(config_dir).resolve())]
    timeout = config.settings.schedule.timeout_minutes * 60
    try:
        proc = subprocess.run(
            cmd,
            input=json.dumps(shard.message()),
            text=True,
            timeout=timeout,
            check=False,
            stdout=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise ShardCrashed(f"the spider child ran longer than {timeout:.0f}s and was killed") from None
    if proc.returncode == 2:
        raise ConfigError("the spider child could not run the shard (see its log)")
    if proc.returncode != 0:
        raise ShardCrashed(f"the spider child exited with status {proc.returncode}")
