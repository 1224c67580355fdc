"""The validated config as the rest of dfwatch sees it: `Config` and `WatchTarget`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from crawler.config.models import CoreSettings, Tool, source_settings
from crawler.entries import TargetMaker, WatchTarget
from crawler.plugins import declared, endpoints, spec
from crawler.records import CommunityKey

__all__ = ["Config", "WatchTarget"]


@dataclass(frozen=True)
class Config:
    """Everything a crawl needs to know, validated. Credentials are read on demand.

    `directory` is None when a command runs without a config directory (on the defaults
    and the environment); `files` are the config files as loaded, in order.
    """

    directory: Path | None
    settings: CoreSettings
    watchlist: BaseModel
    tools: tuple[Tool, ...]
    env: Mapping[str, str]
    files: tuple[Path, ...] = ()

    # -- environment ---------------------------------------------------------------
    @property
    def database_url(self) -> str:
        return self.env.get("DFWATCH_DATABASE_URL") or self.settings.database.url

    @property
    def broker_url(self) -> str | None:
        """The shard queue's Redis URL (DFWATCH_BROKER_URL, else `[cluster] broker`), or None.

        It may hold a password: never log it (crawler.logsafe strips it from what is shown).
        """
        return self.env.get("DFWATCH_BROKER_URL") or self.settings.cluster.broker

    def endpoint(self, name: str) -> str:
        """Base URL of a platform, without a trailing slash.

        DFWATCH_ENDPOINT_<NAME>, else `[endpoints] name`, else the declared default; an
        endpoint that `follows` another (REDDIT_AUTH follows REDDIT) takes that one's
        environment override when it has none of its own.
        """
        declared_endpoints = endpoints()
        if name not in declared_endpoints:
            raise KeyError(name)
        override = self.env.get(f"DFWATCH_ENDPOINT_{name.upper()}")
        follows = declared_endpoints[name].follows
        if not override and follows:
            override = self.env.get(f"DFWATCH_ENDPOINT_{follows.upper()}")
        url = override or self.settings.endpoints.get(name) or declared_endpoints[name].default
        return url.rstrip("/")

    def credential(self, name: str) -> str | None:
        """A credential from the environment, or None. Never log the value."""
        value = self.env.get(name)
        return value if value else None

    def missing_credentials(self, source: str) -> tuple[str, ...]:
        return tuple(v for v in spec(source).required_env if not self.credential(v))

    def user_agent(self, platform: str = "python") -> str:
        """Honest User-Agent: `<platform>:dfwatch:<version> (+contact)`."""
        from crawler import __version__

        return f"{platform}:dfwatch:{__version__} (+{self.settings.crawler.contact})"

    @property
    def pseudonym_key_file(self) -> Path:
        """The key file; a relative `[privacy] key_file` is relative to the config directory
        (never to the working directory: a crawl started elsewhere must find the same key)."""
        path = Path(self.settings.privacy.key_file).expanduser()
        base = self.directory if self.directory is not None else Path("config")
        return path if path.is_absolute() else Path(os.path.normpath(base / path))

    def source_settings(self, name: str) -> Any:
        """The `[<name>]` settings of a source (see crawler.config.models.source_settings)."""
        return source_settings(self.settings, name)

    # -- watchlist -----------------------------------------------------------------
    def _policy(self, content: str | None, nsfw: bool | None) -> str:
        if content:
            return content
        if nsfw:
            return self.settings.privacy.nsfw_policy
        return self.settings.privacy.default_policy

    @cached_property
    def _by_source(self) -> dict[str, list[WatchTarget]]:
        maker = TargetMaker(self._policy)
        return {
            s.name: s.targets_of(getattr(self.watchlist, s.section_name, None), maker) for s in declared()
        }

    def targets(self, source: str) -> list[WatchTarget]:
        """The watchlist entries a source crawls, as community keys with their policy."""
        if source not in self._by_source:
            raise KeyError(source)
        return list(self._by_source[source])

    def all_targets(self) -> list[WatchTarget]:
        """Every watched community, once (Arctic Shift shares reddit's communities)."""
        seen: dict[tuple[str, str, str], WatchTarget] = {}
        for targets in self._by_source.values():
            for t in targets:
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
