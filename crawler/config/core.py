"""The validated config as the rest of dfwatch sees it: `Config` and `WatchTarget`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from crawler.config.models import (
    CREDENTIALS,
    DEFAULT_ENDPOINTS,
    SOURCE_NAMES,
    Entry,
    Settings,
    Tool,
    Watchlist,
    _instance_host,
)
from crawler.records import CommunityKey


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
        """The key file; a relative `[privacy] key_file` is relative to the config directory
        (never to the working directory: a crawl started elsewhere must find the same key)."""
        path = Path(self.settings.privacy.key_file).expanduser()
        return path if path.is_absolute() else Path(os.path.normpath(self.directory / path))

    # -- watchlist -----------------------------------------------------------------
    def _policy(self, content: str | None, nsfw: bool | None) -> str:
        if content:
            return content
        if nsfw:
            return self.settings.privacy.nsfw_policy
        return self.settings.privacy.default_policy

    def _targets(self, platform: str, kind: str, entries: tuple[Entry, ...]) -> list[WatchTarget]:
        return [
            WatchTarget(
                CommunityKey(platform, kind, e.name),
                self._policy(e.content, e.nsfw),
                e.nsfw,
                e.tags,
                e.content,
            )
            for e in entries
        ]

    def targets(self, source: str) -> list[WatchTarget]:
        """The watchlist entries a source crawls, as community keys with their policy."""
        w = self.watchlist
        if source == "reddit":
            return self._targets("reddit", "subreddit", w.reddit.subreddits)
        if source == "x":
            return self._targets("x", "account", w.x.accounts) + self._targets("x", "query", w.x.queries)
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
                WatchTarget(
                    CommunityKey("forum", "forum", f.name or f.url.rstrip("/")),
                    self._policy(f.content, f.nsfw),
                    f.nsfw,
                    f.tags,
                    f.content,
                    {"url": f.url.rstrip("/"), "engine": f.engine},
                )
                for f in w.forums
            ]
        if source == "mastodon":
            return [
                WatchTarget(
                    CommunityKey("mastodon", "hashtag", f"{m.tag}@{_instance_host(m.instance)}"),
                    self._policy(m.content, m.nsfw),
                    m.nsfw,
                    m.tags,
                    m.content,
                    {"instance": m.instance, "tag": m.tag},
                )
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
