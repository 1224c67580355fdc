"""`dfwatch crawl --distributed`: one crawl planned as shards on the queue, and waited for.

The setup is `run_crawl`'s own (schema upgrade, pseudonym key check, run lock, one
`crawl_runs` row, every watched community's row, the skipped sources' rows); only the
sources' part differs: instead of running them here, the coordinator

1. cuts them into shards (crawler.cluster.shards) and writes one `run_shards` row each;
2. sends every shard to the queue, except a source's `finale` (its once-per-run step,
   Reddit's sweep), which is sent when every other shard of that source is closed;
3. waits, polling the shard rows (bounded by `[schedule] timeout_minutes`), and shows
   shards done / total per source; a shard still open at the deadline is failed;
4. sums each source's shards into its `run_sources` row (a failed shard is named with its
   targets in the source's error summary) and closes the run ok, partial or failed, with
   the after-run hooks, as `run_crawl` does.

The broker is pinged before anything is written: unreachable, the crawl stops with exit 1
and no `crawl_runs` row. If sending fails half-way, the run is closed failed and the shards
already sent find it closed and do nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import dramatiq
import redis
from sqlalchemy import Engine

from crawler.cluster.actors import declare, describe_targets
from crawler.cluster.broker import BrokerUnreachable, broker_label, connect
from crawler.cluster.shards import Shard, plan_shards
from crawler.config import Config
from crawler.db import runlog, shardlog
from crawler.enrich import Enricher
from crawler.errors import ConfigError
from crawler.run import (
    RunParts,
    RunResult,
    SourceOutcome,
    begin_run,
    close_run,
    run_crawl,
    source_status,
)
from crawler.sources.base import Source
from crawler.stats import SourceStats

log = logging.getLogger("dfwatch.crawl")

POLL_SECONDS = 1.0
CLOSE_MARGIN_SECONDS = 60.0  # of [schedule] timeout_minutes, kept to close the run


def run_distributed(
    config: Config,
    only: Sequence[str] | None = None,
    trigger: str = "manual",
    on_source: Callable[[str, str], None] | None = None,
    *,
    poll_seconds: float = POLL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> RunResult:
    """One distributed crawl (see the module docstring); exit codes as `run_crawl`'s."""
    url = config.broker_url
    if not url:
        raise ConfigError(
            "a distributed crawl needs a broker: set [cluster] broker or DFWATCH_BROKER_URL",
            entry="--distributed",
        )
    broker = connect(url, queue=config.settings.cluster.queue)
    try:
        actor = declare(broker, config, None)
        coordinator = _Coordinator(actor, poll_seconds, sleep)
        return run_crawl(config, only=only, trigger=trigger, on_source=on_source, runner=coordinator)
    finally:
        broker.close()


