"""Failing fast where retrying cannot help: a host that does not resolve or refuses
connections costs one retry per run, and every later target on it fails at once, unsent,
with the same reason (crawler.hostfail; the API sources through crawler.sources.retry, the
spiders through spiders.unreachable).

Nothing here leaves 127.0.0.1: DNS failures are made by refusing to resolve names under
`.invalid` (socket.getaddrinfo patched for those names only), refused connections by a port
nobody listens on.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
import pytest_twisted
import requests
from scrapy.crawler import CrawlerRunner
from sqlalchemy import Engine

from crawler.hostfail import HostFailures, request_host, unreachable_reason
from crawler.run import run_crawl
from crawler.sim.scenario import steady
from crawler.sim.server import Simulation
from crawler.sink import StoreStatuses
from crawler.sources.registry import get_source
from spiders.runner import schedule, settle
from spiders.settings import scrapy_settings
from tests.conftest import Sleeps
from tests.conftest import config_rows as rows
from tests.test_spiders import FAST, LIMITS, Harness

_real_getaddrinfo = socket.getaddrinfo


def _no_invalid(host: Any, *args: Any, **kwargs: Any) -> Any:
    if isinstance(host, str) and host.endswith(".invalid"):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture
def no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Names under .invalid do not resolve (RFC 6761); nothing is asked of a real resolver."""
    monkeypatch.setattr(socket, "getaddrinfo", _no_invalid)


