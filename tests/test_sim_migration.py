"""The simulated migration of the story: after the bans of 7 February 2018, surviving
communities link to where people went; those communities exist but are left off the
demo's watchlist for discovery to find."""

from __future__ import annotations

from datetime import timedelta

from crawler.enrich.community_links import community_links
from crawler.sim.demo import demo_world
from crawler.sim.story import MIGRATION_UNTIL, REDDIT_BAN


def _linked(world, since, until) -> dict[str, set[str]]:  # type: ignore[no-untyped-def]
    out: dict[str, set[str]] = {}
    for e in world.entities:
        for item in world.items_between(e, since, until):
            for key in community_links(item.title):
                out.setdefault(str(key).lower(), set()).add(e.key)
    return out


def test_surviving_communities_link_to_the_new_places_after_the_bans_only() -> None:
    world = demo_world()
    before = _linked(world, REDDIT_BAN - timedelta(days=14), REDDIT_BAN - timedelta(seconds=1))
    after = _linked(world, REDDIT_BAN, REDDIT_BAN + timedelta(days=2))
    targets = {
        "discord:server:dfrefuge",
        "telegram:channel:deepfake_refuge",
        "telegram:channel:fakeapp_chat",
        "reddit:subreddit:deepfakesrefuge",
    }
    assert not targets & set(before)
    assert targets <= set(after)
    assert all(len(after[t]) >= 2 for t in targets)  # from several communities: auto-watch's threshold
    assert not _linked(world, MIGRATION_UNTIL, MIGRATION_UNTIL + timedelta(days=3)).keys() & targets


def test_the_new_places_exist_but_are_not_on_the_watchlist() -> None:
    world = demo_world()
    assert world.get("discord", "server", "dfrefuge") is not None
    assert (
        world.status(world.get("telegram", "channel", "deepfake_refuge"), REDDIT_BAN + timedelta(hours=3))
        == "active"
    )
    assert "dfrefuge" not in world.names("discord", "server")
    assert "DeepFakesRefuge" not in world.names("reddit", "subreddit")
    assert "SFWdeepfakes" in world.names("reddit", "subreddit")
