"""The story preset and the generator that fills a world up to its requested size.

The preset replays the shape of DESIGN.md's story (dates approximate, names of the public
communities of the time): r/deepfakes founded in December 2017 reaches ~91,000 subscribers in
eight weeks, FakeApp spreads through it from mid-January, Discord deletes the server on
26 January, Gfycat stops hosting on 31 January, Twitter suspends an account within hours of
Reddit's bans on 7 February, and the users move to SFW-named successors.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from crawler.sim.chapter_2024 import chapter_2024
from crawler.sim.world import Entity, Event, Growth

if TYPE_CHECKING:
    from crawler.sim.world import World


def _d(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=UTC)


REDDIT_BAN = _d("2018-02-07T10:00:00")
BAN_REASON = "banned"  # what Reddit's 404 body says ({"reason": "banned", ...})
STORY_DOMAIN_BANS = {"gfycat.com": _d("2018-01-31T00:00:00")}


def story() -> list[Entity]:
    """The preset communities; their names also suit the default watchlist."""
    ban = (Event(REDDIT_BAN, "banned", BAN_REASON),)
    return [
        # 8 weeks from 2017-12-04 to 2018-01-29 reach ~91,000 (base 50 + logistic to 100,000).
        Entity(
            "reddit",
            "subreddit",
            "deepfakes",
            _d("2017-12-04T09:00:00"),
            Growth(50, 100_000, rate=0.289, midpoint=48),
            post_rate=150,
            nsfw=True,
            events=ban,
            title="deepfakes",
            extra={"tool": None},
        ),
        Entity(
            "reddit",
            "subreddit",
            "FakeApp",
            _d("2018-01-22T15:00:00"),
            Growth(10, 12_000, rate=0.35, midpoint=10),
            post_rate=60,
            events=ban,
            title="FakeApp",
            extra={"tool": "FakeApp"},
        ),
        Entity(
            "reddit",
            "subreddit",
            "GIFFakes",
            _d("2017-12-20T18:00:00"),
            Growth(10, 30_000, rate=0.15, midpoint=35),
            post_rate=40,
            nsfw=True,
            events=ban,
            title="GIFFakes",
        ),
        Entity(
            "reddit",
            "subreddit",
            "SFWdeepfakes",
            _d("2018-01-25T11:00:00"),
            Growth(5, 15_000, rate=0.2, midpoint=20),
            post_rate=30,
            title="SFW deepfakes",
        ),
        # The successor the users move to after the bans: its curve turns up on the ban day.
        Entity(
            "reddit",
            "subreddit",
            "DeepFakesSFW",
            _d("2018-02-01T08:00:00"),
            Growth(5, 20_000, rate=0.25, midpoint=14),
            post_rate=40,
            title="Deep fakes, safe for work",
        ),
        Entity(
            "reddit",
            "subreddit",
            "faceswap",
            _d("2016-05-01T00:00:00"),
            Growth(800, 12, shape="linear", rate=12),
            post_rate=8,
            title="faceswap",
        ),
        Entity(
            "reddit",
            "subreddit",
            "fakeapprequests",
            _d("2018-01-15T00:00:00"),
            Growth(5, 4_000, rate=0.3, midpoint=12),
            post_rate=20,
            events=(
                Event(
                    _d("2018-02-02T09:00:00"), "quarantined", "This community has been quarantined by Reddit."
                ),
                Event(REDDIT_BAN, "banned", BAN_REASON),
            ),
        ),
        Entity(
            "reddit",
            "subreddit",
            "deepfakeshelp",
            _d("2018-01-05T00:00:00"),
            Growth(5, 2_500, rate=0.2, midpoint=20),
            post_rate=10,
            events=(Event(_d("2018-02-09T09:00:00"), "private", "private"),),
        ),
        # X: an account suspended within hours of Reddit's bans, two that stay, one that leaves.
        Entity(
            "x",
            "account",
            "deepfakes_app",
            _d("2018-01-14T00:00:00"),
            Growth(20, 6_000, rate=0.25, midpoint=18),
            post_rate=12,
            events=(Event(REDDIT_BAN + timedelta(hours=5), "suspended", "suspended"),),
        ),
        Entity(
            "x",
            "account",
            "faceswap_dev",
            _d("2017-12-20T00:00:00"),
            Growth(40, 3_000, rate=0.1, midpoint=40),
            post_rate=2,
        ),
        Entity(
            "x",
            "account",
            "dfl_news",
            _d("2017-11-01T00:00:00"),
            Growth(100, 2_000, rate=0.05, midpoint=60),
            post_rate=3,
            events=(Event(_d("2018-02-12T00:00:00"), "protected", "protected"),),
        ),
        Entity(
            "x",
            "account",
            "fakeapp_mirror",
            _d("2018-01-20T00:00:00"),
            Growth(5, 900, rate=0.3, midpoint=10),
            post_rate=5,
            events=(Event(_d("2018-02-10T00:00:00"), "not_found", "deactivated"),),
        ),
        Entity(
            "x",
            "query",
            "deepfake",
            _d("2010-01-01T00:00:00"),
            Growth(0, 1, shape="linear", rate=0),
            post_rate=80,
        ),
        Entity(
            "x",
            "query",
            "FakeApp",
            _d("2010-01-01T00:00:00"),
            Growth(0, 1, shape="linear", rate=0),
            post_rate=40,
            extra={"tool": "FakeApp"},
        ),
        Entity(
            "x",
            "query",
            "DeepFaceLab",
            _d("2010-01-01T00:00:00"),
            Growth(0, 1, shape="linear", rate=0),
            post_rate=15,
            extra={"tool": "DeepFaceLab"},
        ),
        Entity(
            "x",
            "query",
            "#deepfakes",
            _d("2010-01-01T00:00:00"),
            Growth(0, 1, shape="linear", rate=0),
            post_rate=30,
        ),
        # GitHub: the repos of the default watchlist (dates approximate) and two that meet events.
        _repo("deepfakes/faceswap", "2017-12-19", 6_000, 0.05, 60),
        _repo("deepinsight/insightface", "2017-09-20", 8_000, 0.02, 120),
        _repo("iperov/DeepFaceLab", "2018-06-04", 40_000, 0.01, 300),
        _repo("iperov/DeepFaceLive", "2021-07-01", 25_000, 0.01, 300),
        _repo(
            "s0md3v/roop",
            "2023-05-28",
            28_000,
            0.08,
            40,
            (Event(_d("2023-08-22T00:00:00"), "archived", "archived"),),
        ),
        _repo("facefusion/facefusion", "2023-08-20", 25_000, 0.03, 120),
        _repo("hacksider/Deep-Live-Cam", "2023-09-24", 70_000, 0.03, 300),
        _repo("neuralchen/SimSwap", "2021-06-01", 4_500, 0.02, 200),
        _repo("Gourieff/sd-webui-reactor", "2023-07-15", 3_000, 0.02, 150),
        _repo(
            "sim-user/fakeapp-mirror",
            "2018-01-20",
            800,
            0.3,
            10,
            (Event(_d("2018-02-05T00:00:00"), "blocked", "dmca"),),
        ),
        _repo(
            "deepfakes/fakeapp-installer",
            "2018-01-18",
            400,
            0.3,
            10,
            (Event(_d("2018-02-10T00:00:00"), "archived", "archived"),),
        ),
        # Discord: the server deleted on 26 January 2018, one that lives on.
        Entity(
            "discord",
            "server",
            "deepfakes",
            _d("2017-12-10T00:00:00"),
            Growth(10, 8_000, rate=0.2, midpoint=30),
            events=(Event(_d("2018-01-26T18:00:00"), "expired", "Unknown Invite"),),
            title="deepfakes",
            extra={"guild_id": "401234567890123456"},
        ),
        Entity(
            "discord",
            "server",
            "faceswap",
            _d("2017-12-22T00:00:00"),
            Growth(10, 5_000, rate=0.1, midpoint=40),
            title="faceswap",
            extra={"guild_id": "402345678901234567"},
        ),
        # Telegram: where users went; one channel blocked by Telegram.
        Entity(
            "telegram",
            "channel",
            "deepfake_tools",
            _d("2018-01-01T00:00:00"),
            Growth(10, 12_300, rate=0.12, midpoint=40),
            post_rate=6,
            title="Deepfake tools",
        ),
        Entity(
            "telegram",
            "channel",
            "fakeapp_builds",
            _d("2018-01-15T00:00:00"),
            Growth(10, 3_000, rate=0.3, midpoint=15),
            post_rate=4,
            title="FakeApp builds",
            events=(
                Event(
                    _d("2018-02-12T00:00:00"),
                    "banned",
                    "This channel can't be displayed because it violated Telegram's Terms of Service.",
                ),
            ),
            extra={"tool": "FakeApp"},
        ),
        # Mastodon hashtags on the simulated instance.
        Entity(
            "mastodon",
            "hashtag",
            "deepfake",
            _d("2017-01-01T00:00:00"),
            Growth(0, 1, shape="linear", rate=0),
            post_rate=25,
        ),
        Entity(
            "mastodon",
            "hashtag",
            "deepfakes",
            _d("2017-01-01T00:00:00"),
            Growth(0, 1, shape="linear", rate=0),
            post_rate=15,
        ),
        Entity(
            "mastodon",
            "hashtag",
            "faceswap",
            _d("2017-01-01T00:00:00"),
            Growth(0, 1, shape="linear", rate=0),
            post_rate=4,
        ),
        *chapter_2024(),  # GitHub, Forgejo and Bluesky in 2024-2026 (crawler.sim.chapter_2024)
    ]


# Where the users went after Reddit's bans: a new Discord server, two Telegram channels and a
# new subreddit, created within hours of the bans. They are `unlisted`: not on the demo's
# watchlist, found by discovery through the links the surviving communities post.
MIGRATION_UNTIL = REDDIT_BAN + timedelta(days=12)
MIGRATION_LINKS: tuple[tuple[str, float], ...] = (
    ("https://discord.gg/dfrefuge", 1.0),
    ("t.me/deepfake_refuge", 0.8),
    ("https://t.me/fakeapp_chat", 0.6),
    ("r/DeepFakesRefuge", 1.0),
)
STORY_MIGRATIONS = [(REDDIT_BAN, MIGRATION_UNTIL, MIGRATION_LINKS)]
MIGRATION_SHARE = 0.3  # of the surviving communities' posts on the ban day; halves every 3 days


def migration_targets() -> list[Entity]:
    """The communities the story's migration links point to (unlisted: discovery finds them)."""
    hours = REDDIT_BAN + timedelta(hours=2)
    unlisted = {"unlisted": True}
    return [
        Entity("discord", "server", "dfrefuge", hours, Growth(20, 6_000, rate=0.4, midpoint=6),
               title="deepfakes refuge", extra={**unlisted, "guild_id": "409876543210987654"}),
        Entity("telegram", "channel", "deepfake_refuge", hours, Growth(10, 4_000, rate=0.4, midpoint=6),
               post_rate=8, title="Deepfake refuge", extra=dict(unlisted)),
        Entity("telegram", "channel", "fakeapp_chat", hours, Growth(10, 2_500, rate=0.35, midpoint=7),
               post_rate=5, title="FakeApp chat", extra={**unlisted, "tool": "FakeApp"}),
        Entity("reddit", "subreddit", "DeepFakesRefuge", hours, Growth(10, 9_000, rate=0.4, midpoint=7),
               post_rate=25, title="Deep fakes refuge", extra=dict(unlisted)),
    ]  # fmt: skip


