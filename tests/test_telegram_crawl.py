"""The telegram spider end to end: Scrapy (CrawlerRunner on pytest-twisted's reactor) against
the simulated t.me, records stored through the real Store, assertions on the stored rows and
on what the simulation was asked."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_twisted
from sqlalchemy import Engine

from crawler.sim import Simulation, World
from crawler.sim.world import Entity, Event, Growth
from tests.test_spiders import LIMITS, Harness

START = datetime(2024, 10, 1, 12, tzinfo=UTC)
GROUP_TOS = "This group can't be displayed because it violated Telegram's Terms of Service."
BOT_PORN = "This bot can't be displayed because it was used to spread pornographic content."
LOCAL_LAW = "This channel can't be displayed in your country because it violates local laws."
WATCHLIST = {
    "telegram": {
        "channels": ["open_channel", "closed_channel", "lawful_channel", "gone_channel"],
        "groups": ["faceswap_help", "blocked_group"],
        "bots": ["SwapFaceBot", "undress_bot", "gone_bot"],
    }
}


def entity(kind: str, name: str, base: int, *events: Event, **extra: Any) -> Entity:
    growth = Growth(base, 0, shape="linear", rate=0, noise=0)
    return Entity(
        "telegram",
        kind,
        name,
        START - timedelta(days=300),
        growth,
        post_rate=3,
        events=events,
        title=f"The {name}",
        extra=extra,
    )


def banned(reason: str) -> Event:
    return Event(START - timedelta(days=2), "banned", reason)


@pytest.fixture
def sim() -> Iterator[Simulation]:
    world = World(
        seed=11,
        start_date=START,
        preset=None,
        n_subreddits=0,
        n_accounts=0,
        n_queries=0,
        n_repos=0,
        n_invites=0,
        n_channels=0,
        n_hashtags=0,
    )
    world.add(entity("channel", "open_channel", 12_300))
    world.add(entity("channel", "closed_channel", 1_474_933, preview=False))
    world.add(entity("channel", "lawful_channel", 5_000, banned(LOCAL_LAW)))
    world.add(entity("group", "faceswap_help", 95_451))
    world.add(entity("group", "blocked_group", 220_000, banned(GROUP_TOS)))
    world.add(entity("bot", "SwapFaceBot", 3_544_775))
    world.add(entity("bot", "undress_bot", 4_000_000, banned(BOT_PORN)))
    with Simulation(world) as s:
        yield s


@pytest_twisted.ensureDeferred
async def test_channels_groups_and_bots_store_status_reason_and_metrics(
    sim: Simulation, make_config: Any, sqlite_engine: Engine
) -> None:
    config = make_config(WATCHLIST, LIMITS, env={"DFWATCH_ENDPOINT_TELEGRAM": sim.url})
    h = Harness(config, sqlite_engine)
    ctx = h.context("telegram")
    await h.crawl(ctx)

    rows = {
        r.handle: r
        for r in h.rows(
            "select handle, kind, status, status_reason, title from communities where platform = 'telegram'"
        )
    }
    state = {handle: (r.kind, r.status) for handle, r in rows.items()}
    assert state == {
        "open_channel": ("channel", "active"),
        "closed_channel": ("channel", "active"),
        "lawful_channel": ("channel", "banned"),
        "gone_channel": ("channel", "not_found"),
        "faceswap_help": ("group", "active"),
        "blocked_group": ("group", "banned"),
        "SwapFaceBot": ("bot", "active"),
        "undress_bot": ("bot", "banned"),
        "gone_bot": ("bot", "not_found"),
    }
    # Metrics as t.me shows them: subscribers, members and online, monthly users.
    assert h.metrics("open_channel") == {"members": 12_300}  # the preview's "12.3K"
    assert h.metrics("closed_channel") == {"members": 1_474_933}  # the plain page's "1 474 933"
    group = h.metrics("faceswap_help")
    assert group["members"] == 95_451 and 0 < group["online_members"] < 95_451
    assert h.metrics("SwapFaceBot") == {"monthly_users": 3_544_775}
    for gone in ("gone_channel", "gone_bot", "blocked_group", "undress_bot", "lawful_channel"):
        assert h.metrics(gone) == {}
    # The evidence: Telegram's own words.
    assert rows["blocked_group"].status_reason == GROUP_TOS
    assert rows["undress_bot"].status_reason == BOT_PORN
    assert rows["lawful_channel"].status_reason == LOCAL_LAW
    assert rows["gone_channel"].status_reason == (
        "t.me/gone_channel names no community: Telegram: Contact @gone_channel"
        " · If you have Telegram, you can contact @gone_channel right away."
    )
    assert (
        rows["closed_channel"].status_reason
        == "/s/closed_channel redirects to /closed_channel (no public preview)"
    )
    assert (rows["SwapFaceBot"].title, rows["faceswap_help"].title) == (
        "The SwapFaceBot",
        "The faceswap_help",
    )
    # Posts only come from a preview.
    posts = h.rows("select distinct c.handle from posts p join communities c on c.id = p.community_id")
    assert [p.handle for p in posts] == ["open_channel"]

    # What was asked: channels at /s/ (plus the page a redirect names), groups and bots at /NAME.
    assert sim.stats.snapshot()["platforms"]["telegram"]["endpoints"] == {
        "robots": 1,
        "preview": 4,
        "page": 8,
    }
    assert ctx.stats.requests == 13 and ctx.stats.failures == []


@pytest_twisted.ensureDeferred
async def test_redirect_elsewhere_is_not_followed(make_config: Any, sqlite_engine: Engine) -> None:
    """Only t.me's own hop from /s/NAME to /NAME is followed; a redirect to any other page fails."""
    from tests.fakes.web import Answer, FakeWeb

    with FakeWeb() as web:
        web.add("/s/movedchannel", Answer(302, b"", {"Location": "https://elsewhere.example/login"}))
        config = make_config(
            {"telegram": {"channels": ["movedchannel"]}}, LIMITS, env={"DFWATCH_ENDPOINT_TELEGRAM": web.url}
        )
        h = Harness(config, sqlite_engine)
        ctx = h.context("telegram")
        await h.crawl(ctx)
        assert ctx.stats.failures == ["movedchannel: unexpected redirect to https://elsewhere.example/login"]
        assert [h.path for h in web.hits if h.path != "/robots.txt"] == ["/s/movedchannel"]
    assert h.community("movedchannel").status == "unknown"


