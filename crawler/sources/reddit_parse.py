"""Pure parsers for Reddit API answers: JSON in, records out.

Nothing here talks to the network, so every quirk of Reddit's shapes is tested here:
every field is optional (Reddit has removed fields before: `active_user_count` went in
September 2025), a metric the answer does not carry stays absent (never 0), and a status
reason keeps the platform's own words.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crawler.parsing import epoch_to_utc
from crawler.records import CommunityKey, CommunityObservation, Post

SOURCE_API = "reddit_api"
SOURCE_POST_FIELD = "post_field"
SITE = "https://www.reddit.com"

# t5 fields that become metrics, when present and numeric. `active_user_count` (online
# members) left the API in September 2025; it is still read when an answer carries it.
T5_METRICS: tuple[tuple[str, str], ...] = (
    ("subscribers", "members"),
    ("active_user_count", "online_members"),
    ("weekly_visitors", "weekly_visitors"),
    ("weekly_contributions", "weekly_contributions"),
)

# subreddit_type values that say something about access (others, e.g. public, user,
# gold_restricted, employees_only, mean the community is readable: active).
_TYPE_STATUS = {"private": "private", "restricted": "restricted", "archived": "archived"}

REMOVED = "[removed]"
DELETED = "[deleted]"


class MalformedAnswer(ValueError):
    """An answer that is JSON but not the shape Reddit documents (e.g. no data.children)."""


@dataclass(frozen=True)
class ThingList:
    """The children of a Listing (their `data` objects) and the `after` cursor."""

    children: list[dict[str, Any]]
    after: str | None


def parse_listing(payload: Any, kind: str) -> ThingList:
    """Children of `kind` (t3, t5) from a Listing; raise MalformedAnswer on another shape.

    Children of another kind are skipped: /api/info may mix kinds, and only `kind` was asked.
    """
    if not isinstance(payload, Mapping) or payload.get("kind") != "Listing":
        raise MalformedAnswer(f"expected a Listing, got {_describe(payload)}")
    data = payload.get("data")
    children = data.get("children") if isinstance(data, Mapping) else None
    if not isinstance(children, list):
        raise MalformedAnswer("Listing without data.children")
    things = [
        c["data"]
        for c in children
        if isinstance(c, Mapping) and c.get("kind") == kind and isinstance(c.get("data"), Mapping)
    ]
    after = data.get("after") if isinstance(data, Mapping) else None
    return ThingList(things, after if isinstance(after, str) and after else None)


def _describe(payload: Any) -> str:
    if isinstance(payload, Mapping):
        return f"an object with keys {sorted(payload)[:5]}"
    return type(payload).__name__


def timestamp(value: Any) -> datetime | None:
    """Reddit's epoch seconds (a JSON number; a string is not Reddit's shape) as aware UTC."""
    return epoch_to_utc(value, allow_strings=False)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def status_from_t5(data: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """Status and reason from a subreddit object; (None, None) when it says nothing.

    Quarantine wins over the type (a quarantined subreddit is also public or restricted).
    """
    if data.get("quarantine") is True:
        return "quarantined", "quarantine: true"
    sr_type = data.get("subreddit_type")
    if not isinstance(sr_type, str) or not sr_type:
        return None, None
    return _TYPE_STATUS.get(sr_type, "active"), f"subreddit_type: {sr_type}"


def parse_subreddit(
    data: Mapping[str, Any], key: CommunityKey, observed_at: datetime
) -> CommunityObservation:
    """A t5 subreddit object as one observation: status, description and metrics present."""
    status, reason = status_from_t5(data)
    metrics: dict[str, float] = {}
    for field_name, metric in T5_METRICS:
        value = _number(data.get(field_name))
        if value is not None:
            metrics[metric] = value
    url = _text(data.get("url"))
    return CommunityObservation(
        key=key,
        observed_at=observed_at,
        source=SOURCE_API,
        status=status,
        status_reason=reason,
        external_id=_text(data.get("name")),
        title=_text(data.get("title")),
        url=SITE + url if url and url.startswith("/") else url,
        nsfw=_bool(data.get("over18")),
        created_at=timestamp(data.get("created_utc")),
        metrics=metrics,
    )


def status_from_error(http_status: int, body: Any) -> tuple[str, str]:
    """Status and reason from an /about answer that was 403 or 404.

    Reddit names the cause in `reason` (banned, private, quarantined, gold_only); the
    reason kept is the HTTP status with Reddit's words, e.g. "404 banned".
    """
    reason = body.get("reason") if isinstance(body, Mapping) else None
    words = reason if isinstance(reason, str) and reason else None
    text = f"{http_status} {words}" if words else f"{http_status} (no reason given)"
    message = body.get("quarantine_message") if isinstance(body, Mapping) else None
    if isinstance(message, str) and message.strip():
        text += ": " + " ".join(message.split())[:300]
    if http_status == 404:
        return ("banned" if words == "banned" else "not_found"), text
    if words == "quarantined":
        return "quarantined", text
    # private, gold_only, or an unexplained 403: readable only to members.
    return "private", text


def not_found_from_redirect(location: str) -> tuple[str, str]:
    """An /about that redirects to the subreddit search: the name does not exist."""
    return "not_found", f"redirect to {location}"


def post_state(data: Mapping[str, Any]) -> str:
    """visible, removed or deleted, from a t3's removal fields and placeholder texts."""
    category = data.get("removed_by_category")
    author = data.get("author")
    selftext = data.get("selftext")
    if category in ("deleted", "author") or selftext == DELETED:
        return "deleted"
    if isinstance(category, str) and category:
        return "removed"
    if selftext == REMOVED or data.get("banned_by") not in (None, False, ""):
        return "removed"
    if author == DELETED:
        return "deleted"
    return "visible"


