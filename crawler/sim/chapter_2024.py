"""The story's 2024 chapter: where the wave of 2024–2026 gathers (issue 13).

Dates and names are simulated; the shape is the one reported at the time. A face-swap
tool's "unlocked" fork on GitHub is disabled for a DMCA notice in October 2024 and
reappears on Codeberg the next day, where it grows; a mirror on Codeberg is removed in
January 2026. On Bluesky, a tool-news account grows after X's image-editing scandal of
January 2026, and a promotion account is taken down. On Telegram, a "nudify" bot and the two
channels that promote it grow through 2025; Telegram blocks the bot in January 2026, a
successor bot appears the same day, and the channels link to it (unlisted: discovery finds
it, auto-watch adds it). The demo crawls this chapter in its second phase (crawler.sim.demo:
October 2024, then January 2026).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crawler.sim.world import Entity, Event, Growth

TAG = "wave-2024"  # the watchlist tag the demo gives the chapter's entries
DMCA = datetime(2024, 10, 10, 9, 0, tzinfo=UTC)  # the GitHub fork is disabled
FORK = datetime(2024, 10, 11, 14, 0, tzinfo=UTC)  # its copy appears on Codeberg
X_SCANDAL = datetime(2026, 1, 2, 0, 0, tzinfo=UTC)  # the image-editing scandal on X
BOT_BLOCKED = datetime(2026, 1, 8, 6, 0, tzinfo=UTC)  # Telegram blocks the nudify bot
BOT_NOTICE = "This bot can't be displayed because it violated Telegram's Terms of Service."
SUCCESSOR = "simswap_helper2_bot"  # the bot that replaces it, hours later
PROMO_CHANNELS = ("sim_swapnews", "sim_swapdeals")
# The promotion channels announce the successor for ten days (story.migration_note).
CHAPTER_MIGRATIONS = [
    (
        BOT_BLOCKED + timedelta(hours=8),
        BOT_BLOCKED + timedelta(days=10),
        ((f"t.me/{SUCCESSOR}", 1.0),),
        frozenset(f"telegram:channel:{c}".lower() for c in PROMO_CHANNELS),
    )
]


def _days(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 86400


def telegram_2024() -> list[Entity]:
    """The bot, its two promotion channels, and the successor discovery will find."""
    tags = {"tags": [TAG]}
    bot_created = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
    return [
        Entity(
            "telegram",
            "bot",
            "simswap_helper_bot",
            bot_created,
            Growth(500, 2_400_000, rate=0.025, midpoint=240),
            events=(Event(BOT_BLOCKED, "banned", BOT_NOTICE),),
            title="SimSwap Helper",
            extra=dict(tags),
        ),
        Entity(
            "telegram",
            "channel",
            PROMO_CHANNELS[0],
            datetime(2024, 9, 1, 9, 0, tzinfo=UTC),
            Growth(200, 310_000, rate=0.02, midpoint=420),
            post_rate=14,
            title="Swap news",
            extra=dict(tags),
        ),
        Entity(
            "telegram",
            "channel",
            PROMO_CHANNELS[1],
            datetime(2025, 2, 14, 9, 0, tzinfo=UTC),
            Growth(100, 120_000, rate=0.025, midpoint=300),
            post_rate=10,
            title="Swap deals",
            extra=dict(tags),
        ),
        # Unlisted: not on the watchlist; the promotion channels' links lead discovery to it.
        Entity(
            "telegram",
            "bot",
            SUCCESSOR,
            BOT_BLOCKED + timedelta(hours=6),
            Growth(2_000, 900_000, rate=0.6, midpoint=9),
            title="SimSwap Helper 2",
            extra={"unlisted": True},
        ),
    ]


def chapter_2024() -> list[Entity]:
    """The chapter's communities (GitHub, Forgejo, Bluesky, Telegram), tagged `TAG`."""
    tags = {"tags": [TAG]}
    news_created = datetime(2024, 11, 18, 10, 0, tzinfo=UTC)
    promo_created = datetime(2025, 12, 20, 8, 0, tzinfo=UTC)
    return [
        Entity(
            "github",
            "repo",
            "sim-forks/faceswap-unlocked",
            datetime(2024, 3, 12, 12, 0, tzinfo=UTC),
            Growth(1, 9_000, rate=0.03, midpoint=150),
            events=(Event(DMCA, "blocked", "dmca"),),
            title="faceswap-unlocked",
            extra=dict(tags),
        ),
        # The copy on Codeberg: its first stars come from the fork's audience, then it grows.
        Entity(
            "forgejo",
            "repo",
            "sim-forks/faceswap-unlocked",
            FORK,
            Growth(40, 6_000, rate=0.12, midpoint=25),
            title="faceswap-unlocked",
            extra={**tags, "original_url": "https://github.com/sim-forks/faceswap-unlocked"},
        ),
        Entity(
            "forgejo",
            "repo",
            "sim-mirror/deepswap-mirror",
            datetime(2024, 10, 13, 9, 0, tzinfo=UTC),
            Growth(5, 900, rate=0.1, midpoint=30),
            events=(Event(datetime(2026, 1, 12, 16, 0, tzinfo=UTC), "not_found", "deleted"),),
            title="deepswap-mirror",
            extra=dict(tags),
        ),
        # Flat for a year, then the audience leaving X after January 2026 arrives.
        Entity(
            "bluesky",
            "account",
            "faceswap-news.bsky.social",
            news_created,
            Growth(120, 14_000, rate=0.22, midpoint=_days(news_created, X_SCANDAL) + 10),
            post_rate=3,
            title="Faceswap news",
            extra=dict(tags),
        ),
        Entity(
            "bluesky",
            "account",
            "swapbot-promo.bsky.social",
            promo_created,
            Growth(10, 3_000, rate=0.3, midpoint=18),
            post_rate=12,
            events=(Event(datetime(2026, 1, 14, 7, 0, tzinfo=UTC), "suspended", "AccountTakedown"),),
            title="Swap bot promo",
            extra=dict(tags),
        ),
        Entity(
            "bluesky",
            "query",
            "deepfake",
            datetime(2023, 2, 1, tzinfo=UTC),
            Growth(0, 1, shape="linear", rate=0),
            post_rate=40,
            extra=dict(tags),
        ),
        *telegram_2024(),
    ]