@pytest.fixture
def closed_port() -> int:
    """A local port nobody listens on: connecting to it is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_host_gets_one_retry_then_is_unreachable_for_the_run() -> None:
    hosts = HostFailures()
    assert hosts.failed("API.example.org", "host api.example.org unreachable: DNS lookup failed")  # retry
    assert hosts.unreachable("api.example.org") is None
    assert not hosts.failed("api.example.org", "host api.example.org unreachable: DNS lookup failed")
    assert hosts.unreachable("api.example.org") == "host api.example.org unreachable: DNS lookup failed"
    assert hosts.hosts == {"api.example.org": "host api.example.org unreachable: DNS lookup failed"}
    assert hosts.unreachable("other.example.org") is None


def test_requests_failures_are_read_down_to_their_cause(no_dns: None, closed_port: int) -> None:
    with pytest.raises(requests.ConnectionError) as dns:
        requests.get("http://api.example.invalid/x", timeout=5)
    assert unreachable_reason(dns.value) == "DNS lookup failed"
    assert request_host(dns.value) == "api.example.invalid"
    with pytest.raises(requests.ConnectionError) as refused:
        requests.get(f"http://127.0.0.1:{closed_port}/x", timeout=5)
    assert unreachable_reason(refused.value) == "connection refused"
    assert unreachable_reason(requests.Timeout("slow")) is None
    assert unreachable_reason(ValueError("nothing to do with a host")) is None


def test_a_dns_failure_costs_one_retry_not_one_per_target(no_dns: None, make_config: Any) -> None:
    names = [f"sub_{i:03d}" for i in range(250)]  # three /api/info batches
    config = make_config(
        {
            "reddit": {"subreddits": names},
            "x": {"accounts": [f"acct_{i}" for i in range(150)], "queries": ["q"]},
        },
        "[rate_limits]\nbackoff_seconds = 0\nmax_retries = 3\n",
        env={
            "DFWATCH_ENDPOINT_REDDIT": "http://reddit.invalid",
            "DFWATCH_ENDPOINT_X": "http://x.invalid",
            "REDDIT_CLIENT_ID": "id",
            "REDDIT_CLIENT_SECRET": "secret",
            "X_BEARER_TOKEN": "token",
        },
    )
    result = run_crawl(config, only=["reddit", "x"], sleep=Sleeps())

    assert result.status == "failed"
    assert result.unreachable == {
        "reddit.invalid": "host reddit.invalid unreachable: DNS lookup failed",
        "x.invalid": "host x.invalid unreachable: DNS lookup failed",
    }
    by_source = {
        r[0]: r[1:]
        for r in rows(config, "select source, requests, retries, errors, error_summary from run_sources")
    }
    # One attempt and one retry per host, then every other target fails at once, unsent.
    assert by_source["reddit"][:3] == (2, 1, 3)
    assert by_source["x"][:3] == (2, 1, 4)  # two account batches, the query's counts and search
    reddit_summary = by_source["reddit"][3]
    assert reddit_summary.count("reddit.invalid") == 1  # the host is named once
    assert reddit_summary.startswith("host reddit.invalid unreachable: DNS lookup failed (3 targets:")


def test_a_refused_connection_fails_the_other_targets_at_once(closed_port: int, make_config: Any) -> None:
    config = make_config(
        {"x": {"accounts": [f"acct_{i}" for i in range(250)], "queries": ["a", "b"]}},
        "[rate_limits]\nbackoff_seconds = 1\n",
        env={"DFWATCH_ENDPOINT_X": f"http://127.0.0.1:{closed_port}", "X_BEARER_TOKEN": "token"},
    )
    sleeps = Sleeps()
    result = run_crawl(config, only=["x"], sleep=sleeps)

    assert result.sources["x"].stats.requests == 2 and result.sources["x"].stats.retries == 1
    assert sleeps == [1.0]  # one backoff in all
    failures = result.sources["x"].stats.failures
    assert len(failures) == 7 and {f.split(": ", 1)[1] for f in failures} == {
        "host 127.0.0.1 unreachable: connection refused"
    }


# --------------------------------------------------------------------------- spiders


@pytest_twisted.ensureDeferred
async def test_a_spider_sends_nothing_more_to_a_host_that_refused(
    make_config: Any, sqlite_engine: Engine, closed_port: int
) -> None:
    repos = [f"owner/repo{i}" for i in range(9)]
    config = make_config(
        {"github": {"repos": repos}},
        LIMITS,
        env={"DFWATCH_ENDPOINT_GITHUB": f"http://127.0.0.1:{closed_port}"},
    )
    h = Harness(config, sqlite_engine)
    ctx = h.context("github")
    # A download delay, as in production: with none, Scrapy 2.19 starts every queued request of
    # a slot at once, whatever its concurrency (it counts them transferring only once started).
    runner = CrawlerRunner(scrapy_settings(config, {**FAST, "DOWNLOAD_DELAY": 0.05}))
    watches = schedule(runner, [(get_source("github"), ctx)])  # type: ignore[list-item]
    await runner.join()
    settle(watches)

    # The first failure is retried once, the second marks the host; the rest are never sent.
    assert ctx.stats.requests <= 3 and ctx.stats.retries <= 1
    assert ctx.stats.errors == 9
    assert {f.split(": ", 1)[1] for f in ctx.stats.failures} == {
        "host 127.0.0.1 unreachable: connection refused"
    }
    assert ctx.hosts.unreachable("127.0.0.1") == "host 127.0.0.1 unreachable: connection refused"


@pytest_twisted.ensureDeferred
async def test_a_deleted_repository_is_asked_again_only_when_its_recheck_is_due(
    sim: Simulation, make_config: Any, sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    steady(sim.world, "github", "repo", "alive/tool", 5, release_downloads=[])  # gone/tool: never there
    config = make_config(
        {"github": {"repos": ["alive/tool", "gone/tool"]}}, LIMITS, env={"DFWATCH_ENDPOINT_GITHUB": sim.url}
    )
    h = Harness(config, sqlite_engine)
    asked: dict[int, list[str]] = {}
    for day in (0, 1, 2):
        monkeypatch.setenv("DFWATCH_NOW", f"2026-03-0{day + 1}T03:00:00+00:00")
        sim.log.clear()
        ctx = h.context("github")
        ctx.statuses = StoreStatuses(h.store)  # as the run gives it
        await h.crawl(ctx)
        asked[day] = sorted({x.request.path.split("/releases")[0] for x in sim.exchanges()})
    assert asked[0] == ["/repos/alive/tool", "/repos/gone/tool"]
    assert asked[1] == ["/repos/alive/tool"]  # found missing once: due again after 2 days
    assert asked[2] == ["/repos/alive/tool", "/repos/gone/tool"]
    assert h.community("gone/tool").status == "not_found" and h.community("gone/tool").status_checks == 2
