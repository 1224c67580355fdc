"""Pure parsers for Bluesky's XRPC answers (app.bsky lexicons): JSON in, records out.

The source hands these the SDK's validated answers turned back into the lexicon's JSON
(`get_model_as_dict`: camelCase keys, as the AppView sends them). Shapes follow the
lexicons (`app.bsky.actor.getProfiles`, `app.bsky.actor.defs#profileViewDetailed`,
`app.bsky.feed.searchPosts`, `app.bsky.feed.getPosts`, `app.bsky.feed.defs#postView`) and
the AppView's own view snapshots (bluesky-social/atproto,
packages/bsky/tests/views/__snapshots__/profile.test.ts.snap and posts.test.ts.snap).

* `getProfiles` answers only the profiles it can show: an account taken down, deactivated
  or unknown is simply absent. `getProfile` on one of those answers 400 with an XRPC error
  body, `{"error": "AccountTakedown", "message": "Account has been suspended"}`,
  `{"error": "AccountDeactivated", "message": "Account is deactivated"}` or
  `{"error": "InvalidRequest", "message": "Profile not found"}`: those words are the
  status reason.
* A post's identity is its AT-URI (`at://<did>/app.bsky.feed.post/<rkey>`), which getPosts
  takes back for the deletion sweep; its author is the DID (pseudonymised at ingest).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crawler.errors import SourceError
from crawler.parsing import iso_to_utc
from crawler.records import CommunityKey, CommunityObservation, Post

SOURCE = "bluesky_api"
PROFILE_URL = "https://bsky.app/profile/{actor}"
POST_URL = "https://bsky.app/profile/{did}/post/{rkey}"
POST_COLLECTION = "app.bsky.feed.post"
MAX_EXTERNAL_ID = 128  # posts.external_id is a String(128)

# Label values that mark adult content (Bluesky's moderation labeler and self-labels).
ADULT_LABELS = frozenset({"porn", "sexual", "nudity", "graphic-media"})

# XRPC error names of getProfile → our status (docs/schema.md). The message is the reason.
ERROR_STATUS: dict[str, str] = {
    "AccountTakedown": "suspended",  # taken down (suspended) by Bluesky's moderation
    "RepoTakendown": "suspended",
    "AccountDeactivated": "not_found",  # switched off by its owner (it may come back)
    "RepoDeactivated": "not_found",
}


class MalformedAnswer(SourceError):
    """An answer whose shape is not the lexicon's."""


def _list(body: Any, field: str) -> list[Mapping[str, Any]]:
    if not isinstance(body, Mapping):
        raise MalformedAnswer(f"malformed answer: expected a JSON object, got {type(body).__name__}")
    value = body.get(field)
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise MalformedAnswer(f"malformed answer: `{field}` is not a list of objects")
    return value


