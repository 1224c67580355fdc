"""Requests to this machine, its network or a metadata service: the pure classifier (with an
injected resolver, no DNS), and the Scrapy middleware that refuses them at crawl time. Only
127.0.0.1 ever receives traffic; other addresses are refused before anything is sent."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted
from scrapy.crawler import CrawlerRunner
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request
from sqlalchemy import Engine

from crawler.hostguard import address_kind, is_private_host, private_host_reason
from crawler.sim.scenario import steady
from crawler.sim.server import Simulation
from crawler.sources.registry import get_source
from spiders.hostguard import PrivateHostMiddleware
from spiders.runner import schedule, settle
from spiders.settings import scrapy_settings
from tests.test_spiders import LIMITS, Harness


def resolver(table: dict[str, list[str]]) -> Any:
    return lambda host: table.get(host, [])


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("[::1]", "loopback"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - an address to refuse, not to bind
        ("169.254.10.1", "link-local"),
        ("fe80::1", "link-local"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("fd12:3456::1", "private"),
        ("fc00::1", "private"),
        ("::ffff:10.0.0.1", "private"),
        ("169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("100.100.100.200", "metadata"),
    ],
)
def test_address_literals_are_classified(host: str, kind: str) -> None:
    reason = private_host_reason(host, resolve=resolver({}))
    assert reason is not None and f"a {kind} address" in reason


@pytest.mark.parametrize("host", ["8.8.8.8", "172.32.0.1", "192.169.0.1", "2001:db8::1", "11.0.0.1"])
def test_public_addresses_pass(host: str) -> None:
    assert private_host_reason(host, resolve=resolver({})) is None


@pytest.mark.parametrize(
    "host",
    ["localhost", "LOCALHOST.", "forum.localhost", "metadata.google.internal", "Metadata.Google.Internal."],
)
def test_special_names_are_refused_without_resolving(host: str) -> None:
    def no_dns(name: str) -> list[str]:
        raise AssertionError(f"resolved {name}")

    assert is_private_host(host, resolve=no_dns)


def test_name_that_resolves_to_a_private_address_is_refused() -> None:
    table = {"forum.example": ["93.184.216.34", "10.0.0.5"], "public.example": ["93.184.216.34"]}
    assert private_host_reason("forum.example", resolve=resolver(table)) == (
        "forum.example resolves to 10.0.0.5, a private address"
    )
    assert private_host_reason("public.example", resolve=resolver(table)) is None
    assert private_host_reason("unresolvable.example", resolve=resolver(table)) is None
    assert address_kind("fe80::1%eth0".split("%")[0]) == "link-local"


# --------------------------------------------------------------------------- the middleware


def _mw(allowed: list[str], table: dict[str, list[str]]) -> PrivateHostMiddleware:
    async def resolve(host: str) -> list[str]:
        return table.get(host, [])

    return PrivateHostMiddleware(None, allowed, resolve)


@pytest_twisted.ensureDeferred
async def test_middleware_refuses_watchlist_hosts_that_are_private_before_sending() -> None:
    mw = _mw(["https://api.github.com", "http://127.0.0.1:8080"], {"intranet.example": ["192.168.0.7"]})
    for url, why in [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a metadata address"),
        ("http://intranet.example/forum", "intranet.example resolves to 192.168.0.7, a private address"),
        ("http://localhost:9200/", "localhost is a loopback address"),
        ("http://127.0.0.1:8081/", "127.0.0.1 is a loopback address"),  # another port than the endpoint
        ("http://[::1]/", "::1 is a loopback address"),
    ]:
        with pytest.raises(IgnoreRequest, match="refused .*" + why.replace(".", r"\.")):
            await mw.process_request(Request(url))
    # The configured endpoints pass, exactly their host and port; public hosts pass.
    assert await mw.process_request(Request("http://127.0.0.1:8080/api/v1/x")) is None
    assert await mw.process_request(Request("https://api.github.com/repos/a/b")) is None
    assert await mw.process_request(Request("https://forum.example.org/")) is None


async def _crawl(h: Harness, name: str, overrides: dict[str, Any]) -> Any:
    """Like Harness.crawl, with DFWATCH_ALLOW_PRIVATE_HOSTS as `overrides` say (the config that
    let the watchlist name 127.0.0.1 at load would allow it at crawl time too)."""
    ctx = h.context(name)
    runner = CrawlerRunner(
        scrapy_settings(h.config, {"LOG_LEVEL": "WARNING", "DOWNLOAD_DELAY": 0, **overrides})
    )
    watches = schedule(runner, [(get_source(name), ctx)])  # type: ignore[list-item]
    await runner.join()
    settle(watches)
    return ctx


@pytest_twisted.ensureDeferred
async def test_forum_on_a_loopback_address_is_refused_at_crawl_time_and_nothing_is_stored(
    sim: Simulation, make_config: Any, sqlite_engine: Engine
) -> None:
    steady(sim.world, "forums", "forum", "faceswap", 6789, engine="phpbb")
    phpbb = f"{sim.url}/forums/faceswap"
    config = make_config({"forums": [{"url": phpbb, "engine": "phpbb"}]}, LIMITS)
    h = Harness(config, sqlite_engine)
    ctx = await _crawl(h, "forums", {"DFWATCH_ALLOW_PRIVATE_HOSTS": False})
    assert ctx.stats.failures == [
        f"{phpbb}: IgnoreRequest: refused 127.0.0.1: 127.0.0.1 is a loopback address "
        "(set [crawler] allow_private_hosts = true to crawl it)"
    ]
    assert sim.exchanges() == []  # not even robots.txt
    assert ctx.stats.requests == 0
    assert h.rows("select * from metrics") == []
    # Allowed on purpose (the demo and the tests): the same forum is crawled.
    ctx = await _crawl(h, "forums", {"DFWATCH_ALLOW_PRIVATE_HOSTS": True})
    assert ctx.stats.failures == [] and h.metrics(phpbb)


@pytest_twisted.ensureDeferred
async def test_configured_endpoint_on_loopback_stays_allowed(
    sim: Simulation, make_config: Any, sqlite_engine: Engine
) -> None:
    steady(sim.world, "github", "repo", "iperov/DeepFaceLab", 1)
    config = make_config(
        {"github": {"repos": ["iperov/DeepFaceLab"]}}, LIMITS, env={"DFWATCH_ENDPOINT_GITHUB": sim.url}
    )
    h = Harness(config, sqlite_engine)
    ctx = await _crawl(h, "github", {"DFWATCH_ALLOW_PRIVATE_HOSTS": False})
    assert ctx.stats.failures == []
    assert h.metrics("iperov/DeepFaceLab")["stars"] == 1
