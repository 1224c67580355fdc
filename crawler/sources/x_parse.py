"""Pure parsers for X API v2 answers: JSON in, records out.

Kept apart from `crawler.sources.x` (which fetches) so every shape the platform sends can be
tested without a server. Shapes follow the X API v2 documentation and the recordings in
`../shared/fixtures/recorded/x`:

* `/2/users/by` answers 200 with `data` (found users) and an `errors` list for the others:
  suspended users as `{"title": "Forbidden", "detail": "User has been suspended: [name].",
  "value": "name", ...}`, unknown ones as `{"title": "Not Found Error", "detail": "Could not
  find user with usernames: [name].", ...}`. Both carry the resource-not-found type.
* `/2/tweets/counts/recent` answers `data: [{start, end, tweet_count}]`; the first bucket
  starts wherever the window starts (mid-day), the last ends now.
* `/2/tweets/search/recent` answers `data` (newest first) and `meta.next_token`.

Every parser checks the shape it walks and raises `MalformedAnswer` on another one (`data`
not a list, an entry not an object, a post or user without its id): the caller fails that one
request's target and goes on, instead of a TypeError stopping all of X or a wrong shape
silently reading as "nothing there". An absent `data` is a valid empty answer (X omits it when
nothing matched).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crawler.errors import SourceError
from crawler.parsing import iso_to_utc
from crawler.records import CommunityKey, CommunityObservation, MetricPoint, Post

SOURCE = "x_api"
PROFILE_URL = "https://x.com/{username}"
STATUS_URL = "https://x.com/i/web/status/{id}"

# public_metrics field -> our metric name (docs/schema.md).
USER_METRICS: dict[str, str] = {
    "followers_count": "members",
    "tweet_count": "posts_total",
    "following_count": "following",
    "listed_count": "listed",
}


class MalformedAnswer(SourceError):
    """An answer that is JSON but not the shape X documents; fails one request's target."""