class _Coordinator:
    """The `runner` of a distributed run_crawl: plan, send, wait, sum."""

    def __init__(self, actor: dramatiq.Actor[Any, Any], poll_seconds: float, sleep: Callable[[float], None]):
        self.actor = actor
        self.poll_seconds = poll_seconds
        self.sleep = sleep

    def __call__(
        self,
        config: Config,
        engine: Engine,
        enricher: Enricher,
        run_id: int,
        runnable: list[tuple[str, Source]],
        skipped: dict[str, SourceOutcome],
        lock: runlog.RunLock,
        sleep: Callable[[float], None],
        on_source: Callable[[str, str], None] | None,
    ) -> RunResult:
        notify = on_source or (lambda _n, _e: None)
        result, parts = begin_run(config, engine, enricher, run_id, skipped, sleep, notify)

        shards = plan_shards(config, run_id, runnable)
        shardlog.add_shards(engine, run_id, [(s.source, s.index, s.steps, s.targets) for s in shards])
        for name, _source in runnable:
            runlog.start_source(engine, run_id, name)
            notify(name, "start")
        later = {s.source: s for s in shards if s.steps == "finale"}
        try:
            for shard in shards:
                if shard.steps != "finale":
                    self._send(shard)
            log.info(
                "run=%d enqueued %d shards of %d sources on %s",
                run_id,
                len(shards) - len(later),
                len(runnable),
                broker_label(config.broker_url or ""),
            )
            self._wait(config, engine, run_id, shards, later, lock, notify)
        except (redis.RedisError, BrokerUnreachable) as exc:
            why = f"the broker failed while the shards were sent or awaited: {type(exc).__name__}"
            shardlog.fail_open_shards(engine, run_id, why)
            log.error("run=%d %s", run_id, why)
        return self._close(config, engine, result, runnable, shards, parts, notify)

    def _send(self, shard: Shard) -> None:
        self.actor.send(shard.message())

    def _wait(
        self,
        config: Config,
        engine: Engine,
        run_id: int,
        shards: list[Shard],
        later: dict[str, Shard],
        lock: runlog.RunLock,
        notify: Callable[[str, str], None],
    ) -> None:
        # The scheduler kills a crawl at timeout_minutes: stop waiting a little earlier, so the
        # run is closed (and its open shards named) by the coordinator, not left to the kill.
        full = config.settings.schedule.timeout_minutes * 60
        timeout = max(full / 2, full - CLOSE_MARGIN_SECONDS)
        deadline = time.monotonic() + timeout
        polls = int(timeout / max(self.poll_seconds, 0.01)) + 2  # the loop's bound, whatever the clock does
        shown: dict[str, tuple[int, int]] = {}
        finales = {f"{s.source}#{s.index}" for s in later.values()}
        for _poll in range(polls):
            rows = shardlog.shards_of(engine, run_id)
            counts: dict[str, tuple[int, int]] = {}
            open_by_source: dict[str, int] = {}
            for row in rows:
                done, total = counts.get(row.source, (0, 0))
                closed = row.status in shardlog.DONE
                counts[row.source] = (done + closed, total + 1)
                if not closed and f"{row.source}#{row.shard}" not in finales:
                    open_by_source[row.source] = open_by_source.get(row.source, 0) + 1
            for source, finale in list(later.items()):
                if open_by_source.get(source, 0) == 0:
                    log.info(
                        "run=%d source=%s every shard closed: the finale (%s) is sent", run_id, source, finale
                    )
                    self._send(finale)
                    del later[source]
            for source, (done, total) in counts.items():
                if shown.get(source) != (done, total):
                    shown[source] = (done, total)
                    log.info("run=%d source=%s shards=%d/%d", run_id, source, done, total)
                    notify(source, f"shards {done}/{total}")
            lock.heartbeat()
            if all(done == total for done, total in counts.values()) and not later:
                return
            if time.monotonic() >= deadline:
                break
            self.sleep(self.poll_seconds)
        why = f"not finished within [schedule] timeout_minutes = {config.settings.schedule.timeout_minutes:g}"
        failed = shardlog.fail_open_shards(engine, run_id, why)
        log.error("run=%d %d shard(s) %s", run_id, failed, why)

    def _close(
        self,
        config: Config,
        engine: Engine,
        result: RunResult,
        runnable: list[tuple[str, Source]],
        shards: list[Shard],
        parts: RunParts,
        notify: Callable[[str, str], None],
    ) -> RunResult:
        by_key = {(s.source, s.index): s for s in shards}
        rows = shardlog.shards_of(engine, result.run_id)
        for name, _source in runnable:
            stats = SourceStats()
            failed: list[str] = []
            summaries: list[str] = []
            for row in rows:
                if row.source != name:
                    continue
                stats.add(row.stats)
                shard = by_key.get((row.source, row.shard))
                if row.status == "failed":
                    named = describe_targets(shard) if shard is not None else f"{name}#{row.shard}"
                    why = row.error_summary or "failed"
                    failed.append(why if why.startswith(named) else f"{named}: {why}")
                elif row.error_summary:
                    summaries.append(row.error_summary)
            error = "failed shards: " + "; ".join(failed) if failed else None
            status = source_status(stats, error)
            summary = "; ".join([*([error] if error else []), *summaries]) or None
            runlog.finish_source(engine, result.run_id, name, status, stats, summary)
            result.sources[name] = SourceOutcome(status, stats)
            notify(name, status)
        return close_run(config, engine, result, parts.hosts)
