"""The building blocks of watchlist sections, shared by every source's declaration.

A source declares its watchlist section as a pydantic model (`Section`) of entry lists; the
checks of one platform (its naming rules, what counts as a duplicate, how an instance URL is
written) live in that model's validators, not in the loader. This module holds what they
share: the entry shape, the name rule helper, duplicate detection, host checks, and
`WatchTarget`, the resolved entry the rest of dfwatch reads.

It imports nothing of dfwatch's but `crawler.records`, so declarations (crawler.plugins)
can use it without pulling in the config loader.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, ValidationInfo, model_validator

from crawler.records import CommunityKey

Policy = Literal["counts", "metadata", "full"]

MAX_REPR = 80  # characters of a user's input quoted back in an error message


def brief(value: Any) -> str:
    """A bounded repr for error messages: long input is cut, never echoed whole."""
    text = repr(value)
    return text if len(text) <= MAX_REPR else text[: MAX_REPR - 1] + "…"


class Strict(BaseModel):
    """Unknown keys are errors; values are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class EntryError(ValueError):
    """A problem with one entry of a section list, located below the section.

    `where` is the path under the section (e.g. ("subreddits", 2)); `also` names a second
    place (the first spelling of a duplicate). The loader turns both into full entry paths.
    """

    def __init__(self, where: tuple[str | int, ...], message: str, also: tuple[str | int, ...] | None = None):
        super().__init__(message)
        self.where = where
        self.message = message
        self.also = also