@pytest_twisted.ensureDeferred
async def test_fixture_pages_through_a_real_crawl(make_config: Any, sqlite_engine: Engine) -> None:
    """The pages derived from real t.me pages, served by the local fake, read by the spider."""
    from tests.fakes.web import FakeWeb, telegram_no_preview, telegram_page

    with FakeWeb() as web:
        telegram_no_preview(web, "faceswaparchive", subscribers="1\u202f474\u202f933")
        telegram_page(web, "faceswaphelp", "group", MEMBERS="12,3K", ONLINE="1 234")
        telegram_page(web, "SwapFaceBot", "bot", USERS="1.48M")
        telegram_page(web, "undressnews", "blocked", NOTICE=LOCAL_LAW)
        telegram_page(web, "gone_bot", "unknown")
        watchlist = {
            "telegram": {
                "channels": ["faceswaparchive", "undressnews"],
                "groups": ["faceswaphelp"],
                "bots": ["SwapFaceBot", "gone_bot"],
            }
        }
        config = make_config(watchlist, LIMITS, env={"DFWATCH_ENDPOINT_TELEGRAM": web.url})
        h = Harness(config, sqlite_engine)
        ctx = h.context("telegram")
        await h.crawl(ctx)
        asked = sorted(hit.path for hit in web.hits)
    channels = ["/s/faceswaparchive", "/faceswaparchive", "/s/undressnews", "/undressnews"]
    assert asked == sorted(["/robots.txt", *channels, "/faceswaphelp", "/SwapFaceBot", "/gone_bot"])
    assert h.metrics("faceswaparchive") == {"members": 1_474_933}
    assert h.metrics("faceswaphelp") == {"members": 12_300, "online_members": 1_234}
    assert h.metrics("SwapFaceBot") == {"monthly_users": 1_480_000}
    assert (h.community("SwapFaceBot").status, h.community("SwapFaceBot").title) == (
        "active",
        "Swap Face Bot",
    )
    blocked = h.community("undressnews")
    assert (blocked.status, blocked.status_reason) == ("banned", LOCAL_LAW)
    gone = h.community("gone_bot")
    assert (
        gone.status == "not_found"
        and "If you have Telegram, you can contact @gone_bot right away." in gone.status_reason
    )
