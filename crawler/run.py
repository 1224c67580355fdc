"""One crawl: plan, fetch, enrich, store, and the run log around it.

`run_crawl` is what `dfwatch crawl` and the scheduler's child processes execute. It upgrades
the schema, takes the run lock (one scope per source, so disjoint per-source schedules can
run side by side), makes sure every watched community has its row, then runs each enabled
source, passing every record through the enrichment step into the store in batches. Each
source gets its own `run_sources` row; the run's status is ok, partial or failed.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from crawler import __version__
from crawler.after_run import after_run
from crawler.config import Config, WatchTarget
from crawler.db import keyguard, runlog
from crawler.db.engine import make_engine, upgrade
from crawler.db.retry import DatabaseFull
from crawler.db.store import Store
from crawler.enrich import Enricher
from crawler.errors import ConfigError, DfwatchError, SourceError, StoreError
from crawler.hostfail import HostFailures
from crawler.plugins import source_names
from crawler.records import utcnow
from crawler.sink import RecordSink, StoreLedger, StorePosts, StoreState, StoreStatuses
from crawler.sources.base import RequestBudget, Source, SourceContext, Steps
from crawler.sources.registry import get_source
from crawler.stats import SourceStats
from crawler.writer import group_writer

log = logging.getLogger("dfwatch.run")

EXIT_OK, EXIT_FAILED, EXIT_PARTIAL = 0, 1, 4


@dataclass
class SourceOutcome:
    """How one source ended in a run."""

    status: str  # ok, partial, failed, skipped
    stats: SourceStats = field(default_factory=SourceStats)
    skipped_reason: str | None = None


@dataclass
class RunResult:
    run_id: int
    status: str  # ok, partial, failed
    sources: dict[str, SourceOutcome] = field(default_factory=dict)
    unreachable: dict[str, str] = field(default_factory=dict)  # host -> why, found in this run

    @property
    def exit_code(self) -> int:
        return {"ok": EXIT_OK, "partial": EXIT_PARTIAL}.get(self.status, EXIT_FAILED)


# What runs the sources of a run that is set up: (config, engine, enricher, run_id, runnable,
# skipped, lock, sleep, on_source) -> RunResult.
Runner = Callable[
    [
        Config,
        Engine,
        Enricher,
        int,
        list[tuple[str, Source]],
        dict[str, SourceOutcome],
        runlog.RunLock,
        Callable[[float], None],
        Callable[[str, str], None] | None,
    ],
    RunResult,
]


def resolve_sources(only: Sequence[str] | None) -> list[str]:
    """Validate `--only` names against the known sources; keep DESIGN.md's order."""
    names = source_names()
    if not only:
        return list(names)
    unknown = [s for s in only if s not in names]
    if unknown:
        raise ConfigError(f"unknown source {', '.join(unknown)} (known: {', '.join(names)})", entry="--only")
    return [s for s in names if s in only]


def plan(config: Config, names: Sequence[str]) -> tuple[list[tuple[str, Source]], dict[str, SourceOutcome]]:
    """Which sources run, and why the others are skipped (no targets, no credentials)."""
    runnable: list[tuple[str, Source]] = []
    skipped: dict[str, SourceOutcome] = {}
    for name in names:
        source = get_source(name)
        if not config.targets(name):
            continue  # nothing watched: not part of this run at all
        if source is None:
            skipped[name] = SourceOutcome("skipped", skipped_reason="not available in this installation")
            continue
        missing = source.missing_env(config)
        if missing:
            skipped[name] = SourceOutcome(
                "skipped", skipped_reason=f"set {' and '.join(missing)} to enable it"
            )
            continue
        runnable.append((name, source))
    return runnable, skipped


