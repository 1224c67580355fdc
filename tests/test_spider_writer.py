"""Spiders storing through the writer thread (crawler.writer), against the simulation.

Real Scrapy (CrawlerRunner on pytest-twisted's asyncio reactor) against crawler/sim, the
real RecordSink and Store, the run's ThreadWriter between them: what the run does for the
Scrapy group. Assertions are on the stored rows and on what the simulation received.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import pytest_twisted
from scrapy.crawler import CrawlerRunner
from sqlalchemy import Engine, text

from crawler.config import Config
from crawler.db.store import Store
from crawler.enrich import Enricher
from crawler.errors import DatabaseFull, StoreError
from crawler.records import Record, utcnow
from crawler.sim import Simulation, World
from crawler.sink import RecordSink, StoreState
from crawler.sources.base import SourceContext
from crawler.sources.registry import get_source
from crawler.writer import ThreadWriter
from spiders.runner import CrawlWatch, schedule, settle
from spiders.settings import scrapy_settings

FAST = {"AUTOTHROTTLE_ENABLED": False, "DOWNLOAD_DELAY": 0, "LOG_LEVEL": "WARNING"}
LIMITS = "[rate_limits]\nmax_retries = 2\nbackoff_seconds = 0\nmax_wait_seconds = 30\n"
WAIT = 20.0  # seconds a hand-over between threads may take before the test fails


@pytest.fixture
def sim() -> Iterator[Simulation]:
    world = World(
        seed=11, n_subreddits=0, n_accounts=0, n_queries=0, n_repos=4, n_invites=10, n_channels=3, preset=None
    )
    with Simulation(world) as s:
        yield s


class WriterHarness:
    """The run's Scrapy path: contexts whose emit and checkpoints go through a ThreadWriter."""

    def __init__(self, config: Config, engine: Engine, batch_size: int = 1) -> None:
        self.config, self.engine = config, engine
        self.store = Store(engine)
        self.store.ensure_communities([t.key for t in config.all_targets()], utcnow())
        self.store.sync_tools(config.tools)
        self.sink = RecordSink(self.store, Enricher(config), None, batch_size)  # type: ignore[arg-type]
        self.writer: ThreadWriter | None = None
        self.watches: list[CrawlWatch] = []

    def contexts(self, *names: str) -> list[SourceContext]:
        self.writer = ThreadWriter(self.sink)
        w = self.writer
        return [
            SourceContext(n, self.config, w.emit_for(n), state=StoreState(self.store, n, w.save_state))
            for n in names
        ]

    async def crawl(self, *contexts: SourceContext) -> None:
        """Run the spiders, then close the writer as the run does (the group is done after it)."""
        assert self.writer is not None
        runner = CrawlerRunner(scrapy_settings(self.config, FAST))
        self.watches = schedule(runner, [(get_source(c.name), c) for c in contexts])  # type: ignore[misc]
        try:
            await runner.join()
            settle(self.watches)
            self.writer.close(contexts)
        finally:
            self.writer.stop()

    def slow_writes(self, hold: Callable[[list[Record]], None]) -> None:
        """Call `hold(batch)` before each batch is written (on the writer thread)."""
        write = self.store.write

        def held(records: Any, run_id: int | None, **kwargs: Any) -> Any:
            batch = list(records)
            hold(batch)
            return write(batch, run_id, **kwargs)

        self.store.write = held  # type: ignore[method-assign]

    def rows(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(text(sql), params))

    def metric_handles(self, platform: str) -> set[str]:
        return {
            r.handle
            for r in self.rows(
                "select distinct c.handle from metrics m join communities c on c.id = m.community_id "
                "where c.platform = :p",
                p=platform,
            )
        }


def sim_config(make_config: Any, sim: Simulation, **sections: list[str]) -> Config:
    watchlist = {
        "github": {"repos": sim.world.names("github", "repo")},
        "discord": {"invites": sim.world.names("discord", "server")},
        "telegram": {"channels": sim.world.names("telegram", "channel")},
    }
    return make_config(  # type: ignore[no-any-return]
        {name: watchlist[name] for name in sections.get("only", list(watchlist))},
        LIMITS,
        env={**sim.endpoint_env(), "GITHUB_TOKEN": "sim-token"},
    )