def _describe(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _entries(body: Any, field: str) -> list[Mapping[str, Any]]:
    """`body[field]` as a list of objects; absent means empty; any other shape is malformed."""
    if not isinstance(body, Mapping):
        raise MalformedAnswer(f"malformed answer: expected a JSON object, got {_describe(body)}")
    if field not in body:
        return []
    items = body[field]
    if not isinstance(items, list):
        raise MalformedAnswer(f"malformed answer: `{field}` is {_describe(items)}, expected a list")
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise MalformedAnswer(
                f"malformed answer: `{field}[{i}]` is {_describe(item)}, expected an object"
            )
    return items


def _numeric_id(value: Any) -> str | None:
    """A snowflake id as its decimal string (X sends strings), or None if it is not one."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value)
    return text if text.isdigit() else None


# --------------------------------------------------------------------------- accounts


def user_status_from_error(error: Mapping[str, Any]) -> str | None:
    """The community status an entry of the `errors` list proves, or None if it proves none.

    X gives suspended and unknown users the same resource-not-found `type`; only the title
    and the detail text tell them apart.
    """
    detail = str(error.get("detail") or "").lower()
    title = str(error.get("title") or "").lower()
    if "suspended" in detail:
        return "suspended"
    if title == "not found error" or "could not find" in detail:
        return "not_found"
    return None


def _error_handle(error: Mapping[str, Any]) -> str | None:
    for field in ("value", "resource_id"):
        v = error.get(field)
        if isinstance(v, str) and v:
            return v
    return None


@dataclass(frozen=True)
class UsersResult:
    """What one `/2/users/by` answer says: observations, plus what it could not explain."""

    observations: list[CommunityObservation]
    unexplained: list[tuple[str, str]]  # (handle, detail) of errors that prove no status
    missing: list[str]  # requested handles the answer does not mention at all
    returned: tuple[str, ...] = ()  # handles (lower case) X sent as data: what X bills


def user_observation(
    key: CommunityKey, user: Mapping[str, Any], observed_at: datetime
) -> CommunityObservation:
    """One found user: status active or protected, and its public metrics."""
    metrics: dict[str, float] = {}
    public = user.get("public_metrics")
    if isinstance(public, Mapping):
        for field, metric in USER_METRICS.items():
            v = public.get(field)
            if isinstance(v, int | float) and not isinstance(v, bool):
                metrics[metric] = float(v)
    username = user.get("username") or key.handle
    return CommunityObservation(
        key=key,
        observed_at=observed_at,
        source=SOURCE,
        status="protected" if user.get("protected") is True else "active",
        external_id=str(user["id"]) if user.get("id") is not None else None,
        title=user.get("name") if isinstance(user.get("name"), str) else None,
        url=PROFILE_URL.format(username=username),
        created_at=iso_to_utc(user.get("created_at")),
        metrics=metrics,
    )


def parse_users(body: Any, keys: Sequence[CommunityKey], observed_at: datetime) -> UsersResult:
    """Turn one `/2/users/by` answer into observations of the requested account `keys`.

    Matching is case-insensitive (X handles are); the watchlist's spelling is kept. Raises
    MalformedAnswer when `data` or `errors` is not a list of objects or a user lacks its id or
    username (X always sends both).
    """
    users = _entries(body, "data")
    errors = _entries(body, "errors")
    for i, user in enumerate(users):
        if _numeric_id(user.get("id")) is None or not isinstance(user.get("username"), str):
            raise MalformedAnswer(f"malformed answer: `data[{i}]` has no id or username")
    by_handle = {k.handle.lower(): k for k in keys}
    seen: set[str] = set()
    observations: list[CommunityObservation] = []
    unexplained: list[tuple[str, str]] = []
    for user in users:
        handle = str(user["username"]).lower()
        key = by_handle.get(handle)
        if key is None or handle in seen:
            continue
        seen.add(handle)
        observations.append(user_observation(key, user, observed_at))
    for error in errors:
        name = _error_handle(error)
        key = by_handle.get(name.lower()) if name else None
        if key is None or key.handle.lower() in seen:
            continue
        status = user_status_from_error(error)
        detail = str(error.get("detail") or error.get("title") or error.get("message") or "error")
        if status is None:
            unexplained.append((key.handle, detail))
            continue
        seen.add(key.handle.lower())
        observations.append(
            CommunityObservation(
                key=key,
                observed_at=observed_at,
                source=SOURCE,
                status=status,
                status_reason=detail,
            )
        )
    returned = tuple(str(u["username"]).lower() for u in users)
    mentioned = seen | {h.lower() for h, _d in unexplained}
    missing = [k.handle for k in keys if k.handle.lower() not in mentioned]
    return UsersResult(observations, unexplained, missing, returned)


# --------------------------------------------------------------------------- counts


def is_day_start(dt: datetime) -> bool:
    return (dt.hour, dt.minute, dt.second, dt.microsecond) == (0, 0, 0, 0)


def parse_counts(body: Any, key: CommunityKey) -> list[MetricPoint]:
    """Daily buckets of `/2/tweets/counts/recent` as `posts_per_day`, observed at their start.

    A bucket that does not start at midnight UTC covers part of a day only (the window's
    first bucket) and is dropped: stored, it would read as a quiet day. The last bucket (today,
    still filling) is kept; crawling again updates the same (day, metric) row. A bucket without
    a readable start or count makes the answer malformed: skipping it would store a gap.
    """
    points: list[MetricPoint] = []
    for i, bucket in enumerate(_entries(body, "data")):
        start = iso_to_utc(bucket.get("start"))
        count = bucket.get("tweet_count")
        if start is None or not isinstance(count, int) or isinstance(count, bool):
            raise MalformedAnswer(f"malformed answer: `data[{i}]` has no readable start or tweet_count")
        if not is_day_start(start):
            continue
        points.append(
            MetricPoint(key=key, metric="posts_per_day", value=float(count), observed_at=start, source=SOURCE)
        )
    return points


# --------------------------------------------------------------------------- search


def _link_entities(tweet: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """The post's `entities.urls` that are links: attached media (a media_key) are not."""
    entities = tweet.get("entities")
    if not isinstance(entities, Mapping):
        return
    for url in entities.get("urls") or ():
        if isinstance(url, Mapping) and not url.get("media_key"):
            yield url


def _link_url(tweet: Mapping[str, Any]) -> str | None:
    """The first URL the post links to."""
    for url in _link_entities(tweet):
        target = url.get("unwound_url") or url.get("expanded_url") or url.get("url")
        if isinstance(target, str) and target:
            return target
    return None


def _expanded_text(tweet: Mapping[str, Any]) -> str | None:
    """The post's text with each t.co link replaced by the URL it stands for.

    X shortens every link of a text to t.co and gives the real one in `entities.urls`
    (`unwound_url` where the expansion was asked for, else `expanded_url`). Link reading
    (crawler.enrich) runs on the text before the content policy drops it, so without this
    only the first URL (`link_url`) would name a community; the second t.co link would not.
    Media entities stay as they are (they are attachments, not links).
    """
    text = tweet.get("text")
    if not isinstance(text, str):
        return None
    for url in _link_entities(tweet):
        short = url.get("url")
        target = url.get("unwound_url") or url.get("expanded_url")
        if isinstance(short, str) and short and isinstance(target, str) and target:
            text = text.replace(short, target)
    return text


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def tweet_post(key: CommunityKey, tweet: Mapping[str, Any]) -> Post:
    """One search result as a raw Post under the query's community.

    The text goes to `body` (a tweet has no title) with its t.co links expanded, so the default
    `metadata` policy keeps only its tool mentions and the communities it links to; `author` is the author id, pseudonymised by the enricher.
    """
    tid = _numeric_id(tweet.get("id"))
    if tid is None:
        raise MalformedAnswer(f"malformed answer: a post without a numeric id ({tweet.get('id')!r})")
    raw_metrics = tweet.get("public_metrics")
    metrics: Mapping[str, Any] = raw_metrics if isinstance(raw_metrics, Mapping) else {}
    sensitive = tweet.get("possibly_sensitive")
    author = tweet.get("author_id")
    return Post(
        key=key,
        external_id=tid,
        created_at=iso_to_utc(tweet.get("created_at")),
        author=str(author) if author is not None else None,
        body=_expanded_text(tweet),
        url=STATUS_URL.format(id=tid),
        link_url=_link_url(tweet),
        score=_int(metrics.get("like_count")),
        num_comments=_int(metrics.get("reply_count")),
        nsfw=sensitive if isinstance(sensitive, bool) else None,
    )


@dataclass(frozen=True)
class SearchPage:
    """One `/2/tweets/search/recent` page: its posts and the token of the next page."""

    posts: list[Post]
    next_token: str | None

    @property
    def newest_id(self) -> int | None:
        """The largest post id on the page (ids are numeric; compared as numbers)."""
        return max((int(p.external_id) for p in self.posts), default=None)

    @property
    def oldest_id(self) -> int | None:
        return min((int(p.external_id) for p in self.posts), default=None)


def parse_search(body: Any, key: CommunityKey) -> SearchPage:
    """The posts of one `/2/tweets/search/recent` page and `meta.next_token`.

    Raises MalformedAnswer when `data` is not a list of objects, a post has no numeric id, or
    `meta` (or its next_token) has another shape: a page that cannot be read must not end the
    pagination as if it were the last one.
    """
    posts = [tweet_post(key, t) for t in _entries(body, "data")]
    meta = body.get("meta")
    if meta is None:
        return SearchPage(posts, None)
    if not isinstance(meta, Mapping):
        raise MalformedAnswer(f"malformed answer: `meta` is {_describe(meta)}, expected an object")
    token = meta.get("next_token")
    if token is not None and not isinstance(token, str):
        raise MalformedAnswer(f"malformed answer: `meta.next_token` is {_describe(token)}, expected a string")
    return SearchPage(posts, token or None)


# --------------------------------------------------------------------------- problems


def problem_message(status: int, body: Any, reason: str = "") -> str:
    """The platform's own words for a refused request, e.g. a 403 for a plan without access.

    X answers v2 problems as `{"title", "detail", "type", "reason"}`; older paths as
    `{"errors": [{"message", "code"}]}`. Falls back to the HTTP status line.
    """
    parts: list[str] = [f"HTTP {status}" + (f" {reason}" if reason else "")]
    why = ""
    if isinstance(body, Mapping):
        title, detail = body.get("title"), body.get("detail")
        if isinstance(title, str) and title and title != reason:
            parts.append(title)
        if isinstance(detail, str) and detail and detail != title:
            parts.append(detail)
        errors: Iterable[Any] = body.get("errors") or ()
        for e in errors:
            if isinstance(e, Mapping) and isinstance(e.get("message"), str):
                parts.append(e["message"])
        if isinstance(body.get("reason"), str):
            why = f" (reason: {body['reason']})"
    return ": ".join(parts) + why