def migration_note(world: World, e: Entity, created: float, seq: int) -> str:
    """What a post of a surviving community adds after the bans: where people went, or nothing."""
    when = datetime.fromtimestamp(created, UTC)
    for start, until, links, *only in world.migrations:
        if not (start <= when < until) or e.extra.get("unlisted") or world.status(e, when) != "active":
            continue
        if only and only[0] and e.key not in only[0]:
            continue  # a migration that only some communities announce
        r = world.rng("migration", e.key, seq, round(created))
        share = MIGRATION_SHARE * 0.5 ** ((when - start).total_seconds() / 86400 / 3)
        if r.random() >= share:
            return ""
        x = r.random() * sum(w for _, w in links)
        for link, w in links:
            x -= w
            if x <= 0:
                return f" — we moved: {link}"
        return f" — we moved: {links[-1][0]}"
    return ""


def _repo(
    full: str, created: str, stars: float, rate: float, midpoint: float, events: tuple[Event, ...] = ()
) -> Entity:
    return Entity(
        "github",
        "repo",
        full,
        _d(created + "T12:00:00"),
        Growth(1, stars, rate=rate, midpoint=midpoint),
        events=events,
        title=full.split("/")[1],
    )


# Telegram's notices for blocked groups and bots (the ToS and the pornographic-content forms).
TELEGRAM_BLOCKS = {
    "group": (
        "This group can't be displayed because it violated Telegram's Terms of Service.",
        "This group can't be displayed because it was used to spread pornographic content.",
    ),
    "bot": (
        "This bot can't be displayed because it violated Telegram's Terms of Service.",
        "This bot can't be displayed in your country because it violates local laws.",
    ),
}

