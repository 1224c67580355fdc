"""What the two model-hub sources (Hugging Face, Civitai) share: the ethics rule and the tallies.

Likeness models name real people, most of them victims (docs/ethics.md). So:

* a model's title and page URL are kept only where its content policy is not `counts`
  (`texts_allowed`); an NSFW model (by the platform's own flag) falls under `counts` by default;
  descriptions, trigger words, creator names and image URLs are never read into a record;
* a search is stored as counts (how many models match, their downloads) and as one post per
  model found, carrying ids, times and counts only (`hit`): the post's id is the model's opaque
  platform id, scoped to the query (`search_post_id`), never its name.

Nothing here fetches: these are pure helpers for the fetchers and their parsers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from crawler.records import CommunityKey, CommunityObservation, Post

POST_ID_MAX = 128  # posts.external_id is a String(128)


def query_tag(handle: str) -> str:
    """Eight hex characters that stand for a query (its normalised handle) in its posts' ids."""
    return hashlib.sha256(" ".join(handle.split()).lower().encode()).hexdigest()[:8]


def search_post_id(handle: str, model_id: str) -> str:
    """`<query tag>:<model id>`: one post per (query, model), so each query keeps its own first
    and last sighting of a model (`posts.first_seen_at`, `last_seen_at`) even where two queries
    find the same one. `substr(external_id, 10)` is the model's id."""
    out = f"{query_tag(handle)}:{model_id}"
    if len(out) <= POST_ID_MAX:
        return out
    return f"{query_tag(handle)}:sha256:{hashlib.sha256(model_id.encode()).hexdigest()}"


@dataclass(frozen=True)
class Hit:
    """One model a search found: only what a `counts` post may hold."""

    model_id: str  # the platform's opaque id (Hub `_id`, Civitai's number), never the name
    created_at: datetime | None
    downloads: float | None  # Hub only: the 30-day count
    downloads_total: float | None
    likes: float | None
    comments: float | None
    nsfw: bool | None


@dataclass
class Tally:
    """Counts over a listing: how many models, and the sums of their figures (None: none known)."""

    models: int = 0
    spaces: int = 0
    sums: dict[str, float] = field(default_factory=dict)

    def add(self, **figures: float | None) -> None:
        for name, value in figures.items():
            if value is not None:
                self.sums[name] = self.sums.get(name, 0.0) + float(value)

    def metrics(self, *, spaces: bool = False) -> dict[str, float]:
        out: dict[str, float] = {"models": float(self.models), **self.sums}
        if spaces:
            out["spaces"] = float(self.spaces)
        return out


def tally_hits(hits: Iterable[Hit]) -> Tally:
    t = Tally()
    for h in hits:
        t.models += 1
        t.add(downloads=h.downloads, downloads_total=h.downloads_total, likes=h.likes, comments=h.comments)
    return t


def hit_posts(key: CommunityKey, hits: Iterable[Hit]) -> list[Post]:
    """A search's posts: ids, creation times, likes as score, comments; no text, no author, no URL."""
    return [
        Post(
            key=key,
            external_id=search_post_id(key.handle, h.model_id),
            created_at=h.created_at,
            score=int(h.likes) if h.likes is not None else None,
            num_comments=int(h.comments) if h.comments is not None else None,
            nsfw=h.nsfw,
        )
        for h in hits
    ]


def search_observation(
    key: CommunityKey, observed_at: datetime, source: str, tally: Tally | None
) -> CommunityObservation:
    """A search is always `active` (a query cannot be banned); its figures only from a whole listing."""
    return CommunityObservation(
        key=key,
        observed_at=observed_at,
        source=source,
        status="active",
        metrics=tally.metrics() if tally is not None else {},
    )


def texts_allowed(policy: str) -> bool:
    """Whether a model's title and page URL may be stored under this content policy."""
    return policy != "counts"
