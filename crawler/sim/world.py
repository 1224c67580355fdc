"""The deterministic world: communities that grow, post, mention tools and meet events.

Every answer is a pure function of (seed, entity, simulated time): member counts follow a
growth curve plus day-level noise, posts are drawn per (entity, day) from an RNG seeded by
those three, and statuses follow a fixed list of dated events. Nothing is stored as the
clock moves, so any day can be asked about in any order and gives the same answer.

Entities are platform-neutral (`Entity`); the platform modules shape them into Reddit,
X, GitHub, Discord, Telegram, Arctic Shift, Mastodon, Forgejo and Bluesky answers, and
Hugging Face and Civitai ones (models: crawler.sim.hubs_world).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from crawler.sim.clock import SimClock

DAY = 86400.0

# Statuses after which a community stops growing (its last count is the one history keeps).
TERMINAL = frozenset({"banned", "suspended", "expired", "blocked", "deleted"})


@dataclass(frozen=True)
class Event:
    """From `at` on, the entity has `status` (until a later event)."""

    at: datetime
    status: str
    reason: str | None = None


@dataclass(frozen=True)
class Growth:
    """Members as a function of age in days: base + logistic(cap, rate, midpoint), or linear."""

    base: float
    cap: float
    rate: float = 0.1
    midpoint: float = 30.0
    noise: float = 0.004  # relative sd of the day-level noise
    shape: str = "logistic"  # logistic | linear (rate members/day)

    def value(self, age_days: float) -> float:
        if age_days < 0:
            return 0.0
        if self.shape == "linear":
            return self.base + self.rate * age_days
        return self.base + self.cap / (1.0 + math.exp(-self.rate * (age_days - self.midpoint)))


@dataclass
class Entity:
    """One watched thing: a subreddit, an X account or query, a repo, an invite, a Telegram
    channel, group or bot, a tag."""

    platform: str
    kind: str
    name: str
    created: datetime
    growth: Growth
    post_rate: float = 1.0  # posts per day when members reach the curve's top
    nsfw: bool = False
    events: tuple[Event, ...] = ()
    title: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    index: int = 0  # position in the world, part of generated ids

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.kind}:{self.name.lower()}"


class World:
    """A seeded world of communities; answers depend only on the seed and the clock."""

    def __init__(
        self,
        seed: int = 1,
        n_subreddits: int = 12,
        n_accounts: int = 6,
        n_queries: int = 4,
        n_repos: int = 10,
        n_invites: int = 4,
        n_channels: int = 4,
        start_date: date | datetime | str = "2018-01-10",
        preset: str | None = "story",
        n_hashtags: int = 3,
        clock: SimClock | None = None,
        n_groups: int = 0,
        n_bots: int = 0,
        n_forgejo_repos: int = 0,
        n_bluesky_accounts: int = 0,
        n_hf_models: int = 0,
        n_civitai_models: int = 0,
    ) -> None:
        from crawler.sim.story import build_entities  # the preset and the generator

        self.seed = seed
        self.start = _as_datetime(start_date)
        self.clock = clock or SimClock(self.start)
        self.robots_txt = "User-agent: *\nAllow: /s/\nDisallow: /_sim/\n"
        counts = {
            "subreddit": n_subreddits,
            "account": n_accounts,
            "query": n_queries,
            "repo": n_repos,
            "server": n_invites,
            "channel": n_channels,
            "hashtag": n_hashtags,
            "group": n_groups,  # Telegram public groups
            "bot": n_bots,  # Telegram bots
            # "platform:kind" where a kind lives on more than one platform (story.generated)
            "forgejo:repo": n_forgejo_repos,
            "bluesky:account": n_bluesky_accounts,
        }
        self.entities: list[Entity] = build_entities(self, counts, preset)
        from crawler.sim.hubs_world import hub_entities  # the model hubs and their 2025 chapter

        self.entities.extend(hub_entities(self, n_hf_models, n_civitai_models, preset))
        self._by_key: dict[str, Entity] = {}
        for i, e in enumerate(self.entities):
            e.index = i
            self._by_key[e.key] = e
        self.domain_bans: dict[str, datetime] = {}  # link domain -> when it stopped hosting
        # Where users went after a ban: (from, until, [(link as written, weight)], and the keys of
        # the only communities that announce it, or None: every surviving one) (story.py).
        self.migrations: list[tuple[Any, ...]] = []
        if preset == "story":
            from crawler.sim.chapter_2024 import CHAPTER_MIGRATIONS
            from crawler.sim.story import STORY_DOMAIN_BANS, STORY_MIGRATIONS

            self.domain_bans.update(STORY_DOMAIN_BANS)
            self.migrations.extend(STORY_MIGRATIONS)
            self.migrations.extend(CHAPTER_MIGRATIONS)
        self._day_cache: dict[tuple[int, int], list[Any]] = {}

    def add(self, e: Entity) -> Entity:
        """One more entity, after the generated ones (tests build the cases they need)."""
        e.index = len(self.entities)
        self.entities.append(e)
        self._by_key[e.key] = e
        return e

    # -- lookup ---------------------------------------------------------------------
    def get(self, platform: str, kind: str, name: str) -> Entity | None:
        return self._by_key.get(f"{platform}:{kind}:{name.lower()}")

    def of_kind(self, platform: str, kind: str) -> list[Entity]:
        return [e for e in self.entities if e.platform == platform and e.kind == kind]

    def names(self, platform: str, kind: str) -> list[str]:
        """Names to put on a watchlist (the demo and the benches build theirs from these);
        `unlisted` entities are left for discovery to find."""
        return [e.name for e in self.of_kind(platform, kind) if not e.extra.get("unlisted")]

    def rng(self, *parts: object) -> random.Random:
        """An RNG seeded by the world seed and `parts`: the root of every random draw."""
        return random.Random(":".join(map(str, (self.seed, *parts))))

    def query_entity(self, query: str) -> Entity:
        """X search queries are open-ended: a query the world does not list gets stable traits."""
        known = self.get("x", "query", query)
        if known is not None:
            return known
        r = self.rng("adhoc-query", query)
        e = Entity(
            "x",
            "query",
            query,
            self.start - timedelta(days=3650),
            Growth(0, 1, shape="linear", rate=0),
            post_rate=r.uniform(1, 20),
            index=100_000 + r.randrange(900_000),
        )
        return e

    # -- time -----------------------------------------------------------------------
    def now(self) -> datetime:
        return self.clock.now()

    def day_of(self, when: datetime) -> int:
        """Days since the world's start (negative before it); a stable key for draws."""
        return math.floor((when - self.start).total_seconds() / DAY)

    def day_start(self, day: int) -> datetime:
        return self.start + timedelta(days=day)

    # -- state ----------------------------------------------------------------------
    def event_at(self, e: Entity, when: datetime | None = None) -> Event | None:
        """The latest event at or before `when`, or None (active since creation)."""
        when = when or self.now()
        latest = None
        for ev in e.events:
            if ev.at <= when:
                latest = ev
        return latest

    def status(self, e: Entity, when: datetime | None = None) -> str:
        """active, not_found (before creation), or the status of the latest event."""
        when = when or self.now()
        if when < e.created:
            return "not_found"
        ev = self.event_at(e, when)
        return ev.status if ev else "active"

    def frozen_at(self, e: Entity) -> datetime | None:
        """When growth stopped for good (ban, suspension, expiry, block), if ever."""
        for ev in e.events:
            if ev.status in TERMINAL:
                return ev.at
        return None

    def members(self, e: Entity, when: datetime | None = None) -> int:
        """Members (subscribers, followers, stars...) at `when`, frozen at a terminal event."""
        when = when or self.now()
        frozen = self.frozen_at(e)
        if frozen is not None and when > frozen:
            when = frozen
        age = (when - e.created).total_seconds() / DAY
        if age < 0:
            return 0
        day = self.day_of(when)
        noise = self.rng("noise", e.key, day).gauss(0.0, e.growth.noise)
        return max(0, round(e.growth.value(age) * (1.0 + noise)))

    def activity(self, e: Entity, when: datetime) -> float:
        """Expected posts a day at `when`: scales with size, none before creation or after a stop."""
        if when < e.created:
            return 0.0
        frozen = self.frozen_at(e)
        if frozen is not None and when >= frozen:
            return 0.0
        if e.growth.shape == "linear":  # steady communities and open-ended queries post steadily
            rate = e.post_rate
        else:
            top = e.growth.value(10_000)
            size = e.growth.value((when - e.created).total_seconds() / DAY)
            rate = e.post_rate * (0.1 + 0.9 * min(1.0, size / max(top, 1.0)) ** 0.7)
        tool = e.extra.get("tool")
        if tool and e.kind == "query":  # a tool's name is searched as much as the tool is used
            from crawler.sim.content import tool_share

            rate *= min(1.0, 0.02 + dict(tool_share(when.timestamp())).get(tool, 0.0))
        return rate

    def day_items(self, e: Entity, day: int) -> list[Any]:
        """Every post (or tweet, message) the entity makes on world day `day`, cached."""
        scripted = e.extra.get("items")
        if scripted is not None:  # a test's posts (scenario.post), oldest first
            return sorted(
                (it for it in scripted if self.day_of(_utc(it.created)) == day), key=lambda it: it.created
            )
        key = (e.index, day)
        items = self._day_cache.get(key)
        if items is None:
            from crawler.sim.content import generate_day

            items = generate_day(self, e, day)
            if len(self._day_cache) > 50_000:  # bounded: the benches walk 10,000 communities
                self._day_cache.clear()
            self._day_cache[key] = items
        return items

    def items_between(
        self, e: Entity, since: datetime, until: datetime, newest_first: bool = True
    ) -> list[Any]:
        """Items created in [since, until], clipped to the entity's life."""
        since = max(since, e.created)
        out: list[Any] = []
        if until < since:
            return out
        for day in range(self.day_of(since), self.day_of(until) + 1):
            out.extend(
                p for p in self.day_items(e, day) if since.timestamp() <= p.created <= until.timestamp()
            )
        out.sort(key=lambda p: p.created, reverse=newest_first)
        return out


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _as_datetime(value: date | datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime(value.year, value.month, value.day, 12, 0, tzinfo=UTC)
