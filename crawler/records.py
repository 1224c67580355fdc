"""The one record vocabulary every source and spider yields.

An API client and a spider are two ways of producing these records; nothing downstream
knows which one produced a row. This module imports nothing of dfwatch's own.

* `CommunityObservation`: what a community looked like at one moment: its status (or None
  when this observation says nothing about status), descriptive fields, and metrics.
* `MetricPoint`: one value of one metric at one time, for series that arrive as history
  (Arctic Shift, daily post-count buckets) rather than as "now".
* `Post`: one post. Sources fill the raw fields (author name, linked URL, text); the
  enrichment step turns them into what may be stored (pseudonym, link domain, mentions,
  policy applied) and sets `enriched`.

All datetimes are timezone-aware UTC.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal, TypeAlias

# Platforms, kinds and metric names are declared by the sources (crawler.plugins: each
# declaration's platform, kinds and metrics) and documented in docs/schema.md; statuses,
# post states and policies are the store's own vocabulary, so they live here.
Status = Literal[
    "active",
    "private",
    "restricted",
    "quarantined",
    "banned",
    "suspended",
    "protected",
    "not_found",
    "archived",
    "blocked",
    "unknown",
]
PostState = Literal["visible", "removed", "deleted"]
ContentPolicy = Literal["counts", "metadata", "full"]

STATUSES: tuple[str, ...] = (
    "active",
    "private",
    "restricted",
    "quarantined",
    "banned",
    "suspended",
    "protected",
    "not_found",
    "archived",
    "blocked",
    "unknown",
)
POST_STATES: tuple[str, ...] = ("visible", "removed", "deleted")
POLICIES: tuple[str, ...] = ("counts", "metadata", "full")

_CLOCK_START = time.monotonic()


def utcnow() -> datetime:
    """The current time, timezone-aware UTC: the one clock every record and cursor uses.

    `DFWATCH_NOW` (ISO 8601) starts the clock at that time instead, moving on from there; the
    simulation (`dfwatch demo`) uses it to crawl simulated days. Production never sets it.
    """
    start = os.environ.get("DFWATCH_NOW")
    if not start:
        return datetime.now(UTC)
    base = datetime.fromisoformat(start)
    if base.tzinfo is None:
        base = base.replace(tzinfo=UTC)
    return base.astimezone(UTC) + timedelta(seconds=time.monotonic() - _CLOCK_START)


@dataclass(frozen=True, slots=True)
class CommunityKey:
    """Identifies one watched community: unique on (platform, kind, handle.lower())."""

    platform: str
    kind: str
    handle: str

    @property
    def norm(self) -> tuple[str, str, str]:
        return (self.platform, self.kind, self.handle.lower())

    def __str__(self) -> str:
        return f"{self.platform}:{self.kind}:{self.handle}"


# Telegram usernames are one namespace across channels, groups and bots: a t.me link is a
# channel until a crawl shows otherwise, and any of these kinds of one name is that name.
SHARED_NAMESPACES: dict[str, tuple[str, ...]] = {"telegram": ("channel", "group", "bot")}


def namespace_key(norm: tuple[str, str, str]) -> tuple[str, str, str]:
    """A normalised key with the kind folded where kinds share names (telegram -> 'channel')."""
    kinds = SHARED_NAMESPACES.get(norm[0])
    if kinds and norm[1] in kinds:
        return (norm[0], kinds[0], norm[2])
    return norm


@dataclass(slots=True)
class CommunityObservation:
    """A community as seen at `observed_at` by `source` (e.g. reddit_api, github_api).

    `status` None means "this observation says nothing about status". `metrics` holds only
    values the platform supplied: a hidden value is absent, never 0.
    """

    key: CommunityKey
    observed_at: datetime
    source: str
    status: str | None = None
    status_reason: str | None = None
    external_id: str | None = None
    title: str | None = None
    url: str | None = None
    nsfw: bool | None = None
    created_at: datetime | None = None
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """One observed value of one metric (history series, daily buckets)."""

    key: CommunityKey
    metric: str
    value: float
    observed_at: datetime
    source: str


@dataclass(slots=True)
class Post:
    """One post under a watched community.

    Raw from a source: `author` is the platform's name or id, `link_url` the linked URL,
    `title`/`body` the text. After `crawler.enrich` (`enriched=True`): `author` is the keyed
    pseudonym (or None), `link_url` is None, `link_domain` set, `mentions` and `links`
    filled, and the content policy applied. The store refuses posts that are not enriched.
    """

    key: CommunityKey
    external_id: str
    created_at: datetime | None = None
    author: str | None = None
    title: str | None = None
    body: str | None = None
    url: str | None = None  # the post's permalink
    link_url: str | None = None  # what the post links to (raw; reduced to link_domain)
    link_domain: str | None = None
    score: int | None = None
    num_comments: int | None = None
    nsfw: bool | None = None
    flair: str | None = None
    state: str = "visible"
    mentions: tuple[str, ...] = ()
    # Communities the post links to (read from title, body and link before the policy drops
    # text; crawler.enrich.community_links): the evidence discovery builds candidates from.
    links: tuple[CommunityKey, ...] = ()
    enriched: bool = False


@dataclass(frozen=True, slots=True)
class PostStateUpdate:
    """A stored post's state as a re-check found it upstream (the deletion sweep).

    `removed` / `deleted`: the store sets the state and erases title, body and author (and
    url) whatever the policy. `visible`: the post was seen visible at `observed_at`; the
    store advances its `last_seen_at` (which the sweep's schedule reads) and nothing else.
    """

    platform: str
    external_id: str
    state: str
    observed_at: datetime


Record: TypeAlias = CommunityObservation | MetricPoint | Post | PostStateUpdate
