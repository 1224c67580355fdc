"""Pure parsers of Hub answers: huggingface_hub's ModelInfo / SpaceInfo in, records out.

huggingface_hub turns the Hub's JSON into `ModelInfo` and `SpaceInfo` objects (fields as the
library names them: `downloads`, `downloads_all_time`, `likes`, `gated`, `disabled`, `tags`,
`created_at`, and the Hub's `_id` kept as an attribute). These functions read those objects
and nothing else, so they are tested on objects built from recorded answers.

What is kept follows crawler.sources.hubs: a title and page URL only where texts are allowed;
never the card (`card_data`: descriptions and trigger words), files, or author names.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from crawler.errors import SourceError
from crawler.records import CommunityKey, CommunityObservation
from crawler.sources.hubs import Hit, Tally

SOURCE = "huggingface_api"
NSFW_TAG = "not-for-all-audiences"  # the Hub's tag for content not suitable for every audience

# `expand`: exactly the properties dfwatch reads (the Hub then sends only these, plus id and
# _id); never cardData (descriptions, trigger words) or siblings (the files).
MODEL_FIELDS = ["createdAt", "disabled", "downloads", "downloadsAllTime", "gated", "likes", "private", "tags"]
SPACE_FIELDS = ["createdAt", "disabled", "likes", "private", "tags"]


class MalformedAnswer(SourceError):
    """A Hub answer that is not the shape huggingface_hub and dfwatch expect."""


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def object_id(info: Any) -> str:
    """The Hub's opaque `_id` (a MongoDB ObjectId); a digest of the repo id where it is absent."""
    oid = getattr(info, "_id", None)
    if isinstance(oid, str) and oid:
        return oid
    return "sha256:" + hashlib.sha256(str(getattr(info, "id", "")).encode()).hexdigest()[:24]


def is_nsfw(info: Any) -> bool:
    tags = getattr(info, "tags", None) or ()
    return NSFW_TAG in tags


def gating(info: Any) -> str | None:
    """The gating in the Hub's words (`gated: auto|manual`), or None for an open repo."""
    gated = getattr(info, "gated", None)
    return f"gated: {gated}" if gated not in (None, False, "false") else None


def _created(info: Any) -> datetime | None:
    created = getattr(info, "created_at", None)
    return created if isinstance(created, datetime) else None


def repo_observation(
    info: Any, key: CommunityKey, observed_at: datetime, *, texts: bool, web_url: str
) -> CommunityObservation:
    """A model or space found: status active (gating in the reason), its figures.

    `texts`: whether the title (the repo id) and page URL may be kept (crawler.sources.hubs).
    """
    if getattr(info, "id", None) is None:
        raise MalformedAnswer("malformed answer: no id", target=str(key))
    metrics: dict[str, float] = {}
    for metric, attr in (
        ("downloads", "downloads"),
        ("downloads_total", "downloads_all_time"),
        ("likes", "likes"),
    ):
        value = _number(getattr(info, attr, None))
        if value is not None:
            metrics[metric] = value
    status, reason = "active", gating(info)
    if getattr(info, "disabled", None) is True:  # listed or answered, yet disabled: trust the flag
        status, reason = "blocked", "disabled"
    return CommunityObservation(
        key=key,
        observed_at=observed_at,
        source=SOURCE,
        status=status,
        status_reason=reason,
        external_id=object_id(info),
        title=str(info.id) if texts else None,
        url=f"{web_url}/{info.id}" if texts else None,
        nsfw=is_nsfw(info),
        created_at=_created(info),
        metrics=metrics,
    )


def gone_observation(
    key: CommunityKey, observed_at: datetime, status: str, reason: str
) -> CommunityObservation:
    """A model or space the Hub refuses: `blocked` (disabled) or `not_found` (404), in its words."""
    return CommunityObservation(
        key=key, observed_at=observed_at, source=SOURCE, status=status, status_reason=reason
    )


def hit(info: Any) -> Hit:
    """A listed model as a search hit (ids and counts only)."""
    return Hit(
        model_id=object_id(info),
        created_at=_created(info),
        downloads=_number(getattr(info, "downloads", None)),
        downloads_total=_number(getattr(info, "downloads_all_time", None)),
        likes=_number(getattr(info, "likes", None)),
        comments=None,
        nsfw=is_nsfw(info),
    )


def author_tally(models: Iterable[Any], spaces: Iterable[Any]) -> Tally:
    """An author's public models and spaces: how many, and their downloads and likes summed."""
    t = Tally()
    for m in models:
        t.models += 1
        t.add(
            downloads=_number(getattr(m, "downloads", None)),
            downloads_total=_number(getattr(m, "downloads_all_time", None)),
            likes=_number(getattr(m, "likes", None)),
        )
    for s in spaces:
        t.spaces += 1
        t.add(likes=_number(getattr(s, "likes", None)))
    return t


def server_words(exc: Any, fallback: str) -> str:
    """The Hub's own message of an error (X-Error-Message, body `error`), first line, bounded."""
    message = getattr(exc, "server_message", None) or ""
    first = message.strip().splitlines()[0] if message.strip() else fallback
    return first[:300]
