"""The config's shape: every setting and watchlist section, declared once with its default.

Core settings are declared here; each source's own `[<source>]` settings and its watchlist
section come from its declaration (crawler.plugins), so `Settings` and `Watchlist` are
built from the declarations at import. Code outside a source reads a source's settings
through `source_settings(settings, name)`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, create_model, field_validator

from crawler.cron import validate_cron
from crawler.entries import Policy, Strict, brief, is_http_url
from crawler.plugins import declared, endpoints, source_names

SETTINGS_FILE = "settings.toml"
WATCHLIST_FILE = "watchlist.yaml"
WATCHLIST_DIR = "watchlist.d"
TOOLS_FILE = "tools.yaml"

SOURCE_NAMES: tuple[str, ...] = source_names()

# Base URLs of every platform; each can be overridden with DFWATCH_ENDPOINT_<NAME>.
DEFAULT_ENDPOINTS: dict[str, str] = {name: e.default for name, e in endpoints().items()}

# Credentials by source; a source whose required variables are missing is skipped with one line.
CREDENTIALS: dict[str, tuple[str, ...]] = {s.name: s.required_env for s in declared() if s.required_env}
OPTIONAL_CREDENTIALS: dict[str, tuple[str, ...]] = {
    s.name: s.optional_env for s in declared() if s.optional_env
}

_Strict = Strict


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
        6 * 3600,
        ge=60,
        le=7 * 86400,
        description="a lock whose heartbeat is older than this is taken over (at least a minute)",
    )
    batch_size: int = Field(
        5000, ge=1, le=100_000, description="records written to the store per transaction"
    )
    allow_private_hosts: bool = Field(
        False,
        description="let watchlist entries name loopback, private or link-local hosts (the demo and tests)",
    )

    @field_validator("contact")
    @classmethod
    def _one_line(cls, v: str) -> str:
        if any(c in v for c in "\r\n\0") or not v.isprintable():
            raise ValueError(
                "the contact goes into the User-Agent header: one line without control characters"
            )
        return v


class ScheduleSettings(_Strict):
    cron: str = Field("0 3 * * *", description="when the daily crawl runs (cron, UTC)")
    timeout_minutes: float = Field(
        180, gt=0, le=1440, description="a crawl still running after this is killed and recorded as failed"
    )
    misfire_grace_hours: float = Field(
        12,
        gt=0,
        le=24 * 7,
        description="a run missed while the scheduler was down still runs if it is at most this late",
    )
    shutdown_grace_seconds: float = Field(
        300, ge=0, le=86400, description="on SIGTERM, how long a running crawl may finish"
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


class SpiderSettings(_Strict):
    download_delay: float = Field(
        0.5, ge=0, le=60, description="seconds between requests to one site (AutoThrottle's floor)"
    )
    autothrottle: bool = Field(True, description="adapt the pace to each site's response times")
    concurrent_per_domain: int = Field(2, ge=1, le=8, description="requests in flight per site at most")
    writer: Literal["thread", "inline"] = Field(
        "thread",
        description="where the spiders' records are stored: a writer thread (the reactor keeps "
        "fetching) or inline on the reactor (the old path, kept for bench/spiders.py)",
    )


class QuerySettings(_Strict):
    timeout_seconds: float = Field(
        300,
        gt=0,
        le=86_400,
        description="longest time one `dfwatch query` statement may run in the database (seconds)",
    )


class DiscoverySettings(_Strict):
    auto_watch: bool = Field(
        False,
        description="after each run, watch linked communities past both thresholds (never accounts of persons)",
    )
    min_posts: int = Field(5, ge=1, le=100_000, description="auto-watch: posts that link to the candidate")
    min_communities: int = Field(
        2, ge=1, le=10_000, description="auto-watch: distinct watched communities those posts are in"
    )


class AlertSettings(_Strict):
    # SecretStr: apprise URLs hold tokens; they never appear in a repr, a log or an error.
    urls: tuple[SecretStr, ...] = Field(
        (), description="apprise URLs (DFWATCH_ALERT_URLS, space separated, takes precedence)"
    )
    growth_pct_1d: float = Field(
        50.0,
        gt=0,
        le=100_000,
        description="members grew by more than this % against an observation >= 20 h older",
    )
    min_members: int = Field(100, ge=0, description="growth alerts only for communities at least this large")
    status_changes: bool = Field(True, description="alert on a change between two known statuses")
    new_candidate_posts: int = Field(
        10, ge=1, le=100_000, description="alert when a candidate reaches this many linking posts"
    )
    source_failing_runs: int = Field(
        3, ge=1, le=1000, description="alert when a source failed this many runs in a row"
    )
    report_path: str | None = Field(
        None, description="where the report lives (a path or URL), linked from alerts"
    )

    @field_validator("urls")
    @classmethod
    def _apprise_urls(cls, v: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        for i, url in enumerate(v):
            if "://" not in url.get_secret_value():
                raise ValueError(f"urls[{i}] is not an apprise URL (SCHEME://...); the value is not shown")
        return v


class ClusterSettings(_Strict):
    """A distributed crawl (docs/operations.md, "Distributed crawl"): off without a broker."""

    broker: str | None = Field(
        None,
        description="Redis URL of the shard queue, e.g. redis://host:6379/0 (DFWATCH_BROKER_URL "
        "takes precedence); unset: every crawl runs on this machine",
    )
    queue: str = Field(
        "dfwatch-shards",
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="the Dramatiq queue the shards go to (letters, digits, '.', '_', '-')",
    )
    reddit_block: int = Field(
        100, ge=1, le=100, description="subreddits per Reddit shard (the batched /api/info unit is 100)"
    )
    x_batch: int = Field(100, ge=1, le=100, description="X accounts per shard (the /2/users/by unit is 100)")
    spider_group: int = Field(
        50,
        ge=1,
        le=10_000,
        description="spider targets per shard, small sites packed together (a site is never split: its pace)",
    )
    hub_page: int = Field(
        100,
        ge=1,
        le=10_000,
        description="Hugging Face or Civitai entries per shard (whole owners; Civitai asks 100 ids a request)",
    )
    group: int = Field(50, ge=1, le=10_000, description="entries per shard of every other source")
    max_retries: int = Field(
        2, ge=0, le=10, description="redeliveries of a shard that crashed, before its targets are failed"
    )
    heartbeat_seconds: float = Field(
        60,
        ge=1,
        le=3600,
        description="a worker silent this long is taken as dead: its unfinished shards go to another",
    )

    @field_validator("broker")
    @classmethod
    def _redis_url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("redis://", "rediss://", "unix://")):
            # The value may hold a password (redis://:secret@host): it is not echoed.
            raise ValueError(
                "the broker must be a redis://, rediss:// or unix:// URL (the value is not shown)"
            )
        return v


class CoreSettings(_Strict):
    database: DatabaseSettings = DatabaseSettings()
    crawler: CrawlerSettings = CrawlerSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    privacy: PrivacySettings = PrivacySettings()
    rate_limits: RateLimitSettings = RateLimitSettings()
    endpoints: dict[str, str] = Field(default_factory=dict)
    spiders: SpiderSettings = SpiderSettings()
    query: QuerySettings = QuerySettings()
    discovery: DiscoverySettings = DiscoverySettings()
    alerts: AlertSettings = AlertSettings()
    cluster: ClusterSettings = ClusterSettings()

    @field_validator("endpoints")
    @classmethod
    def _endpoints(cls, v: dict[str, str]) -> dict[str, str]:
        for name, url in v.items():
            if name not in DEFAULT_ENDPOINTS:
                raise ValueError(f"unknown endpoint {name!r} (known: {', '.join(DEFAULT_ENDPOINTS)})")
            if not is_http_url(url):
                raise ValueError(f"endpoint {name} must be an http(s) URL, got {brief(url)}")
        return v


def _build_settings() -> type[CoreSettings]:
    """CoreSettings plus one `[<source>]` section per source that declares settings."""
    fields: dict[str, Any] = {}
    for spec in declared():
        if spec.settings is not None:
            fields[spec.name] = (spec.settings, spec.settings())
    return create_model("Settings", __base__=CoreSettings, **fields)


Settings: type[CoreSettings] = _build_settings()


def source_settings(settings: CoreSettings, name: str) -> BaseModel:
    """The `[<name>]` settings of a source (its declared model, defaults filled in)."""
    value = getattr(settings, name, None)
    if not isinstance(value, BaseModel):
        raise KeyError(f"source {name!r} declares no settings")
    return value


# --------------------------------------------------------------------------- watchlist


def _build_watchlist() -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for spec in declared():
        if spec.watch is not None:
            fields[spec.section_name] = (spec.watch, spec.watch_default)
    return create_model("Watchlist", __base__=Strict, **fields)


Watchlist: type[BaseModel] = _build_watchlist()


class Tool(_Strict):
    name: str = Field(min_length=1)
    aliases: tuple[str, ...] = ()
    category: str | None = None
    repository: str | None = None