class Entry(Strict):
    """One watchlist entry: a name, or a mapping with name, content, nsfw, tags.

    Subclasses set `NAME_RULE` (a pattern the whole name must match, and the sentence that
    says what a valid name is) and may override `identity` (what two entries must not share).
    """

    SHAPE: ClassVar[str] = "a name, or a mapping with name and optional content, nsfw, tags"
    NAME_RULE: ClassVar[tuple[re.Pattern[str], str] | None] = None

    name: str
    content: Policy | None = None
    nsfw: bool | None = None
    tags: tuple[str, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _bare_name(cls, value: Any) -> Any:
        """A bare string is a name; so is a bare number (YAML reads `- 1234` as an integer)."""
        if isinstance(value, str | int) and not isinstance(value, bool):
            return {"name": str(value)}
        return value

    @model_validator(mode="after")
    def _name_rule(self) -> Entry:
        rule = self.NAME_RULE
        if rule and not rule[0].fullmatch(self.name):
            raise ValueError(f"{brief(self.name)} is not a valid name: {rule[1]}")
        return self

    def identity(self) -> str:
        """Two entries of one list with the same identity are duplicates."""
        return self.name.lower()


def named(pattern: str, rule: str, **flags: Any) -> tuple[re.Pattern[str], str]:
    """A naming rule: the whole name must match `pattern` (fullmatch, so no trailing newline)."""
    return re.compile(pattern, flags.get("flags", 0)), rule


class Section(Strict):
    """A watchlist section: lists of entries. `null` lists are empty; duplicates are errors."""

    SHAPE: ClassVar[str] = ""  # "a mapping of lists (a, b)" by default

    @model_validator(mode="before")
    @classmethod
    def _nulls(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: ([] if v is None else v) for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _no_duplicates(self) -> Section:
        for name in type(self).model_fields:
            entries = getattr(self, name)
            if isinstance(entries, tuple):
                check_unique(entries, prefix=(name,))
        return self

    @classmethod
    def shape(cls) -> str:
        return cls.SHAPE or f"a mapping of lists ({', '.join(cls.model_fields)})"


def check_unique(entries: Sequence[Any], prefix: tuple[str | int, ...] = ()) -> None:
    """Raise EntryError at the second of two entries with the same `identity()`."""
    seen: dict[str, int] = {}
    for i, entry in enumerate(entries):
        ident = entry.identity() if hasattr(entry, "identity") else None
        if ident is None:
            continue
        if ident in seen:
            shown = getattr(entry, "name", None) or ident
            raise EntryError((*prefix, i), f"{brief(shown)} is listed twice", also=(*prefix, seen[ident]))
        seen[ident] = i


# --------------------------------------------------------------------------- hosts

HOST_RE = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*\.?(?::\d{1,5})?"
)
_SCHEME_RE = re.compile(r"^https?://", re.IGNORECASE)


def instance_host(instance: str) -> str:
    """`mastodon.social`, `https://mastodon.social/` or `HTTP://Mastodon.Social` -> `mastodon.social`."""
    return _SCHEME_RE.sub("", instance.strip()).rstrip("/").lower()


def is_http_url(url: str) -> bool:
    """An http(s) URL with a host (any case of the scheme)."""
    return bool(re.match(r"^https?://[^/\s?#]+", url, re.IGNORECASE)) and not any(c.isspace() for c in url)


def url_host(url: str) -> str:
    """The host of an http(s) URL, lower case, without port or credentials."""
    rest = _SCHEME_RE.sub("", url.strip())
    hostport = re.split(r"[/?#]", rest, maxsplit=1)[0].rsplit("@", 1)[-1]
    if hostport.startswith("["):
        return hostport[1 : hostport.find("]")].lower()
    return hostport.rsplit(":", 1)[0].lower() if hostport.count(":") == 1 else hostport.lower()


_PRIVATE_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
_METADATA_NAMES = frozenset({"metadata.google.internal", "metadata"})


def literal_private_host(host: str) -> bool:
    """Whether a host *as written* is loopback, link-local, private or a metadata address.

    Names that only resolve there are caught at crawl time (crawler.hostguard); this check
    needs no network, so config loading stays offline.
    """
    h = host.strip().strip("[]").rstrip(".").lower()
    if h in _PRIVATE_NAMES or h in _METADATA_NAMES or h.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(h)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_link_local or ip.is_private or ip.is_unspecified or ip.is_reserved


def refuse_private_host(host: str, info: ValidationInfo | None, what: str) -> None:
    """A watchlist entry may not point the crawler at the operator's own network.

    Loopback, private, link-local and metadata addresses are refused unless the loader says
    `allow_private_hosts` (settings `[crawler] allow_private_hosts = true`: the demo, tests).
    The configured endpoints are the operator's own choice and are not checked here.
    """
    context = info.context if info is not None else None
    if isinstance(context, Mapping) and context.get("allow_private_hosts"):
        return
    if literal_private_host(host):
        raise ValueError(
            f"{what} {brief(host)} is a loopback, private or link-local address; "
            "set [crawler] allow_private_hosts = true in settings.toml to watch it"
        )


# --------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class WatchTarget:
    """A resolved watchlist entry: its community key, policy, nsfw flag and tags."""

    key: CommunityKey
    policy: str  # the entry's own content policy, else the nsfw or default policy
    nsfw: bool | None
    tags: tuple[str, ...]
    content: str | None = None  # the policy the entry names itself, if any
    extra: Mapping[str, Any] = field(default_factory=dict)  # e.g. forum url and engine
    hosts: tuple[str, ...] = ()  # hosts the entry itself names (forum URL, instance, endpoint)


class TargetMaker:
    """Turns entries into WatchTargets, applying the content-policy defaults of settings.toml."""

    def __init__(self, policy: Callable[[str | None, bool | None], str]) -> None:
        self._policy = policy

    def one(
        self,
        platform: str,
        kind: str,
        handle: str,
        entry: Any,
        extra: Mapping[str, Any] | None = None,
        hosts: Iterable[str] = (),
    ) -> WatchTarget:
        content, nsfw = getattr(entry, "content", None), getattr(entry, "nsfw", None)
        return WatchTarget(
            CommunityKey(platform, kind, handle),
            self._policy(content, nsfw),
            nsfw,
            tuple(getattr(entry, "tags", ())),
            content,
            dict(extra or {}),
            tuple(hosts),
        )

    def named(self, platform: str, kind: str, entries: Iterable[Entry]) -> list[WatchTarget]:
        """One target per entry, its handle the entry's name."""
        return [self.one(platform, kind, e.name, e) for e in entries]
