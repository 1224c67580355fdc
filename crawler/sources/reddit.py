"""Reddit through praw: subreddit status and growth in batches, new posts, deletions.

Request plan of one crawl (application-only OAuth, read-only):

1. one token grant;
2. `/api/info/?sr_name=a,b,...`: 100 subreddits a request (metrics, title, nsfw, status);
3. `/r/NAME/about` only for names missing from that answer (banned, private, quarantined,
   unknown: the error body names the cause), and of those found banned or unknown before
   only the ones due for their patient re-check (`SourceContext.due`: 2, 4, then every 7
   days); a name that comes back shows up in the batch answer of step 2 at once;
4. `/r/a+b+.../new?limit=100`: 100 readable subreddits a listing, paged with `after` back
   to what the previous complete listing of the group saw, else to the lookback window
   (at most `max_pages` either way); so a quiet day costs one page per 100 subreddits.
   The listing's state is saved through `SourceContext.checkpoint`, after its posts are
   stored, so a crawl that dies part-way leaves no state and the next one pages back again;
5. the compliance sweep: `/api/info/?id=t3_...`, 100 stored posts a request, so posts
   removed or deleted upstream lose their text here too (Reddit's terms require it). The
   sweep is tiered by default (`[reddit] sweep`): a post is re-checked once the time since
   it was last seen visible reaches `sweep_fraction` of its age (daily in its first days,
   weekly at a month), and at every crawl while younger than 48 hours; a post seen visible
   advances its `last_seen_at`, a post seen in this crawl's listings is not asked again.

The client (counting, pacing, retries) is in `reddit_client`, the parsers in
`reddit_parse`; this module decides what to ask for and in which order.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Generator, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeAlias

import prawcore

from crawler import __version__
from crawler.errors import AccessDenied
from crawler.records import CommunityKey, CommunityObservation, PostStateUpdate, Record, utcnow
from crawler.sources.base import Source, SourceContext
from crawler.sources.reddit_client import BATCH_FAILURES, RedditApi, build_client, describe, error_body
from crawler.sources.reddit_parse import (
    SOURCE_API,
    MalformedAnswer,
    ThingList,
    chunks,
    members_from_posts,
    not_found_from_redirect,
    parse_listing,
    parse_post,
    parse_subreddit,
    post_state,
    status_from_error,
)

BATCH = 100  # names per /api/info and per combined listing; ids per /api/info (Reddit's cap)
PAGE = 100  # posts per listing page (Reddit's cap)
LISTABLE = ("active", "restricted", "archived")  # statuses whose /new an app-only token can read
# Posts can surface in /new a little after their created time (spam filter, approvals):
# a listing pages this far behind the previous complete listing of the same group.
LISTING_MARGIN = timedelta(hours=1)
# Reddit's 48-hour rule: a post this young is re-checked at every crawl, whatever its tier.
ALWAYS_RECHECK = timedelta(hours=48)
# A daily crawl that starts a little earlier than yesterday's still re-checks the posts due.
SWEEP_SLACK = timedelta(hours=1)

Cursor: TypeAlias = tuple[str, datetime | None]  # a newest post: (external_id, created_at)


# --------------------------------------------------------------------------- the source


class RedditSource(Source):
    """Subreddits: status and metrics in batches, new posts incrementally, deletions honoured."""

    name = "reddit"
    has_finale = True  # the compliance sweep asks about every stored post once a crawl

    def crawl(self, ctx: SourceContext) -> Iterator[Record]:
        targets = {t.key.handle.lower(): t.key for t in ctx.targets}
        if not targets and ctx.steps != "finale":
            return
        crawl = _Crawl(ctx, RedditApi(ctx, build_client(ctx)), targets, utcnow())
        listed: set[str] = set()
        if ctx.steps != "finale":
            yield from crawl.metadata()
            yield from crawl.resolve_missing()
            listed = yield from crawl.new_posts()
        if ctx.steps == "finale":
            # A distributed crawl: the listings ran in the other shards, whose posts the
            # store has already stamped as seen in this run.
            listed = ctx.known.ids_seen_in_run("reddit")
        if ctx.steps != "targets":
            yield from crawl.compliance_sweep(skip=listed)
        ctx.log.info(
            "source=reddit version=%s statuses=%s deferred=%d",
            __version__,
            crawl.status_counts(),
            ctx.stats.deferred,
        )


class _Crawl:
    """The state of one crawl: what each subreddit looked like and which batches failed."""

    def __init__(
        self, ctx: SourceContext, api: RedditApi, keys: dict[str, CommunityKey], now: datetime
    ) -> None:
        self.ctx, self.api, self.keys, self.now = ctx, api, keys, now
        self.found: dict[str, Mapping[str, Any]] = {}  # lower name -> t5 data
        self.status: dict[str, str | None] = {}
        self.unresolved: set[str] = set()  # names whose metadata batch failed

    def status_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for s in self.status.values():
            counts[s or "unknown"] = counts.get(s or "unknown", 0) + 1
        return counts

    # -- metadata ---------------------------------------------------------------------
    def metadata(self) -> Iterator[Record]:
        """All watched subreddits through /api/info/?sr_name=, 100 names a request."""
        batches = chunks(sorted(self.keys), BATCH)
        for i, names in enumerate(batches, 1):
            target = f"api/info sr_name batch {i}/{len(batches)} ({names[0]}..{names[-1]})"
            try:
                things = parse_listing(self.api.get("/api/info/", {"sr_name": ",".join(names)}, target), "t5")
            except BATCH_FAILURES as exc:
                self._fail(target, exc)
                self.unresolved.update(names)
                continue
            for data in things.children:
                yield from self._observe(data)

    def _observe(self, data: Mapping[str, Any]) -> Iterator[Record]:
        name = data.get("display_name")
        key = self.keys.get(name.lower()) if isinstance(name, str) else None
        if key is None:
            return
        obs = parse_subreddit(data, key, self.now)
        self.found[key.handle.lower()] = data
        self.status[key.handle.lower()] = obs.status
        yield obs

    def resolve_missing(self) -> Iterator[Record]:
        """One /about per name the batch answer left out: its error body says why.

        A name found banned or unknown on earlier checks is asked only when its patient
        re-check is due; until then nothing is emitted for it (a skipped check is no check).
        """
        missing = [n for n in sorted(self.keys) if n not in self.found and n not in self.unresolved]
        for name in missing:
            key = self.keys[name]
            if not self.ctx.due(key):
                self.ctx.defer(key)
                continue
            target = f"r/{key.handle}"
            try:
                payload = self.api.get(f"/r/{key.handle}/about/", {}, target)
            except (prawcore.NotFound, prawcore.Forbidden) as exc:
                status, reason = status_from_error(exc.response.status_code, error_body(exc))
                yield self._status(key, status, reason)
                continue
            except prawcore.Redirect as exc:
                yield self._status(key, *not_found_from_redirect(exc.path))
                continue
            except BATCH_FAILURES as exc:
                self._fail(target, exc)
                continue
            if (
                isinstance(payload, Mapping)
                and payload.get("kind") == "t5"
                and isinstance(payload.get("data"), Mapping)
            ):
                yield from self._observe(payload["data"])
            else:
                self._fail(target, MalformedAnswer(f"/about answered {type(payload).__name__}"))

    def _status(self, key: CommunityKey, status: str, reason: str) -> CommunityObservation:
        self.status[key.handle.lower()] = status
        self.ctx.log.info("source=reddit target=r/%s status=%s reason=%r", key.handle, status, reason)
        return CommunityObservation(
            key=key, observed_at=self.now, source=SOURCE_API, status=status, status_reason=reason
        )

    # -- new posts --------------------------------------------------------------------
    def new_posts(self) -> Generator[Record, None, set[str]]:
        """Combined /new listings of the readable subreddits; returns the ids of the posts
        listed (seen in this crawl, so the compliance sweep need not ask about them)."""
        listed: set[str] = set()
        # Groups are cut from the whole watchlist, then thinned to the readable names: a ban
        # or a private subreddit changes its own group only, not every group after it (each
        # changed group pages back to the window once, as its listing state no longer fits).
        for block in chunks(sorted(self.keys), BATCH):
            group = [n for n in block if n in self.found and self.status.get(n) in LISTABLE]
            if group:
                listed |= yield from self._listing(group, ListingState.key(block))
        return listed

    def _listing(self, group: list[str], state_key: str | None = None) -> Generator[Record, None, set[str]]:
        """One combined listing, paged back to its floor; split in two on 403/404.

        Reddit refuses a whole combined listing when one of its subreddits turned private or
        banned since the metadata request; halving isolates it in at most 2·log2(100) calls.
        Every post fetched inside the lookback window is yielded, also those stored before:
        the store's upserts absorb the repeats (and refresh score and comment counts), and
        a post that surfaced in /new late is not lost to a cursor.
        """
        handles = [self.keys[n].handle for n in group]
        target = (
            "r/" + "+".join(handles) if len(handles) <= 3 else f"r/{handles[0]}+…({len(handles)} subreddits)"
        )
        lookback = self.now - timedelta(days=self.ctx.settings.lookback_days)
        cursors = {n: _cursor(self.ctx.known.newest(self.keys[n])) for n in group}
        state_key = state_key or ListingState.key(group)
        floor = self._floor(state_key, cursors, lookback, target)
        by_sub: dict[str, list[Mapping[str, Any]]] = {n: [] for n in group}
        listed: set[str] = set()
        after: str | None = None
        complete = bounded = False
        max_pages = self.ctx.settings.max_pages
        for page in range(1, max_pages + 1):
            params: dict[str, str | int] = {"limit": PAGE}
            if after:
                params["after"] = after
            try:
                things = parse_listing(self.api.get(f"/r/{'+'.join(handles)}/new", params, target), "t3")
            except (prawcore.NotFound, prawcore.Forbidden) as exc:
                if page == 1:
                    return (yield from self._split(group, exc))
                self._fail(target, exc)
                break
            except BATCH_FAILURES as exc:
                self._fail(target, exc)
                break
            for data in things.children:
                name = data.get("subreddit")
                if isinstance(name, str) and name.lower() in by_sub:
                    by_sub[name.lower()].append(data)
            if self._reached(things, floor):
                complete = True
                break
            after = things.after
        else:
            # The page bound, not a failure: what was fetched is contiguous from the newest
            # post down. The state moves on (as the issue asks: the first crawl looks back
            # "with a bound on pages"), else a busy group would page max_pages every day.
            bounded = True
            self.ctx.log.warning(
                "source=reddit target=%s stopped at max_pages=%d before reaching %s: older posts of "
                "the window are not fetched (Arctic Shift keeps the history)",
                target,
                max_pages,
                floor.isoformat(timespec="minutes"),
            )

        newest: dict[str, Cursor | None] = dict(cursors)
        for name in group:
            key = self.keys[name]
            members = members_from_posts(by_sub[name], key, self.now)
            if members:
                yield members
            nsfw = (self.found.get(name) or {}).get("over18")
            for raw in by_sub[name]:
                post = parse_post(raw, key, subreddit_nsfw=nsfw if isinstance(nsfw, bool) else None)
                if post is None or (post.created_at is not None and post.created_at < lookback):
                    continue
                listed.add(post.external_id)  # seen now: the sweep need not ask about it
                current = newest[name]
                if post.created_at and (
                    current is None or current[1] is None or post.created_at > current[1]
                ):
                    newest[name] = (post.external_id, post.created_at)
                yield post
        if complete or bounded:
            # Every record yielded above has been emitted; checkpoint stores them first, so
            # the state never claims posts the store does not hold. A listing cut short by a
            # failure saves nothing: the next crawl pages back over the same ground.
            self.ctx.checkpoint(state_key, ListingState.dump(self.now, newest))
        return listed

    def _floor(
        self, state_key: str, cursors: dict[str, Cursor | None], lookback: datetime, target: str
    ) -> datetime:
        """How far back this group's listing must page: never past the lookback window.

        If the last crawl listed this very group completely (and the store still agrees on
        what it stored), everything older than that crawl, less a margin, is known: a quiet
        day costs one page. Otherwise (first crawl, a crawl that died or stopped part-way, a
        changed group) nothing says which older posts are stored: listings come newest
        first, so the store's newest post is no cursor; page back to the lookback window.
        """
        listed_at = ListingState.read(self.ctx.state.get(state_key), cursors)
        if listed_at is not None:
            return max(listed_at - LISTING_MARGIN, lookback)
        if any(cursors.values()):
            self.ctx.log.info(
                "source=reddit target=%s no complete listing recorded: paging back to the "
                "lookback window (at most max_pages)",
                target,
            )
        return lookback

    @staticmethod
    def _reached(things: ThingList, floor: datetime) -> bool:
        """True when this page is the last one needed: no more pages, or the floor reached."""
        if not things.children or things.after is None:
            return True
        created = [p.get("created_utc") for p in things.children]
        oldest = min((c for c in created if isinstance(c, int | float)), default=None)
        return oldest is not None and oldest <= floor.timestamp()

    def _split(self, group: list[str], exc: prawcore.ResponseException) -> Generator[Record, None, set[str]]:
        if len(group) == 1:
            key = self.keys[group[0]]
            body = error_body(exc)
            if isinstance(body, Mapping) and body.get("reason"):
                yield self._status(key, *status_from_error(exc.response.status_code, body))
            else:
                self._fail(f"r/{key.handle}", exc)
            return set()
        half = len(group) // 2
        listed = yield from self._listing(group[:half])
        listed |= yield from self._listing(group[half:])
        return listed

    # -- deletions --------------------------------------------------------------------
    def due_posts(self, skip: set[str]) -> list[str]:
        """The stored posts this crawl's sweep re-checks (module docstring, step 5)."""
        settings = self.ctx.settings
        since = self.now - timedelta(days=settings.compliance_days)
        if settings.sweep == "daily":
            ids = self.ctx.known.ids_since("reddit", since)
        else:
            ids = self.ctx.known.ids_due(
                "reddit",
                since=since,
                now=self.now,
                fraction=settings.sweep_fraction,
                always_after=self.now - ALWAYS_RECHECK,
                slack=SWEEP_SLACK,
            )
        return [i for i in ids if i not in skip]

    def compliance_sweep(self, skip: set[str]) -> Iterator[Record]:
        """Re-check the stored posts that are due through /api/info/?id=, 100 a request.

        Each answer says removed, deleted or visible; visible ones are recorded as seen, which
        moves them on in the tiered schedule.
        """
        ids = self.due_posts(skip)
        batches = chunks(ids, BATCH)
        self.ctx.log.info(
            "source=reddit sweep=%s posts=%d requests=%d", self.ctx.settings.sweep, len(ids), len(batches)
        )
        for i, batch in enumerate(batches, 1):
            target = f"api/info id batch {i}/{len(batches)}"
            fullnames = ",".join(f"t3_{pid}" for pid in batch)
            try:
                things = parse_listing(self.api.get("/api/info/", {"id": fullnames}, target), "t3")
            except BATCH_FAILURES as exc:
                self._fail(target, exc)
                continue
            for data in things.children:
                pid = data.get("id")
                if isinstance(pid, str):
                    yield PostStateUpdate("reddit", pid, post_state(data), self.now)

    def _fail(self, target: str, exc: BaseException) -> None:
        if isinstance(exc, AccessDenied):
            raise exc
        self.ctx.fail_target(target, describe(exc))


