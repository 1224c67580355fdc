"""The config's shape: every setting and watchlist entry, declared once with its default.

Pydantic models for settings.toml, watchlist.yaml and tools.yaml, the platforms' naming
rules, and the cron check the scheduler shares.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

SETTINGS_FILE = "settings.toml"
WATCHLIST_FILE = "watchlist.yaml"
TOOLS_FILE = "tools.yaml"

# Base URLs of every platform; each can be overridden with DFWATCH_ENDPOINT_<NAME>.
DEFAULT_ENDPOINTS: dict[str, str] = {
    "reddit": "https://oauth.reddit.com",
    "reddit_auth": "https://www.reddit.com",
    "x": "https://api.twitter.com",
    "github": "https://api.github.com",
    "discord": "https://discord.com",
    "telegram": "https://t.me",
    "arctic_shift": "https://arctic-shift.photon-reddit.com",
}

# Credentials by source; a source whose variables are missing is skipped with one line.
CREDENTIALS: dict[str, tuple[str, ...]] = {
    "reddit": ("REDDIT_CLIENT_ID", "REDDIT_CLIENT_SECRET"),
    "x": ("X_BEARER_TOKEN",),
}
OPTIONAL_CREDENTIALS: dict[str, tuple[str, ...]] = {
    "reddit": ("REDDIT_USER_AGENT",),
    "github": ("GITHUB_TOKEN",),
}

Policy = Literal["counts", "metadata", "full"]

# Platform naming rules (what the platform itself accepts).
SUBREDDIT_RE = re.compile(r"^[A-Za-z0-9_]{2,21}$")
X_HANDLE_RE = re.compile(r"^[A-Za-z0-9_]{1,15}$")
GITHUB_REPO_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
DISCORD_INVITE_RE = re.compile(r"^[A-Za-z0-9-]{2,32}$")
TELEGRAM_CHANNEL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")
MASTODON_TAG_RE = re.compile(r"^[^\W][\w]{0,99}$", re.UNICODE)
HOST_RE = re.compile(r"^[A-Za-z0-9.-]+(?::\d+)?$")
CRON_FIELDS = 5
CRON_FIELD_NAMES = ("minute", "hour", "day-of-month", "month", "day-of-week")
CRON_FIELD_ARGS = ("minute", "hour", "day", "month", "day_of_week")  # APScheduler's names


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- settings


class DatabaseSettings(_Strict):
    url: str = Field(
        "sqlite:///data/dfwatch.db",
        description="SQLAlchemy URL; relative SQLite paths are relative to the working directory",
    )


class CrawlerSettings(_Strict):
    contact: str = Field(
        "https://github.com/dfwatch/dfwatch",
        description="URL or e-mail put in the User-Agent so operators can reach us",
    )
    lock_wait_seconds: float = Field(
        60.0, ge=0, le=3600, description="how long a crawl waits for another to release the run lock"
    )
    lock_stale_seconds: float = Field(
        6 * 3600, gt=0, description="a lock whose heartbeat is older than this is taken over"
    )
    batch_size: int = Field(
        5000, ge=1, le=100_000, description="records written to the store per transaction"
    )


class ScheduleSettings(_Strict):
    cron: str = Field("0 3 * * *", description="when the daily crawl runs (cron, UTC)")
    timeout_minutes: float = Field(
        180, gt=0, description="a crawl still running after this is killed and recorded as failed"
    )
    misfire_grace_hours: float = Field(
        12,
        gt=0,
        description="a run missed while the scheduler was down still runs if it is at most this late",
    )
    shutdown_grace_seconds: float = Field(
        300, ge=0, description="on SIGTERM, how long a running crawl may finish"
    )
    sources: dict[str, str] = Field(
        default_factory=dict, description="per-source cron overrides, e.g. arctic_shift = '0 4 * * mon'"
    )
    report_path: str | None = Field(None, description="write the report here after each scheduled crawl")
    report_format: Literal["table", "md", "csv", "json", "html"] = "html"

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str) -> str:
        return validate_cron(v)

    @field_validator("sources")
    @classmethod
    def _source_crons(cls, v: dict[str, str]) -> dict[str, str]:
        for name, expr in v.items():
            if name not in SOURCE_NAMES:
                raise ValueError(f"unknown source {name!r} (known: {', '.join(SOURCE_NAMES)})")
            validate_cron(expr)
        return v


class PrivacySettings(_Strict):
    default_policy: Policy = Field("metadata", description="content policy of entries that name none")
    nsfw_policy: Policy = Field("counts", description="content policy of NSFW entries that name none")
    key_file: str = Field(
        "../data/pseudonym.key",
        description="HMAC key file, created 0600 when DFWATCH_PSEUDONYM_KEY is unset; relative to the "
        "config directory (the default is data/pseudonym.key beside config/)",
    )


class RateLimitSettings(_Strict):
    max_retries: int = Field(3, ge=0, le=10, description="retries of one request on 429, 5xx or timeout")
    max_wait_seconds: float = Field(
        900, ge=0, le=3600, description="longest single wait for a rate-limit reset"
    )
    backoff_seconds: float = Field(2.0, ge=0, le=300, description="first backoff; doubles each retry")
    timeout_seconds: float = Field(30, gt=0, le=600, description="per-request timeout")


class RedditSettings(_Strict):
    lookback_days: float = Field(
        7, gt=0, le=365, description="how far the first crawl of a subreddit looks back"
    )
    max_pages: int = Field(10, ge=1, le=100, description="listing pages per combined listing per crawl")
    compliance_days: float = Field(
        30, ge=0, le=3650, description="re-check stored posts younger than this for deletions"
    )


class XSettings(_Strict):
    max_pages: int = Field(5, ge=1, le=100, description="search pages per query per crawl")
    counts_days: int = Field(
        7, ge=1, le=7, description="days of post counts asked for (recent counts reach 7 days back)"
    )


class GithubSettings(_Strict):
    max_release_pages: int = Field(
        10, ge=1, le=100, description="release pages per repository (100 releases a page)"
    )


class SpiderSettings(_Strict):
    download_delay: float = Field(
        0.5, ge=0, le=60, description="seconds between requests to one site (AutoThrottle's floor)"
    )
    autothrottle: bool = Field(True, description="adapt the pace to each site's response times")
    concurrent_per_domain: int = Field(2, ge=1, le=8, description="requests in flight per site at most")


class QuerySettings(_Strict):
    timeout_seconds: float = Field(
        300,
        gt=0,
        le=86_400,
        description="longest time one `dfwatch query` statement may run in the database (seconds)",
    )


class Settings(_Strict):
    database: DatabaseSettings = DatabaseSettings()
    crawler: CrawlerSettings = CrawlerSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    privacy: PrivacySettings = PrivacySettings()
    rate_limits: RateLimitSettings = RateLimitSettings()
    endpoints: dict[str, str] = Field(default_factory=dict)
    reddit: RedditSettings = RedditSettings()
    x: XSettings = XSettings()
    github: GithubSettings = GithubSettings()
    spiders: SpiderSettings = SpiderSettings()
    query: QuerySettings = QuerySettings()

    @field_validator("endpoints")
    @classmethod
    def _endpoints(cls, v: dict[str, str]) -> dict[str, str]:
        for name, url in v.items():
            if name not in DEFAULT_ENDPOINTS:
                raise ValueError(f"unknown endpoint {name!r} (known: {', '.join(DEFAULT_ENDPOINTS)})")
            if not re.match(r"^https?://", url):
                raise ValueError(f"endpoint {name} must be an http(s) URL, got {url!r}")
        return v


# --------------------------------------------------------------------------- watchlist


class Entry(_Strict):
    """One watchlist entry: a name, or a mapping with name, content, nsfw, tags."""

    name: str
    content: Policy | None = None
    nsfw: bool | None = None
    tags: tuple[str, ...] = ()


class RedditWatch(_Strict):
    subreddits: tuple[Entry, ...] = ()


class XWatch(_Strict):
    accounts: tuple[Entry, ...] = ()
    queries: tuple[Entry, ...] = ()


class GithubWatch(_Strict):
    repos: tuple[Entry, ...] = ()


class DiscordWatch(_Strict):
    invites: tuple[Entry, ...] = ()


class TelegramWatch(_Strict):
    channels: tuple[Entry, ...] = ()


class ForumEntry(_Strict):
    url: str
    engine: Literal["phpbb", "discourse"]
    name: str | None = None
    content: Policy | None = None
    nsfw: bool | None = None
    tags: tuple[str, ...] = ()


class MastodonTag(_Strict):
    instance: str
    tag: str
    content: Policy | None = None
    nsfw: bool | None = None
    tags: tuple[str, ...] = ()


class MastodonWatch(_Strict):
    hashtags: tuple[MastodonTag, ...] = ()


class ArcticShiftWatch(_Strict):
    subreddits: tuple[Entry, ...] = ()


class Watchlist(_Strict):
    reddit: RedditWatch = RedditWatch()
    x: XWatch = XWatch()
    github: GithubWatch = GithubWatch()
    discord: DiscordWatch = DiscordWatch()
    telegram: TelegramWatch = TelegramWatch()
    forums: tuple[ForumEntry, ...] = ()
    mastodon: MastodonWatch = MastodonWatch()
    arctic_shift: ArcticShiftWatch = ArcticShiftWatch()


class Tool(_Strict):
    name: str = Field(min_length=1)
    aliases: tuple[str, ...] = ()
    category: str | None = None
    repository: str | None = None


# --------------------------------------------------------------------------- the whole


SOURCE_NAMES: tuple[str, ...] = (
    "reddit",
    "x",
    "github",
    "discord",
    "telegram",
    "forums",
    "mastodon",
    "arctic_shift",
)


def _instance_host(instance: str) -> str:
    """`mastodon.social` or `https://mastodon.social/` -> `mastodon.social` (handles use the host)."""
    return re.sub(r"^https?://", "", instance).rstrip("/")


def validate_cron(expr: str) -> str:
    """A five-field crontab expression (minute hour day month weekday, UTC) the scheduler accepts.

    Weekdays are crontab's (0 and 7 = Sunday, or sun-sat): crawler.schedule.cron translates
    them, because APScheduler 3 alone counts from Monday = 0.
    """
    fields = expr.split()
    if len(fields) != CRON_FIELDS:
        raise ValueError(f"cron {expr!r} needs 5 fields (minute hour day month weekday), has {len(fields)}")
    from apscheduler.triggers.cron import CronTrigger

    from crawler.schedule.cron import crontab_trigger, crontab_weekdays

    # Check field by field first, so the message can say which field is wrong.
    for label, arg, value in zip(CRON_FIELD_NAMES, CRON_FIELD_ARGS, fields, strict=True):
        try:
            if arg == "day_of_week":
                crontab_weekdays(value)
            else:
                CronTrigger(timezone="UTC", **{arg: value})
        except ValueError as exc:
            reason = re.sub(r"^Error validating expression '[^']*': ", "", str(exc))
            raise ValueError(f"cron {expr!r}: {label} field {value!r}: {reason}") from None
    try:
        crontab_trigger(expr)
    except ValueError as exc:
        raise ValueError(f"cron {expr!r}: {exc}") from None
    return expr