WORDS = ("faceswap", "deepfake", "dfl", "swapfaces", "fakes", "aifaces", "facelab", "morph")


# The platform of each bare kind the generator makes (a kind on two platforms is counted on this one).
GENERATED_ON = {"subreddit": "reddit", "account": "x", "query": "x", "repo": "github"}


def generated(world: World, kind: str, i: int) -> Entity:
    """The i-th generated entity of a kind: traits and events drawn from the world seed."""
    r = world.rng("gen", kind, i)
    word = r.choice(WORDS)
    created = world.start - timedelta(days=r.uniform(-20, 900))
    cap = r.lognormvariate(7.6, 1.3)  # median ~2,000 members, a long tail to ~100,000
    growth = Growth(r.uniform(1, 50), cap, rate=r.uniform(0.02, 0.3), midpoint=r.uniform(5, 400))
    event_day = world.start + timedelta(days=r.uniform(1, 60), hours=r.uniform(-11, 11))
    x = r.random()
    events: tuple[Event, ...] = ()
    if kind == "subreddit":
        name = f"sim_{word}_{i}"[:21]
        if x < 0.06:
            events = (Event(event_day, "banned", BAN_REASON),)
        elif x < 0.09:
            events = (Event(event_day, "quarantined", "This community has been quarantined by Reddit."),)
        elif x < 0.12:
            events = (Event(event_day, "private", "private"),)
        return Entity(
            "reddit",
            kind,
            name,
            created,
            growth,
            post_rate=0.5 + cap**0.5 / 20,
            nsfw=r.random() < 0.3,
            events=events,
            title=f"{word} community {i}",
        )
    if kind == "account":
        if x < 0.05:
            events = (Event(event_day, "suspended", "suspended"),)
        elif x < 0.08:
            events = (Event(event_day, "protected", "protected"),)
        elif x < 0.10:
            events = (Event(event_day, "not_found", "deactivated"),)
        return Entity(
            "x", kind, f"{word[:6]}_{i}", created, growth, post_rate=r.uniform(0.5, 10), events=events
        )
    if kind == "query":
        return Entity(
            "x",
            kind,
            f"{word} {i}",
            world.start - timedelta(days=3650),
            Growth(0, 1, shape="linear", rate=0),
            post_rate=r.uniform(1, 50),
        )
    if kind == "repo":
        if x < 0.03:
            events = (Event(event_day, "archived", "archived"),)
        elif x < 0.05:
            events = (Event(event_day, "blocked", "dmca"),)
        elif x < 0.06:
            events = (Event(event_day, "not_found", "deleted"),)
        return Entity(
            "github", kind, f"sim-{word}/{word}-{i}", created, growth, events=events, title=f"{word}-{i}"
        )
    if kind == "server":
        if x < 0.08:
            events = (Event(event_day, "expired", "Unknown Invite"),)
        return Entity(
            "discord",
            kind,
            f"sim{word}{i}"[:32],
            created,
            growth,
            events=events,
            title=f"{word} {i}",
            extra={"guild_id": str(400_000_000_000_000_000 + r.randrange(10**17))},
        )
    if kind == "channel":
        if x < 0.04:
            events = (
                Event(
                    event_day,
                    "banned",
                    "This channel can't be displayed because it violated Telegram's Terms of Service.",
                ),
            )
        # A quarter of channels keep their preview off: t.me/s/NAME redirects to t.me/NAME.
        # Drawn apart from `r`, so the other traits stay those of earlier worlds.
        preview = world.rng("preview", kind, i).random() >= 0.25
        return Entity(
            "telegram",
            kind,
            f"sim_{word}_{i}"[:32],
            created,
            growth,
            post_rate=r.uniform(0.5, 8),
            events=events,
            title=f"{word} channel {i}",
            extra={"preview": preview},
        )
    if kind in ("group", "bot"):
        if x < 0.06:
            events = (Event(event_day, "banned", TELEGRAM_BLOCKS[kind][r.randrange(2)]),)
        # Telegram's rules: 5-32 characters; a bot's username ends in "bot". Never a
        # channel's name (those start with sim_): one name is one community on Telegram.
        name = f"{word}_{i}_bot" if kind == "bot" else f"{word}_chat_{i}"
        return Entity(
            "telegram",
            kind,
            name,
            created,
            growth,
            post_rate=0,
            events=events,
            title=f"{word} {'bot' if kind == 'bot' else 'group'} {i}",
        )
    if kind == "forgejo:repo":
        if x < 0.03:
            events = (Event(event_day, "archived", "archived"),)
        elif x < 0.05:
            events = (Event(event_day, "not_found", "deleted"),)
        return Entity(
            "forgejo",
            "repo",
            f"sim-{word}/{word}-cb{i}",
            created,
            growth,
            events=events,
            title=f"{word}-cb{i}",
        )
    if kind == "bluesky:account":
        if x < 0.04:
            events = (Event(event_day, "suspended", "AccountTakedown"),)
        elif x < 0.06:
            events = (Event(event_day, "not_found", "deactivated"),)
        return Entity(
            "bluesky",
            "account",
            f"{word}-{i}.bsky.social",
            created,
            growth,
            post_rate=r.uniform(0.5, 10),
            events=events,
            title=f"{word} {i}",
        )
    if kind == "hashtag":
        return Entity(
            "mastodon",
            kind,
            f"{word}{i}",
            world.start - timedelta(days=3650),
            Growth(0, 1, shape="linear", rate=0),
            post_rate=r.uniform(0.5, 20),
        )
    raise ValueError(f"unknown kind {kind}")


def build_entities(world: World, counts: dict[str, int], preset: str | None) -> list[Entity]:
    """The preset's entities, then generated ones until each kind reaches its count."""
    if preset not in (None, "story"):
        raise ValueError(f"unknown preset {preset!r} (known: story, None)")
    entities = story() if preset == "story" else []
    for kind, n in counts.items():
        # A count keyed "platform:kind" is of that platform's kind; a bare kind is of the
        # platform the generator puts it on (the story has X accounts and Bluesky accounts).
        platform, _, bare = kind.rpartition(":")
        platform = platform or GENERATED_ON.get(kind, "")
        have = sum(1 for e in entities if e.kind == bare and (not platform or e.platform == platform))
        entities.extend(generated(world, kind, i) for i in range(have, n))
    if preset == "story":  # last, so every other entity keeps its index (part of its ids)
        entities.extend(migration_targets())
    return entities
