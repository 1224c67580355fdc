"""The simulated t.me, spoken to with plain `requests` (never the crawler's code): redirects
for channels without a preview, groups, bots and blocked or unknown names; the plain page in
the shapes of the fixtures in tests/fakes/data/web/telegram_page_*.html."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests

from crawler.sim import Simulation, World
from crawler.sim.world import Entity, Event, Growth

START = datetime(2024, 10, 1, 12, tzinfo=UTC)
TOS = "This group can't be displayed because it violated Telegram's Terms of Service."


def entity(kind: str, name: str, **kw: object) -> Entity:
    return Entity(
        "telegram",
        kind,
        name,
        START - timedelta(days=400),
        Growth(1_474_000, 0, shape="linear", rate=1, noise=0),
        title=f"The {name}",
        **kw,
    )  # type: ignore[arg-type]


@pytest.fixture
def sim() -> Iterator[Simulation]:
    world = World(
        seed=7,
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
    world.add(entity("channel", "open_channel"))
    world.add(entity("channel", "closed_channel", extra={"preview": False}))
    world.add(entity("group", "faceswap_help"))
    world.add(entity("bot", "SwapFaceBot"))
    world.add(entity("group", "blocked_group", events=(Event(START - timedelta(days=1), "banned", TOS),)))
    with Simulation(world) as s:
        yield s


def get(url: str) -> requests.Response:
    return requests.get(url, timeout=10, allow_redirects=False)


def extras(html: str) -> list[str]:
    return re.findall(r'<div class="tgme_page_extra">([^<]*)</div>', html)


@pytest.mark.parametrize(
    "name", ["closed_channel", "faceswap_help", "SwapFaceBot", "blocked_group", "nobody_here"]
)
def test_preview_redirects_to_the_plain_page(sim: Simulation, name: str) -> None:
    answer = get(f"{sim.url}/s/{name}")
    assert (answer.status_code, answer.headers["Location"]) == (302, f"{sim.url}/{name}")


def test_channel_with_preview_is_served_at_both_addresses(sim: Simulation) -> None:
    assert get(f"{sim.url}/s/open_channel").status_code == 200
    assert extras(get(f"{sim.url}/open_channel").text) == ["1 474 400 subscribers"]


def test_plain_pages_give_counts_in_full_with_spaces(sim: Simulation) -> None:
    assert extras(get(f"{sim.url}/closed_channel").text) == ["1 474 400 subscribers"]
    [group] = extras(get(f"{sim.url}/faceswap_help").text)
    assert re.fullmatch(r"1 474 400 members, \d{1,3}(?: \d{3})* online", group)
    bot = get(f"{sim.url}/SwapFaceBot").text
    assert extras(bot) == ["@SwapFaceBot", "1 474 400 monthly users"]
    assert "<title>Telegram: Launch @SwapFaceBot</title>" in bot and ">Start Bot</a>" in bot
    assert '<div class="tgme_page_title"><span dir="auto">The SwapFaceBot</span></div>' in bot


def test_blocked_page_shows_telegrams_notice_and_no_counts(sim: Simulation) -> None:
    page = get(f"{sim.url}/blocked_group").text
    assert extras(page) == [] and "The blocked_group" in page
    assert "This group can&#x27;t be displayed because it violated Telegram&#x27;s Terms of Service." in page


def test_unknown_name_gets_the_generic_contact_page(sim: Simulation) -> None:
    page = get(f"{sim.url}/nobody_here").text
    assert "<title>Telegram: Contact @nobody_here</title>" in page and "tgme_page_title" not in page
    assert "you can contact" in page and extras(page) == []


def test_generated_groups_and_bots_follow_telegrams_naming_rules() -> None:
    world = World(seed=2, n_groups=30, n_bots=30, n_channels=40)
    names = [e.name for e in world.entities if e.platform == "telegram"]
    assert len(names) == len({n.lower() for n in names})  # one name, one community
    assert all(re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{4,31}", n) for n in names)
    assert all(e.name.lower().endswith("bot") for e in world.of_kind("telegram", "bot"))
    previews = [e.extra.get("preview", True) for e in world.of_kind("telegram", "channel")]
    assert True in previews and False in previews