def parse_post(
    data: Mapping[str, Any], key: CommunityKey, *, subreddit_nsfw: bool | None = None
) -> Post | None:
    """A t3 as a raw Post (the enrichment step pseudonymises and applies the policy).

    A post found removed or deleted keeps only its counts: no title, body or author.
    Returns None for an object without an id.
    """
    post_id = _text(data.get("id"))
    if post_id is None:
        return None
    state = post_state(data)
    visible = state == "visible"
    author = _text(data.get("author"))
    is_self = data.get("is_self") is True
    link = _text(data.get("url"))
    permalink = _text(data.get("permalink"))
    over_18 = _bool(data.get("over_18"))
    score = _number(data.get("score"))
    comments = _number(data.get("num_comments"))
    return Post(
        key=key,
        external_id=post_id,
        created_at=timestamp(data.get("created_utc")),
        author=author if visible and author != DELETED else None,
        title=_text(data.get("title")) if visible else None,
        body=_text(data.get("selftext")) if visible else None,
        url=(SITE + permalink if permalink and permalink.startswith("/") else permalink) if visible else None,
        link_url=link if visible and not is_self else None,
        score=int(score) if score is not None else None,
        num_comments=int(comments) if comments is not None else None,
        nsfw=True if (over_18 or subreddit_nsfw) else over_18,
        flair=_text(data.get("link_flair_text")) if visible else None,
        state=state,
    )


def members_from_posts(
    posts: Iterable[Mapping[str, Any]], key: CommunityKey, observed_at: datetime
) -> CommunityObservation | None:
    """The subscriber count posts carry (`subreddit_subscribers`), as a post_field observation.

    The newest post's value wins; None when no post carries one.
    """
    best: tuple[float, float] | None = None  # (created_utc, subscribers)
    for data in posts:
        value = _number(data.get("subreddit_subscribers"))
        created = _number(data.get("created_utc")) or 0.0
        if value is not None and (best is None or created > best[0]):
            best = (created, value)
    if best is None:
        return None
    return CommunityObservation(
        key=key, observed_at=observed_at, source=SOURCE_POST_FIELD, metrics={"members": best[1]}
    )


def chunks(items: list[str], size: int) -> list[list[str]]:
    """`items` in consecutive lists of at most `size`."""
    return [items[i : i + size] for i in range(0, len(items), size)]