def run_crawl(
    config: Config,
    only: Sequence[str] | None = None,
    trigger: str = "manual",
    sleep: Callable[[float], None] = time.sleep,
    on_source: Callable[[str, str], None] | None = None,
    *,
    runner: Runner | None = None,
) -> RunResult:
    """Run one crawl of every enabled source (or `only` those); see the module docstring.

    `on_source(name, event)` is called with "start", "ok", "partial", "failed" or
    "skipped: <reason>", for progress display. `runner` runs the sources once the run is
    set up (schema, key, lock, `crawl_runs` row): in this process by default, on the shard
    queue for a distributed crawl (crawler.cluster.coordinator).
    """
    names = resolve_sources(only)
    # The pseudonym key is checked before anything is written or requested.
    enricher = Enricher(config)
    engine = make_engine(config.database_url)
    try:
        upgrade(engine)
        keyguard.check_key(engine, enricher.key)  # another key stops the crawl here (exit 2)
        host, pid = socket.gethostname(), os.getpid()
        aborted = runlog.abort_stale_runs(engine, host=host)
        if aborted:
            log.warning("marked %d run(s) left running by a dead process as aborted", aborted)
        runnable, skipped = plan(config, names)
        scopes = [f"source:{n}" for n, _ in runnable] or ["source:none"]
        lock = runlog.RunLock(
            engine,
            scopes,
            holder=runlog.holder_of(host, pid),
            wait_seconds=config.settings.crawler.lock_wait_seconds,
            stale_seconds=config.settings.crawler.lock_stale_seconds,
        )
        run_id = runlog.start_run(engine, trigger=trigger, version=__version__, pid=pid, host=host)
        waiting_since = time.monotonic()
        try:
            lock.acquire(run_id)
        except DfwatchError as exc:
            runlog.finish_run(engine, run_id, "failed", error_summary=str(exc))
            raise
        runlog.lock_taken(engine, run_id, time.monotonic() - waiting_since)
        try:
            return (runner or _run)(
                config, engine, enricher, run_id, runnable, skipped, lock, sleep, on_source
            )
        finally:
            lock.release()
    finally:
        engine.dispose()


@dataclass
class RunParts:
    """What every group of sources in one run shares: the store, its narrow views, the sink.

    Built once per crawl process (`run_crawl`) or per shard (crawler.cluster.actors); the
    records of every group go through one sink into the store, stamped with `run_id`.
    """

    config: Config
    engine: Engine
    store: Store
    sink: RecordSink
    known: StorePosts
    statuses: StoreStatuses  # the status history as this run found it
    hosts: HostFailures  # DNS failures and refused connections, for every source of the run
    run_id: int
    sleep: Callable[[float], None] = time.sleep

    @classmethod
    def open(
        cls, config: Config, engine: Engine, enricher: Enricher, run_id: int, sleep: Callable[[float], None]
    ) -> RunParts:
        store = Store(engine, batch_size=config.settings.crawler.batch_size)
        return cls(
            config,
            engine,
            store,
            RecordSink(store, enricher, run_id, config.settings.crawler.batch_size),
            StorePosts(store, run_id),
            StoreStatuses(store),
            HostFailures(),
            run_id,
            sleep,
        )


@dataclass
class GroupOutcome:
    """How one source of a group ended: its context (with its stats), status and summary."""

    ctx: SourceContext
    status: str
    summary: str | None


def source_groups(runnable: Sequence[tuple[str, Source]]) -> list[list[tuple[str, Source]]]:
    """Sources of one group (the Scrapy spiders) run together; the others one by one."""
    groups: dict[str, list[tuple[str, Source]]] = {}
    for name, source in runnable:
        groups.setdefault(source.group or name, []).append((name, source))
    return list(groups.values())


def run_group(
    parts: RunParts,
    members: Sequence[tuple[str, Source]],
    *,
    on_start: Callable[[str], None],
    on_abandon: Callable[[list[SourceContext], str], None],
    targets: Mapping[str, Sequence[WatchTarget]] | None = None,
    steps: Steps = "all",
    budget: RequestBudget | None = None,
) -> list[GroupOutcome]:
    """Run one group of sources to the end and store all it produced; how each ended.

    `targets` (by source) and `steps` narrow the group to a shard of a distributed crawl,
    `budget` is the shared request budget there. A full database stops everything: the
    contexts are handed to `on_abandon` and `DatabaseFull` is raised again.
    """
    config = parts.config
    # The spiders' records are stored off the reactor (crawler.writer); the others inline.
    writer = group_writer(type(members[0][1]), parts.sink, config)
    contexts: list[tuple[Source, SourceContext]] = []
    for name, source in members:
        on_start(name)
        contexts.append(
            (
                source,
                SourceContext(
                    name,
                    config,
                    writer.emit_for(name),
                    state=StoreState(parts.store, name, writer.save_state),
                    known=parts.known,
                    statuses=parts.statuses,
                    ledger=StoreLedger(parts.store, name, parts.run_id),
                    hosts=parts.hosts,
                    targets=targets.get(name, ()) if targets is not None else None,
                    budget=budget,
                    steps=steps,
                    sleep=parts.sleep,
                ),
            )
        )
    ctxs = [c for _s, c in contexts]
    error: str | None = None
    try:
        type(members[0][1]).crawl_group(contexts)
        writer.close(ctxs)  # the group is done once all is stored
    except DatabaseFull as exc:
        # Nothing more can be stored: stop before fetching what would only be dropped.
        writer.stop()
        on_abandon(ctxs, str(exc))
        raise
    except SourceError as exc:
        error = str(exc)
    except StoreError as exc:  # raised by the sink: the batch could not be stored
        error = f"storing failed: {exc}"
    except Exception as exc:  # a bug in one source must not lose the other sources' rows
        log.exception("source group %s crashed", members[0][1].group or members[0][0])
        error = f"internal error: {type(exc).__name__}: {exc}"
    if parts.sink.buffer or writer.running:  # records emitted before the source failed are still stored
        try:
            writer.close(ctxs)
        except DatabaseFull as exc:
            on_abandon(ctxs, str(exc))
            raise
        except DfwatchError as exc:
            error = error or f"storing failed: {exc}"
    outcomes = []
    for ctx in ctxs:
        own_error = error or ctx.failure
        summary = ctx.stats.error_summary
        if own_error:
            summary = f"{own_error}; {summary}" if summary else own_error
        outcomes.append(GroupOutcome(ctx, source_status(ctx.stats, own_error), summary))
    return outcomes