class ListingState:
    """What the last complete listing of a group of subreddits knew, kept in source_state.

    `{"listed_at": ISO time, "newest": {name: [newest post id, its ISO created time] or
    null}}`, under a key made from the names of its block of the watchlist (100 names,
    readable or not), saved through
    `SourceContext.checkpoint` (so only after the listing's posts are stored). It counts
    only while the store still agrees on every subreddit's newest post: that still guards
    against rows lost after the state was saved (the posts table restored from an older
    backup or export while source_state was kept, a retention purge, a backup whose tables
    were copied at different moments). Agreement is by id, or by created time when two
    posts share the newest second (the store then breaks the tie its own way). States
    written before the times were recorded (`{name: id}`) are compared by id.
    """

    @staticmethod
    def key(group: list[str]) -> str:
        return "listing:" + hashlib.sha256(",".join(sorted(group)).encode()).hexdigest()[:20]

    @staticmethod
    def dump(listed_at: datetime, newest: Mapping[str, Cursor | None]) -> str:
        doc = {
            n: ([c[0], c[1].isoformat() if c[1] else None] if c else None) for n, c in sorted(newest.items())
        }
        return json.dumps({"listed_at": listed_at.isoformat(), "newest": doc})

    @staticmethod
    def read(value: str | None, cursors: Mapping[str, Cursor | None]) -> datetime | None:
        """The time of the last complete listing, if the state is there and still true."""
        if not value:
            return None
        try:
            doc = json.loads(value)
            listed_at = datetime.fromisoformat(doc["listed_at"])
            newest = doc["newest"]
        except (ValueError, KeyError, TypeError):
            return None
        # Names that left the group since (banned, private) do not matter; a name that joined
        # has no record, so its older posts are unknown: the state does not hold.
        if not isinstance(newest, dict) or not set(cursors) <= set(newest):
            return None
        if not all(_agrees(newest[n], c) for n, c in cursors.items()):
            return None
        return listed_at if listed_at.tzinfo else listed_at.replace(tzinfo=UTC)


def _agrees(recorded: Any, stored: Cursor | None) -> bool:
    """Whether a recorded newest post (`[id, iso]`, an old-format id, or null) is the store's."""
    if recorded is None or stored is None:
        return recorded is None and stored is None
    if isinstance(recorded, str):
        return recorded == stored[0]
    if not (isinstance(recorded, list) and len(recorded) == 2):
        return False
    post_id, created = recorded
    if post_id == stored[0]:
        return True
    if not isinstance(created, str) or stored[1] is None:
        return False
    try:
        when = datetime.fromisoformat(created)
    except ValueError:
        return False
    return (when if when.tzinfo else when.replace(tzinfo=UTC)) == stored[1]


def _cursor(row: Cursor | None) -> Cursor | None:
    """The store's (external_id, created_at), with a naive time (SQLite) read as UTC."""
    if row is None:
        return None
    post_id, created = row
    if created is not None and created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return post_id, created
