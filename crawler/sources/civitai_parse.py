"""Pure parsers of Civitai's REST API answers: JSON in, records out.

Shapes from Civitai's developer docs (site/reference/models.md) and REST API reference: a model
has `id`, `name`, `nsfw`, `mode` (null, `Archived`, `TakenDown`), `stats` (`downloadCount`,
`thumbsUpCount`, `commentCount`) and `modelVersions` (`publishedAt`); a list answer is
`{"items": [...], "metadata": {"nextCursor": ...}}`. Every field is treated as optional.

Read and dropped at once: `description`, `creator`, `modelVersions[].trainedWords`, `files`,
`images` (texts naming people, creator names, file and image URLs); see crawler.sources.hubs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from crawler.errors import SourceError
from crawler.records import CommunityKey, CommunityObservation
from crawler.sources.hubs import Hit

SOURCE = "civitai_api"
MODES = {"TakenDown": "blocked", "Archived": "archived"}  # DESIGN.md: TakenDown is blocked


class MalformedAnswer(SourceError):
    """An answer that is not the shape Civitai documents."""


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def model_id(item: Any, target: str) -> int:
    if not isinstance(item, dict) or isinstance(item.get("id"), bool) or not isinstance(item.get("id"), int):
        raise MalformedAnswer("malformed answer: a model without a numeric id", target=target)
    return int(item["id"])


def first_published(item: dict[str, Any]) -> datetime | None:
    """The model's creation time as the API shows it: its earliest version's publication."""
    times = [
        t
        for v in item.get("modelVersions") or ()
        if isinstance(v, dict)
        for t in (_time(v.get("publishedAt")) or _time(v.get("createdAt")),)
        if t is not None
    ]
    return min(times) if times else _time(item.get("createdAt"))


def stats(item: dict[str, Any]) -> dict[str, float]:
    raw = item.get("stats")
    if not isinstance(raw, dict):
        raw = {}
    out: dict[str, float] = {}
    for metric, field in (
        ("downloads_total", "downloadCount"),
        ("likes", "thumbsUpCount"),
        ("comments", "commentCount"),
    ):
        value = _number(raw.get(field))
        if value is not None:
            out[metric] = value
    return out


def nsfw_of(item: dict[str, Any]) -> bool | None:
    value = item.get("nsfw")
    return value if isinstance(value, bool) else None


def sensitive(item: dict[str, Any]) -> bool:
    """NSFW, or `poi` (a real person): either way the content policy for NSFW entries applies."""
    return nsfw_of(item) is True or item.get("poi") is True


def model_observation(
    item: Any, key: CommunityKey, observed_at: datetime, *, texts: bool, web_url: str
) -> CommunityObservation:
    """A model Civitai answered for: status from `mode`, its counts; its name only if `texts`."""
    mid = model_id(item, str(key))
    mode = item.get("mode")
    status = MODES.get(mode, "active") if isinstance(mode, str) else "active"
    name = item.get("name")
    return CommunityObservation(
        key=key,
        observed_at=observed_at,
        source=SOURCE,
        status=status,
        status_reason=mode if status != "active" else None,
        external_id=str(mid),
        title=name if texts and isinstance(name, str) else None,
        url=f"{web_url}/models/{mid}" if texts else None,
        nsfw=nsfw_of(item),
        created_at=first_published(item),
        metrics=stats(item),
    )


def gone_observation(key: CommunityKey, observed_at: datetime, body: Any) -> CommunityObservation:
    """A 404: `not_found`, with Civitai's own sentence ("No model with id N")."""
    words = body.get("error") if isinstance(body, dict) else None
    reason = words[:300] if isinstance(words, str) and words else "HTTP 404"
    return CommunityObservation(
        key=key, observed_at=observed_at, source=SOURCE, status="not_found", status_reason=reason
    )


def page(body: Any, target: str) -> tuple[list[dict[str, Any]], str | None]:
    """A list answer's items and its next cursor (None on the last page)."""
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        raise MalformedAnswer("malformed answer: no items list", target=target)
    items = body["items"]
    for item in items:
        model_id(item, target)
    meta = body.get("metadata")
    cursor = meta.get("nextCursor") if isinstance(meta, dict) else None
    return items, (str(cursor) if cursor not in (None, "") else None)


def hit(item: dict[str, Any]) -> Hit:
    figures = stats(item)
    return Hit(
        model_id=str(item["id"]),
        created_at=first_published(item),
        downloads=None,
        downloads_total=figures.get("downloads_total"),
        likes=figures.get("likes"),
        comments=figures.get("comments"),
        nsfw=nsfw_of(item),
    )