def _obj(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _count(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _labels(*sources: Any) -> set[str]:
    """Label values on a view (`labels: [{val}]`) or a record's self-labels (`{values: [{val}]}`)."""
    out: set[str] = set()
    for labels in sources:
        if isinstance(labels, Mapping):
            labels = labels.get("values")
        for label in labels or ():
            if isinstance(label, Mapping) and isinstance(label.get("val"), str):
                out.add(label["val"])
    return out


# --------------------------------------------------------------------------- profiles


@dataclass(frozen=True)
class ProfilesResult:
    observations: list[CommunityObservation]
    missing: list[CommunityKey]  # requested accounts the answer leaves out


def profile_observation(
    key: CommunityKey, profile: Mapping[str, Any], observed_at: datetime
) -> CommunityObservation:
    """One shown profile: active, followers as members, posts as posts_total."""
    metrics: dict[str, float] = {}
    for field, metric in (("followersCount", "members"), ("postsCount", "posts_total")):
        value = _count(profile.get(field))
        if value is not None:
            metrics[metric] = value
    did = profile.get("did") if isinstance(profile.get("did"), str) else None
    labels = _labels(profile.get("labels"))
    name = profile.get("displayName")
    return CommunityObservation(
        key=key,
        observed_at=observed_at,
        source=SOURCE,
        status="active",
        external_id=did,
        title=name.strip() if isinstance(name, str) and name.strip() else profile.get("handle"),
        url=PROFILE_URL.format(actor=did or key.handle),
        nsfw=True if labels & ADULT_LABELS else None,
        created_at=iso_to_utc(profile.get("createdAt")),
        metrics=metrics,
    )


def parse_profiles(body: Any, keys: Sequence[CommunityKey], observed_at: datetime) -> ProfilesResult:
    """One getProfiles answer → observations of the requested accounts, and those left out.

    A profile matches an account by handle or by DID (the watchlist may name either), case
    insensitively; the watchlist's spelling stays the handle.
    """
    profiles = _list(body, "profiles")
    wanted = {k.handle.lower(): k for k in keys}
    seen: set[str] = set()
    observations = []
    for i, profile in enumerate(profiles):
        if not isinstance(profile.get("did"), str) or not isinstance(profile.get("handle"), str):
            raise MalformedAnswer(f"malformed answer: `profiles[{i}]` has no did or handle")
        for name in (profile["handle"].lower(), profile["did"].lower()):
            key = wanted.get(name)
            if key is not None and name not in seen:
                seen.add(name)
                observations.append(profile_observation(key, profile, observed_at))
    missing = [k for k in keys if k.handle.lower() not in seen]
    return ProfilesResult(observations, missing)


def status_from_error(body: Any) -> tuple[str, str] | None:
    """(status, reason) from getProfile's XRPC error body, or None when it proves no status."""
    if not isinstance(body, Mapping):
        return None
    error = body.get("error") if isinstance(body.get("error"), str) else None
    message = body.get("message") if isinstance(body.get("message"), str) else None
    if not error:
        return None
    reason = f"{error}: {message}" if message else error
    status = ERROR_STATUS.get(error)
    if status is None and error == "InvalidRequest" and message and "not found" in message.lower():
        status = "not_found"  # "Profile not found": no such handle or DID (any more)
    return (status, reason[:500]) if status else None


# --------------------------------------------------------------------------- posts


def post_id(uri: str) -> tuple[str, str] | None:
    """(did, rkey) of a post's AT-URI, or None when it is not one."""
    if not uri.startswith("at://"):
        return None
    parts = uri[5:].split("/")
    if len(parts) != 3 or parts[1] != POST_COLLECTION or not parts[0] or not parts[2]:
        return None
    return parts[0], parts[2]


def sort_at(view: Mapping[str, Any]) -> datetime | None:
    """The time search sorts and filters by (`sortAt`): the earlier of createdAt and indexedAt."""
    record = _obj(view.get("record"))
    times = [t for t in (iso_to_utc(record.get("createdAt")), iso_to_utc(view.get("indexedAt"))) if t]
    return min(times) if times else None


def _link(record: Mapping[str, Any]) -> str | None:
    """What the post links to: an external embed's URI, else its first link facet."""
    embed = record.get("embed")
    for candidate in (embed, embed.get("media") if isinstance(embed, Mapping) else None):
        if isinstance(candidate, Mapping) and isinstance(candidate.get("external"), Mapping):
            uri = candidate["external"].get("uri")
            if isinstance(uri, str) and uri.startswith(("http://", "https://")):
                return uri
    for facet in record.get("facets") or ():
        for feature in (facet.get("features") or ()) if isinstance(facet, Mapping) else ():
            uri = feature.get("uri") if isinstance(feature, Mapping) else None
            if isinstance(uri, str) and uri.startswith(("http://", "https://")):
                return uri
    return None


def post_from_view(view: Mapping[str, Any], key: CommunityKey) -> Post | None:
    """A postView as a raw Post (author and link still raw: the enrichment step reduces them).

    None for a view that is not a post (another collection) or whose id would not fit.
    """
    uri = view.get("uri")
    ids = post_id(uri) if isinstance(uri, str) else None
    if ids is None or len(uri) > MAX_EXTERNAL_ID:  # type: ignore[arg-type]
        return None
    did, rkey = ids
    record = _obj(view.get("record"))
    author = _obj(view.get("author"))
    text = record.get("text")
    labels = _labels(view.get("labels"), record.get("labels"))
    likes, replies = _count(view.get("likeCount")), _count(view.get("replyCount"))
    return Post(
        key=key,
        external_id=str(uri),
        created_at=iso_to_utc(record.get("createdAt")) or iso_to_utc(view.get("indexedAt")),
        author=author.get("did") if isinstance(author.get("did"), str) else did,
        body=text if isinstance(text, str) and text else None,
        url=POST_URL.format(did=did, rkey=rkey),
        link_url=_link(record),
        score=int(likes) if likes is not None else None,
        num_comments=int(replies) if replies is not None else None,
        nsfw=True if labels & ADULT_LABELS else None,
    )


@dataclass(frozen=True)
class SearchResult:
    posts: list[Post]
    cursor: str | None  # the next page's cursor; None on the last page
    newest: datetime | None  # the latest sortAt on the page


def parse_search(body: Any, key: CommunityKey) -> SearchResult:
    """One searchPosts page → posts under the search's community, the next cursor, the newest time."""
    views = _list(body, "posts")
    posts: list[Post] = []
    newest: datetime | None = None
    for view in views:
        post = post_from_view(view, key)
        if post is None:
            continue
        posts.append(post)
        at = sort_at(view)
        if at is not None and (newest is None or at > newest):
            newest = at
    cursor = body.get("cursor") if isinstance(body.get("cursor"), str) and body.get("cursor") else None
    return SearchResult(posts, cursor if views else None, newest)


def shown_uris(body: Any) -> set[str]:
    """The AT-URIs a getPosts answer shows (a deleted or hidden post is simply absent)."""
    return {str(v["uri"]) for v in _list(body, "posts") if isinstance(v.get("uri"), str)}


def chunks(items: Sequence[Any] | Iterable[Any], size: int) -> list[list[Any]]:
    seq = list(items)
    return [seq[i : i + size] for i in range(0, len(seq), size)]
