"""Load and validate config/: settings.toml, watchlist.yaml, tools.yaml.

Every setting is declared once here with its default. Invalid input raises `ConfigError`
naming the file, the entry and the problem, before any request is sent.

The config directory is `--config DIR`, else `$DFWATCH_CONFIG`, else `./config`.
Environment overrides: DFWATCH_DATABASE_URL, DFWATCH_ENDPOINT_<NAME>, DFWATCH_PSEUDONYM_KEY
and the platform credentials (read through `Config.credential`, never stored or logged).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from crawler.errors import ConfigError
from crawler.records import CommunityKey

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
    url: str = Field("sqlite:///data/dfwatch.db", description="SQLAlchemy URL; relative SQLite paths are relative to the working directory")


class CrawlerSettings(_Strict):
    contact: str = Field("https://github.com/dfwatch/dfwatch", description="URL or e-mail put in the User-Agent so operators can reach us")
    lock_wait_seconds: float = Field(60.0, ge=0, le=3600, description="how long a crawl waits for another to release the run lock")
    lock_stale_seconds: float = Field(6 * 3600, gt=0, description="a lock whose heartbeat is older than this is taken over")
    batch_size: int = Field(5000, ge=1, le=100_000, description="records written to the store per transaction")


class ScheduleSettings(_Strict):
    cron: str = Field("0 3 * * *", description="when the daily crawl runs (cron, UTC)")
    timeout_minutes: float = Field(180, gt=0, description="a crawl still running after this is killed and recorded as failed")
    misfire_grace_hours: float = Field(12, gt=0, description="a run missed while the scheduler was down still runs if it is at most this late")
    shutdown_grace_seconds: float = Field(300, ge=0, description="on SIGTERM, how long a running crawl may finish")
    sources: dict[str, str] = Field(default_factory=dict, description="per-source cron overrides, e.g. arctic_shift = '0 4 * * mon'")
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
    key_file: str = Field("data/pseudonym.key", description="HMAC key file, created 0600 when DFWATCH_PSEUDONYM_KEY is unset")


class RateLimitSettings(_Strict):
    max_retries: int = Field(3, ge=0, le=10, description="retries of one request on 429, 5xx or timeout")
    max_wait_seconds: float = Field(900, ge=0, le=3600, description="longest single wait for a rate-limit reset")
    backoff_seconds: float = Field(2.0, ge=0, le=300, description="first backoff; doubles each retry")
    timeout_seconds: float = Field(30, gt=0, le=600, description="per-request timeout")


class RedditSettings(_Strict):
    lookback_days: float = Field(7, gt=0, le=365, description="how far the first crawl of a subreddit looks back")
    max_pages: int = Field(10, ge=1, le=100, description="listing pages per combined listing per crawl")
    compliance_days: float = Field(30, ge=0, le=3650, description="re-check stored posts younger than this for deletions")


class XSettings(_Strict):
    max_pages: int = Field(5, ge=1, le=100, description="search pages per query per crawl")
    counts_days: int = Field(7, ge=1, le=7, description="days of post counts asked for (recent counts reach 7 days back)")


class GithubSettings(_Strict):
    max_release_pages: int = Field(10, ge=1, le=100, description="release pages per repository (100 releases a page)")


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
    "reddit", "x", "github", "discord", "telegram", "forums", "mastodon", "arctic_shift",
)


@dataclass(frozen=True)
class WatchTarget:
    """A resolved watchlist entry: its community key, policy, nsfw flag and tags."""

    key: CommunityKey
    policy: str  # the entry's own content policy, else the nsfw or default policy
    nsfw: bool | None
    tags: tuple[str, ...]
    content: str | None = None  # the policy the entry names itself, if any
    extra: Mapping[str, Any] = field(default_factory=dict)  # e.g. forum url and engine


@dataclass(frozen=True)
class Config:
    """Everything a crawl needs to know, validated. Credentials are read on demand."""

    directory: Path
    settings: Settings
    watchlist: Watchlist
    tools: tuple[Tool, ...]
    env: Mapping[str, str]

    # -- environment ---------------------------------------------------------------
    @property
    def database_url(self) -> str:
        return self.env.get("DFWATCH_DATABASE_URL") or self.settings.database.url

    def endpoint(self, name: str) -> str:
        """Base URL of a platform, without a trailing slash."""
        if name not in DEFAULT_ENDPOINTS:
            raise KeyError(name)
        override = self.env.get(f"DFWATCH_ENDPOINT_{name.upper()}")
        if not override and name == "reddit_auth":
            # One fake server usually answers both; DESIGN.md: REDDIT_AUTH follows REDDIT.
            override = self.env.get("DFWATCH_ENDPOINT_REDDIT")
        url = override or self.settings.endpoints.get(name) or DEFAULT_ENDPOINTS[name]
        return url.rstrip("/")

    def credential(self, name: str) -> str | None:
        """A credential from the environment, or None. Never log the value."""
        value = self.env.get(name)
        return value if value else None

    def missing_credentials(self, source: str) -> tuple[str, ...]:
        return tuple(v for v in CREDENTIALS.get(source, ()) if not self.credential(v))

    def user_agent(self, platform: str = "python") -> str:
        """Honest User-Agent: `<platform>:dfwatch:<version> (+contact)`."""
        from crawler import __version__

        return f"{platform}:dfwatch:{__version__} (+{self.settings.crawler.contact})"

    @property
    def pseudonym_key_file(self) -> Path:
        return Path(self.settings.privacy.key_file)

    # -- watchlist -----------------------------------------------------------------
    def _policy(self, content: str | None, nsfw: bool | None) -> str:
        if content:
            return content
        if nsfw:
            return self.settings.privacy.nsfw_policy
        return self.settings.privacy.default_policy

    def _targets(self, platform: str, kind: str, entries: tuple[Entry, ...]) -> list[WatchTarget]:
        return [
            WatchTarget(CommunityKey(platform, kind, e.name), self._policy(e.content, e.nsfw),
                        e.nsfw, e.tags, e.content)
            for e in entries
        ]

    def targets(self, source: str) -> list[WatchTarget]:
        """The watchlist entries a source crawls, as community keys with their policy."""
        w = self.watchlist
        if source == "reddit":
            return self._targets("reddit", "subreddit", w.reddit.subreddits)
        if source == "x":
            return (self._targets("x", "account", w.x.accounts)
                    + self._targets("x", "query", w.x.queries))
        if source == "github":
            return self._targets("github", "repo", w.github.repos)
        if source == "discord":
            return self._targets("discord", "server", w.discord.invites)
        if source == "telegram":
            return self._targets("telegram", "channel", w.telegram.channels)
        if source == "arctic_shift":
            return self._targets("reddit", "subreddit", w.arctic_shift.subreddits)
        if source == "forums":
            return [
                WatchTarget(CommunityKey("forum", "forum", f.name or f.url.rstrip("/")),
                            self._policy(f.content, f.nsfw), f.nsfw, f.tags, f.content,
                            {"url": f.url.rstrip("/"), "engine": f.engine})
                for f in w.forums
            ]
        if source == "mastodon":
            return [
                WatchTarget(CommunityKey("mastodon", "hashtag", f"{m.tag}@{_instance_host(m.instance)}"),
                            self._policy(m.content, m.nsfw), m.nsfw, m.tags, m.content,
                            {"instance": m.instance, "tag": m.tag})
                for m in w.mastodon.hashtags
            ]
        raise KeyError(source)

    def all_targets(self) -> list[WatchTarget]:
        """Every watched community, once (Arctic Shift shares reddit's communities)."""
        seen: dict[tuple[str, str, str], WatchTarget] = {}
        for source in SOURCE_NAMES:
            for t in self.targets(source):
                seen.setdefault(t.key.norm, t)
        return list(seen.values())

    @cached_property
    def _targets_by_key(self) -> dict[tuple[str, str, str], WatchTarget]:
        return {t.key.norm: t for t in self.all_targets()}

    def target_for(self, key: CommunityKey) -> WatchTarget | None:
        """The watchlist entry of a community, if it is watched."""
        return self._targets_by_key.get(key.norm)

    def policy_for(self, key: CommunityKey, *, nsfw: bool | None = None) -> str:
        """Content policy for a community; `nsfw` is what the platform says of it, if known.

        The entry's own `content` wins; else NSFW (by the entry or the platform) means the
        nsfw policy; else the default.
        """
        t = self.target_for(key)
        if t and t.content:
            return t.content
        if (t and t.nsfw) or nsfw:
            return self.settings.privacy.nsfw_policy
        return self.settings.privacy.default_policy


# --------------------------------------------------------------------------- loading


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


def config_dir(explicit: str | Path | None = None, env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(explicit or env.get("DFWATCH_CONFIG") or "config")


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", file=str(path)) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        raise ConfigError(f"YAML syntax error: {problem}", file=str(path), entry=where) from None


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# What a mapping of each model should look like, for "expected a mapping" messages.
_SHAPES: dict[str, str] = {
    "Entry": "a name, or a mapping with name and optional content, nsfw, tags",
    "ForumEntry": "a mapping with url and engine (phpbb or discourse)",
    "MastodonTag": "a mapping with instance and tag",
}
_POLICY_FIELDS = frozenset({"content", "default_policy", "nsfw_policy"})
_TYPE_WORDS: dict[str, str] = {
    "bool_type": "true or false", "bool_parsing": "true or false",
    "int_type": "a whole number", "int_parsing": "a whole number", "int_from_float": "a whole number",
    "float_type": "a number", "float_parsing": "a number",
    "string_type": "a string", "tuple_type": "a list", "list_type": "a list",
    "dict_type": "a mapping",
}


def _validation_message(err: Mapping[str, Any], loc: tuple[int | str, ...]) -> str:
    """One plain sentence for a pydantic error: what is wrong and what was given."""
    kind, given = err["type"], err.get("input")
    field_name = loc[-1] if loc else None
    if kind == "extra_forbidden":
        return f"unknown key {field_name!r}" if loc else "unknown key"
    if kind == "missing":
        return f"missing required key {field_name!r}"
    if kind == "literal_error":
        allowed = err.get("ctx", {}).get("expected", "").replace("'", "")
        if field_name in _POLICY_FIELDS:
            return f"unknown content policy {given!r} (known: {allowed.replace(' or ', ', ')})"
        return f"{given!r} is not allowed (expected {allowed})"
    if kind == "model_type":
        cls = err.get("ctx", {}).get("class_name", "")
        return f"expected {_SHAPES.get(cls, 'a mapping')}, got {given!r}"
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        return msg[len("Value error, "):]
    if kind in _TYPE_WORDS:
        return f"expected {_TYPE_WORDS[kind]}, got {given!r}"
    return f"{msg[0].lower()}{msg[1:]}, got {given!r}" if msg else f"invalid value {given!r}"


def _raise_validation(path: Path, exc: ValidationError) -> None:
    """Turn the first pydantic error into a ConfigError naming file, entry and problem."""
    err = exc.errors()[0]
    # Drop pydantic's internal location parts (union branches, validator wrappers).
    loc = tuple(p for p in err["loc"] if isinstance(p, int) or not (
        p in ("str", "Entry") or p.startswith(("function-", "literal[", "nullable["))))
    msg = _validation_message(err, loc)
    if err["type"] == "extra_forbidden" and len(loc) == 1 and path.name == WATCHLIST_FILE:
        msg = f"unknown platform {loc[-1]!r} (known: {', '.join(Watchlist.model_fields)})"
    raise ConfigError(msg, file=str(path), entry=_loc(loc) or None) from None


def _normalise_entries(section: Any) -> Any:
    """A bare string entry means {name: string}; a bare number (YAML reads `- 1234` as an
    integer) is a name too."""
    if isinstance(section, list):
        return [
            {"name": str(e)} if isinstance(e, str | int) and not isinstance(e, bool) else e
            for e in section
        ]
    return section


_NAME_RULES: dict[tuple[str, str], tuple[re.Pattern[str], str]] = {
    ("reddit", "subreddits"): (SUBREDDIT_RE, "a subreddit name is 2-21 letters, digits or _"),
    ("arctic_shift", "subreddits"): (SUBREDDIT_RE, "a subreddit name is 2-21 letters, digits or _"),
    ("x", "accounts"): (X_HANDLE_RE, "an X handle is 1-15 letters, digits or _ (without @)"),
    ("github", "repos"): (GITHUB_REPO_RE, "a GitHub repository is written owner/repo"),
    ("discord", "invites"): (DISCORD_INVITE_RE, "a Discord invite code is 2-32 letters, digits or -"),
    ("telegram", "channels"): (TELEGRAM_CHANNEL_RE, "a Telegram channel name is 5-32 letters, digits or _, starting with a letter"),
}


def _section_model(platform: str) -> type[BaseModel]:
    annotation = Watchlist.model_fields[platform].annotation
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else BaseModel


def _check_watchlist(path: Path, raw: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for platform, section in raw.items():
        if platform not in Watchlist.model_fields:
            raise ConfigError(f"unknown platform {platform!r} (known: {', '.join(Watchlist.model_fields)})", file=str(path), entry=str(platform))
        if section is None:  # a platform whose entries are all commented out
            continue
        if platform == "forums":
            out[platform] = section
            continue
        if not isinstance(section, dict):
            kinds = ", ".join(_section_model(platform).model_fields)
            raise ConfigError(f"expected a mapping of lists ({kinds}), got {section!r}", file=str(path), entry=str(platform))
        sec: dict[str, Any] = {}
        for key, entries in section.items():
            if entries is None:
                entries = []
            if not isinstance(entries, list):
                raise ConfigError(f"expected a list, got {entries!r}", file=str(path), entry=f"{platform}.{key}")
            entries = _normalise_entries(entries) if platform != "mastodon" else entries
            rule = _NAME_RULES.get((platform, key))
            seen: dict[str, int] = {}
            for i, e in enumerate(entries):
                name = e.get("name") if isinstance(e, dict) else None
                if platform == "mastodon" and isinstance(e, dict):
                    name = f"{str(e.get('tag', '')).lstrip('#')}@{e.get('instance')}"
                if isinstance(name, str):
                    if name.lower() in seen:
                        raise ConfigError(f"{name!r} is listed twice (also at {platform}.{key}[{seen[name.lower()]}])",
                                          file=str(path), entry=f"{platform}.{key}[{i}]")
                    seen[name.lower()] = i
                if rule and isinstance(name, str) and not rule[0].match(name):
                    raise ConfigError(f"{name!r} is not a valid name: {rule[1]}", file=str(path), entry=f"{platform}.{key}[{i}]")
                if platform == "x" and key == "queries" and isinstance(name, str) and not name.strip():
                    raise ConfigError("an empty query", file=str(path), entry=f"x.queries[{i}]")
                if platform == "mastodon" and isinstance(e, dict):
                    inst, tag = e.get("instance"), e.get("tag")
                    if isinstance(inst, str) and not HOST_RE.match(_instance_host(inst)):
                        raise ConfigError(f"{inst!r} is not a host name or http(s) URL", file=str(path), entry=f"mastodon.{key}[{i}]")
                    if isinstance(tag, str) and not MASTODON_TAG_RE.match(tag.lstrip("#")):
                        raise ConfigError(f"{tag!r} is not a hashtag", file=str(path), entry=f"mastodon.{key}[{i}]")
                    if isinstance(tag, str):
                        e = {**e, "tag": tag.lstrip("#")}
                        entries[i] = e
            sec[key] = entries
        out[platform] = sec
    forums = out.get("forums")
    if forums is not None:
        if not isinstance(forums, list):
            raise ConfigError("expected a list of {url, engine}", file=str(path), entry="forums")
        for i, f in enumerate(forums):
            url = f.get("url") if isinstance(f, dict) else None
            if isinstance(url, str) and not re.match(r"^https?://[^/\s]+", url):
                raise ConfigError(f"{url!r} is not an http(s) URL", file=str(path), entry=f"forums[{i}]")
    return out


def load_config(directory: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate the three config files; raise ConfigError on the first problem."""
    env = dict(os.environ if env is None else env)
    d = config_dir(directory, env)
    if not d.is_dir():
        raise ConfigError("config directory not found (use --config DIR or $DFWATCH_CONFIG)", file=str(d))

    spath = d / SETTINGS_FILE
    raw_settings: dict[str, Any] = {}
    if spath.exists():
        try:
            raw_settings = tomllib.loads(spath.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"TOML syntax error: {exc}", file=str(spath)) from None
    try:
        settings = Settings.model_validate(raw_settings)
    except ValidationError as exc:
        _raise_validation(spath, exc)
        raise  # unreachable

    wpath = d / WATCHLIST_FILE
    raw_watch = _read_yaml(wpath) or {}
    if not isinstance(raw_watch, dict):
        raise ConfigError("expected a mapping of platforms", file=str(wpath))
    try:
        watchlist = Watchlist.model_validate(_check_watchlist(wpath, raw_watch))
    except ValidationError as exc:
        _raise_validation(wpath, exc)
        raise

    tpath = d / TOOLS_FILE
    raw_tools = _read_yaml(tpath) if tpath.exists() else {"tools": []}
    if isinstance(raw_tools, dict):
        raw_tools = raw_tools.get("tools", [])
    if not isinstance(raw_tools, list):
        raise ConfigError("expected a list of tools (name, aliases, category, repository)", file=str(tpath))
    tools: list[Tool] = []
    names: dict[str, str] = {}  # lower-cased name or alias -> the tool it names
    for i, t in enumerate(raw_tools):
        try:
            tool = Tool.model_validate(t)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = _loc((f"tools[{i}]", *err["loc"])) if err["loc"] else f"tools[{i}]"
            if err["type"] == "model_type":
                msg = f"expected a mapping with name and optional aliases, category, repository, got {err.get('input')!r}"
            else:
                msg = _validation_message(err, tuple(err["loc"]))
            raise ConfigError(msg, file=str(tpath), entry=loc) from None
        for n in dict.fromkeys((tool.name, *tool.aliases)):
            other = names.get(n.lower())
            if other is not None:
                what = "itself" if other == tool.name else f"the tool {other!r}"
                raise ConfigError(f"{n!r} already names {what}; a name or alias may name one tool only",
                                  file=str(tpath), entry=f"tools[{i}]")
            names[n.lower()] = tool.name
        tools.append(tool)

    return Config(directory=d, settings=settings, watchlist=watchlist, tools=tuple(tools), env=env)