@pytest_twisted.ensureDeferred
async def test_spiders_store_through_the_writer_and_save_etags_after_their_rows(
    sim: Simulation, make_config: Any, sqlite_engine: Engine
) -> None:
    config = sim_config(make_config, sim, only=["github"])
    h = WriterHarness(config, sqlite_engine, batch_size=3)
    (ctx,) = h.contexts("github")
    await h.crawl(ctx)

    repos = set(sim.world.names("github", "repo"))
    assert h.metric_handles("github") == repos
    etags = h.rows("select key from source_state where source = 'github'")
    assert len(etags) == 2 * len(repos)  # each repository and its releases page
    assert ctx.failure is None and ctx.stats.errors == 0
    assert h.writer is not None and h.writer.stats.checkpoints == 2 * len(repos)

    # The saved ETags are the ones the next crawl sends: every answer is 304, no quota spent.
    (again,) = h.contexts("github")
    await h.crawl(again)
    assert sim.stats.status_count("github", 304) == 2 * len(repos)
    assert h.rows("select count(*) from metrics where metric = 'stars'")[0][0] == 2 * len(repos)


@pytest_twisted.ensureDeferred
async def test_the_spiders_keep_fetching_while_a_batch_is_being_written(
    sim: Simulation, make_config: Any, sqlite_engine: Engine
) -> None:
    """The first batch write is held until every invite was requested: on the reactor
    thread (the old inline path) that could never happen, and the hold would time out."""
    invites = sim.world.names("discord", "server")
    # Every answer after the first takes a while, so the first record is written long
    # before the other requests could have been sent.
    sim.add_fault(platform="discord", kind="slow", after=1, times=None, delay=0.2)
    config = sim_config(make_config, sim, only=["discord"])
    h = WriterHarness(config, sqlite_engine, batch_size=1)
    seen: list[int] = []

    def hold(_batch: list[Record]) -> None:
        if not seen:
            deadline = time.monotonic() + WAIT
            while sim.stats.count("discord") < len(invites) and time.monotonic() < deadline:
                time.sleep(0.01)
        seen.append(sim.stats.count("discord"))

    h.slow_writes(hold)
    (ctx,) = h.contexts("discord")
    await h.crawl(ctx)

    assert seen[0] == len(invites)  # all of them arrived while the first batch was held
    assert h.metric_handles("discord") == set(invites)
    assert ctx.failure is None


@pytest_twisted.ensureDeferred
async def test_a_failed_write_fails_only_the_source_whose_rows_it_held(
    sim: Simulation, make_config: Any, sqlite_engine: Engine
) -> None:
    config = sim_config(make_config, sim, only=["discord", "telegram"])
    h = WriterHarness(config, sqlite_engine, batch_size=1)

    def refuse_discord(batch: list[Record]) -> None:
        if any(r.key.platform == "discord" for r in batch):  # type: ignore[union-attr]
            raise StoreError("the database refused the write: simulated")

    h.slow_writes(refuse_discord)
    discord, telegram = h.contexts("discord", "telegram")
    await h.crawl(discord, telegram)

    assert discord.failure == "storing failed: the database refused the write: simulated"
    assert h.metric_handles("discord") == set()
    assert telegram.failure is None
    assert h.metric_handles("telegram") == set(sim.world.names("telegram", "channel"))


@pytest_twisted.ensureDeferred
async def test_a_full_database_on_the_writer_stops_the_crawl(
    sim: Simulation, make_config: Any, sqlite_engine: Engine
) -> None:
    config = sim_config(make_config, sim, only=["discord", "telegram"])
    h = WriterHarness(config, sqlite_engine, batch_size=1)
    written = threading.Event()

    def full(_batch: list[Record]) -> None:
        written.set()
        raise DatabaseFull("the database is full: database or disk is full")

    h.slow_writes(full)
    discord, telegram = h.contexts("discord", "telegram")
    with pytest.raises(DatabaseFull):
        await h.crawl(discord, telegram)

    assert written.is_set()
    assert isinstance(discord.failure_exc, DatabaseFull) or isinstance(telegram.failure_exc, DatabaseFull)
    assert h.rows("select count(*) from metrics")[0][0] == 0
