"""Spider retries (spiders.middlewares) against the simulation's faults.

Retries are Scrapy's own (`get_retry_request`: RETRY_TIMES, the `retry/*` stats) with the
server's wait honoured; the run log counts them too (`run_sources.retries`,
`rate_limited_seconds`). Network errors stay visible to other downloader middlewares.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import pytest_twisted
from scrapy.crawler import CrawlerRunner
from sqlalchemy import Engine

from crawler.sim import Simulation, World
from crawler.sources.registry import get_source
from spiders.runner import schedule, settle
from spiders.settings import scrapy_settings
from tests.test_spider_writer import FAST, WriterHarness, sim_config


@pytest.fixture
def sim() -> Iterator[Simulation]:
    world = World(
        seed=5, n_subreddits=0, n_accounts=0, n_queries=0, n_repos=0, n_invites=1, n_channels=0, preset=None
    )
    with Simulation(world) as s:
        yield s


def stat(h: WriterHarness, key: str) -> Any:
    return h.watches[0].crawler.stats.get_value(key)


@pytest_twisted.ensureDeferred
async def test_a_429_waits_for_retry_after_and_is_counted_by_scrapy_and_the_run_log(
    sim: Simulation, make_config: Any, sqlite_engine: Engine
) -> None:
    sim.add_fault(platform="discord", kind="rate_limit", times=1, retry_after=1)
    h = WriterHarness(sim_config(make_config, sim, only=["discord"]), sqlite_engine)
    (ctx,) = h.contexts("discord")
    await h.crawl(ctx)

    assert sim.stats.count("discord") == 2
    assert (ctx.stats.requests, ctx.stats.retries, ctx.stats.rate_limited_seconds) == (2, 1, 1.0)
    assert (stat(h, "retry/count"), stat(h, "retry/reason_count/429")) == (1, 1)
    assert h.metric_handles("discord") == set(sim.world.names("discord", "server"))


@pytest_twisted.ensureDeferred
async def test_retries_end_at_retry_times_and_the_target_says_why(
    sim: Simulation, make_config: Any, sqlite_engine: Engine
) -> None:
    sim.add_fault(platform="discord", kind="server_error", status=503, times=None)
    h = WriterHarness(sim_config(make_config, sim, only=["discord"]), sqlite_engine)
    (ctx,) = h.contexts("discord")
    await h.crawl(ctx)

    assert sim.stats.count("discord") == 1 + 2  # max_retries = 2
    assert stat(h, "retry/count") == 2 and stat(h, "retry/max_reached") == 1
    (invite,) = sim.world.names("discord", "server")
    assert ctx.stats.failures == [
        f"{invite}: HTTP 503 from the invite endpoint (503; gave up after 3 attempts)"
    ]
    assert ctx.stats.rate_limited_seconds == 0


@pytest_twisted.ensureDeferred
async def test_a_dropped_connection_is_retried(
    sim: Simulation, make_config: Any, sqlite_engine: Engine
) -> None:
    sim.add_fault(platform="discord", kind="reset", times=1)
    h = WriterHarness(sim_config(make_config, sim, only=["discord"]), sqlite_engine)
    (ctx,) = h.contexts("discord")
    await h.crawl(ctx)

    assert ctx.stats.retries == 1 and stat(h, "retry/count") == 1
    reasons = {k for k in h.watches[0].crawler.stats.get_stats() if k.startswith("retry/reason_count/")}
    assert len(reasons) == 1  # named after the exception Scrapy raised for the lost connection
    assert h.metric_handles("discord") == set(sim.world.names("discord", "server"))


class StopRetrying:
    """A downloader middleware nearer the downloader, as a fail-fast one would be."""

    seen: list[str] = []  # noqa: RUF012 - a test's record of what it saw

    def process_exception(self, request: Any, exception: Exception) -> None:
        StopRetrying.seen.append(type(exception).__name__)
        request.meta["dont_retry"] = True


@pytest_twisted.ensureDeferred
async def test_a_middleware_nearer_the_downloader_sees_network_errors_first_and_can_stop_a_retry(
    sim: Simulation, make_config: Any, sqlite_engine: Engine
) -> None:
    sim.add_fault(platform="discord", kind="reset", times=None)
    config = sim_config(make_config, sim, only=["discord"])
    h = WriterHarness(config, sqlite_engine)
    (ctx,) = h.contexts("discord")
    assert h.writer is not None
    StopRetrying.seen = []
    middlewares = dict(scrapy_settings(config).getdict("DOWNLOADER_MIDDLEWARES"))
    middlewares[f"{__name__}.StopRetrying"] = 560
    runner = CrawlerRunner(scrapy_settings(config, {**FAST, "DOWNLOADER_MIDDLEWARES": middlewares}))
    watches = schedule(runner, [(get_source("discord"), ctx)])  # type: ignore[list-item]
    try:
        await runner.join()
        settle(watches)
        h.writer.close([ctx])
    finally:
        h.writer.stop()

    assert sim.stats.count("discord") == 1  # not retried
    assert ctx.stats.retries == 0 and watches[0].crawler.stats.get_value("retry/count") is None
    (failure,) = ctx.stats.failures
    assert (
        StopRetrying.seen and failure.split(": ", 2)[1] == StopRetrying.seen[0]
    )  # the spider sees it as it was
