"""Scenario controls: the hand-built cases a test needs, in the same world the platforms answer from.

The generated world grows communities along curves and draws their posts from seeded RNGs;
a test wants one repository with 1,342 stars and releases of known downloads, an account
taken down now, three posts with known text. These helpers add such entities and change
them as of the simulated now, so every platform module shapes them exactly as it shapes the
generated ones (one fake per platform: tests/ keeps none of its own for these platforms).

What an entity's `extra` may pin (read by the platform modules):

- ``fields``: answer fields that replace the generated ones (Forgejo's repository object);
- ``release_downloads``: one release per number, newest last, one asset with that many
  downloads (GitHub and Forgejo release pages);
- ``etag``: the answers carry a strong ETag and honour If-None-Match (Forgejo sends none of
  its own; a caching proxy in front of an instance adds them);
- ``links_to``: the origin written into Link headers (an instance or proxy that points its
  pages elsewhere);
- ``items``: the entity's posts, scripted (`post`), in place of generated ones;
- ``did``, ``posts_count``: a Bluesky account's DID and its `postsCount`.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from crawler.sim.content import Item
from crawler.sim.world import Entity, Event, Growth, World


def steady(
    world: World,
    platform: str,
    kind: str,
    name: str,
    members: int = 100,
    *,
    age_days: float = 365,
    title: str = "",
    **extra: Any,
) -> Entity:
    """A community of constant size (no growth, no noise), created `age_days` before now."""
    e = Entity(
        platform,
        kind,
        name,
        world.now() - timedelta(days=age_days),
        Growth(members, 0, rate=0, noise=0, shape="linear"),
        post_rate=0,
        title=title,
        extra=dict(extra),
    )
    if kind in ("query", "subreddit", "channel", "hashtag"):
        e.extra.setdefault("items", [])  # scripted posts only: a test says what was posted
    return world.add(e)


def set_status(
    world: World, e: Entity, status: str, reason: str | None = None, at: datetime | None = None
) -> None:
    """From `at` (default: now) the entity has `status`: "active", "blocked", "deleted", ..."""
    e.events = (*e.events, Event(at or world.now(), status, reason))


def post(
    world: World,
    e: Entity,
    created: datetime,
    text: str,
    *,
    url: str | None = None,
    likes: int = 0,
    replies: int = 0,
    views: int = 0,
    author: int = 0,
    number: int | None = None,
) -> Item:
    """One scripted post of `e` (its counts already settled: `grown` reaches them at once);
    `number` is its id where the platform shows one (Telegram's post number)."""
    items: list[Item] = e.extra.setdefault("items", [])
    seq = len(items)
    stamp = created.timestamp()
    item = Item(
        entity=e.index,
        seq=seq % 1024,
        id_num=number if number is not None else (int(stamp) << 20) | (seq & 0xFFFFF),
        created=stamp,
        title=text,
        text=text,
        domain=url.split("/")[2] if url else None,
        url=url,
        tools=(),
        author=f"sim_user_{author}_{e.index}",
        score=likes,
        comments=replies,
        views=views,
        flair=None,
        settled=True,
    )
    items.append(item)
    return item


def delete(world: World, e: Entity, item: Item) -> Item:
    """The post is deleted from now on; returns its new state."""
    items: list[Item] = e.extra["items"]
    gone = dataclasses.replace(item, fate="deleted", fate_at=world.now().timestamp())
    items[items.index(item)] = gone
    return gone


def empty_world(start: datetime | None = None, seed: int = 1) -> World:
    """A world with nothing in it but what the test adds, its clock at `start` (default: the
    wall clock now, to the second, so a client's own "now" and the world's agree)."""
    when = (start or datetime.now(UTC)).replace(microsecond=0)
    return World(
        seed=seed,
        start_date=when,
        preset=None,
        n_subreddits=0,
        n_accounts=0,
        n_queries=0,
        n_repos=0,
        n_invites=0,
        n_channels=0,
        n_hashtags=0,
    )