def _run(
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

    def start(name: str) -> None:
        runlog.start_source(engine, run_id, name)
        notify(name, "start")

    def abandon(contexts: list[SourceContext], why: str) -> None:
        _abandon(engine, run_id, contexts, why)

    for members in source_groups(runnable):
        for outcome in run_group(parts, members, on_start=start, on_abandon=abandon):
            ctx = outcome.ctx
            runlog.finish_source(engine, run_id, ctx.name, outcome.status, ctx.stats, outcome.summary)
            result.sources[ctx.name] = SourceOutcome(outcome.status, ctx.stats)
            notify(ctx.name, outcome.status)  # runlog.finish_source logged its counters
        lock.heartbeat()

    return close_run(config, engine, result, parts.hosts)


def begin_run(
    config: Config,
    engine: Engine,
    enricher: Enricher,
    run_id: int,
    skipped: Mapping[str, SourceOutcome],
    sleep: Callable[[float], None],
    notify: Callable[[str, str], None],
) -> tuple[RunResult, RunParts]:
    """What every runner (this machine's, the coordinator's) does before its sources: every
    watched community has its row and the tool taxonomy is current before any fetch, and each
    skipped source has its `run_sources` row. The run's result so far, and its parts."""
    parts = RunParts.open(config, engine, enricher, run_id, sleep)
    parts.store.ensure_communities([t.key for t in config.all_targets()], utcnow())
    parts.store.sync_tools(config.tools)
    _record_skipped(engine, run_id, skipped, notify)
    result = RunResult(run_id, "running")
    result.sources.update(skipped)
    return result, parts


def _record_skipped(
    engine: Engine, run_id: int, skipped: Mapping[str, SourceOutcome], notify: Callable[[str, str], None]
) -> None:
    """One `run_sources` row per source that could not run, with the reason."""
    for name, outcome in skipped.items():
        log.warning("source=%s skipped: %s", name, outcome.skipped_reason)
        notify(name, f"skipped: {outcome.skipped_reason}")
        runlog.start_source(engine, run_id, name)
        runlog.finish_source(engine, run_id, name, "skipped", outcome.stats, outcome.skipped_reason)


def close_run(
    config: Config, engine: Engine, result: RunResult, hosts: HostFailures | None = None
) -> RunResult:
    """The run's status from its sources', its `crawl_runs` row closed, then the after-run hooks."""
    result.status = _run_status(result.sources)
    if hosts is not None:
        result.unreachable = hosts.hosts
    failed = [f"{n}: {o.status}" for n, o in result.sources.items() if o.status in ("failed", "partial")]
    runlog.finish_run(engine, result.run_id, result.status, error_summary="; ".join(failed) or None)
    after_run(config, engine, result.run_id)  # discovery, then alerts; a hook never fails the crawl
    return result


def _abandon(engine: Engine, run_id: int, contexts: list[SourceContext], why: str) -> None:
    """Record a run stopped because the store takes no more writes, as far as it still can.

    A full database may refuse these writes too; then the next crawl marks the run aborted.
    """
    try:
        for ctx in contexts:
            summary = f"{why}; {ctx.stats.error_summary}" if ctx.stats.error_summary else why
            runlog.finish_source(engine, run_id, ctx.name, "failed", ctx.stats, summary)
        runlog.finish_run(engine, run_id, "failed", error_summary=why)
    except (DfwatchError, SQLAlchemyError) as exc:
        log.warning("run=%d could not be marked failed: %s", run_id, exc)


def source_status(stats: SourceStats, error: str | None) -> str:
    """failed: nothing came back; partial: some targets failed; ok: none did."""
    if error or stats.errors:
        return "failed" if stats.items == 0 else "partial"
    return "ok"


def _run_status(sources: dict[str, SourceOutcome]) -> str:
    ran = [o.status for o in sources.values() if o.status != "skipped"]
    if not ran:
        return "ok"
    if all(s == "ok" for s in ran):
        return "ok"
    if all(s == "failed" for s in ran):
        return "failed"
    return "partial"
