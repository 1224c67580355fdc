"""The X source (tweepy): account growth and suspensions, query volume and recent posts.

Three endpoints, each a part that can fail alone (a plan without access answers 401/403
for that endpoint only; the rest of X still runs and the run becomes partial):

* accounts: `/2/users/by`, 100 usernames a request -> status and public metrics;
* query volume: `/2/tweets/counts/recent?granularity=day` -> `posts_per_day`;
* query posts: `/2/tweets/search/recent` from the query's saved cursor (`since_id`), a bounded
  number of pages. The cursor lives in `source_state` (`search:<query>`) and moves only once a
  query's pagination is done, through `ctx.checkpoint`, which stores the posts first.

Money: X bills every post and user it returns, each id once per UTC day (`crawler.sources.
billing`). Each request is priced at its worst before it is sent and refused if it could pass
`[x] max_cost_usd_per_run` or `max_cost_usd_per_day`: the source then stops, partial, with
"budget" as the reason; a pagination stopped so keeps its gap in the cursor (`x_cursor`).

The client (redirect, counting, retries) is in `x_client`, the parsers in `x_parse`; this
module decides what to ask for and in which order.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from crawler.config import WatchTarget
from crawler.errors import AccessDenied, BudgetExhausted, SourceError
from crawler.records import CommunityKey, Record, utcnow
from crawler.sources import x_parse
from crawler.sources.base import Source, SourceContext
from crawler.sources.billing import Meter
from crawler.sources.x_client import (
    SEARCH_PAGE_SIZE,
    InvalidRequest,
    RedactToken,
    RedirectAdapter,
    XApi,
    classify,
    reset_wait,
)
from crawler.sources.x_cursor import SearchCursor

USERS_PER_REQUEST = 100  # /2/users/by accepts at most 100 usernames
STATE_KEY_MAX = 512  # source_state.key is a String(512)

# Part names used in run_sources.error_summary ("x search: HTTP 403 ...").
PART_ACCOUNTS = "x accounts"
PART_COUNTS = "x counts"
PART_SEARCH = "x search"
PART_BUDGET = "x budget"
MIN_PAGE_SIZE = 10  # /2/tweets/search/recent refuses max_results below 10
# What X bills, by the kinds of `billed_reads` (prices from [x] settings).
POST, USER, COUNTS_REQUEST = "post", "user", "counts_request"


def search_state_key(query: str) -> str:
    """The `source_state` key of a query's search cursor: `search:<query>`.

    The query is kept verbatim (operators such as OR are case-sensitive, so two spellings are
    two queries); one too long for the key column is replaced by its SHA-256.
    """
    key = f"search:{query}"
    if len(key) <= STATE_KEY_MAX:
        return key
    return "search:sha256:" + hashlib.sha256(query.encode()).hexdigest()


def counts_start(now: datetime, days: int) -> datetime:
    """Midnight UTC `days - 1` days ago: whole-day buckets, inside the 7-day recent window."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=max(days, 1) - 1)


def meter_for(ctx: SourceContext) -> Meter:
    """The X source's meter: `[x]` prices and caps."""
    cfg = ctx.settings
    return Meter(
        ctx,
        {POST: cfg.price_post_read, USER: cfg.price_user_read, COUNTS_REQUEST: cfg.price_count_request},
        max_run_usd=cfg.max_cost_usd_per_run,
        max_day_usd=cfg.max_cost_usd_per_day,
    )


@dataclass
class _Paged:
    """How one pagination ended: the ids it stored, and whether the budget stopped it."""

    newest: int | None = None
    oldest: int | None = None
    pages: int = 0
    complete: bool = False  # it reached the last page (else the page bound or the budget)
    stopped: BudgetExhausted | None = None


class XSource(Source):
    """Accounts and queries on X through the v2 API (app-only bearer token)."""

    name = "x"
    succeeded: int = 0  # answers received this crawl; none at all means the source failed

    def crawl(self, ctx: SourceContext) -> Iterator[Record]:
        token = ctx.config.credential("X_BEARER_TOKEN")
        if not token:
            raise AccessDenied("X_BEARER_TOKEN is not set", target="x")
        accounts = [t for t in ctx.targets if t.key.kind == "account"]
        queries = [t for t in ctx.targets if t.key.kind == "query"]
        redact = RedactToken(token)
        tweepy_log = logging.getLogger("tweepy.client")
        tweepy_log.addFilter(redact)
        api = XApi(ctx, token)
        meter = meter_for(ctx)
        self.succeeded = 0
        stopped = False
        try:
            yield from self._accounts(ctx, api, meter, accounts)
            yield from self._queries(ctx, api, meter, queries)
        except BudgetExhausted as exc:
            # Nothing more is read: what was read before is stored, the cursors say how far.
            stopped = True
            ctx.fail_target(PART_BUDGET, _bare(exc))
        finally:
            api.close()
            tweepy_log.removeFilter(redact)
        ctx.log.info("source=x cost=$%.3f (estimated; each id billed once per UTC day)", meter.spent)
        if self.succeeded == 0 and ctx.stats.failures and not stopped:
            raise SourceError("no X endpoint answered: " + "; ".join(ctx.stats.failures[:3]), target="x")

    # -- accounts ------------------------------------------------------------------
    def _accounts(
        self, ctx: SourceContext, api: XApi, meter: Meter, targets: Sequence[WatchTarget]
    ) -> Iterator[Record]:
        keys = [t.key for t in targets]
        for i in range(0, len(keys), USERS_PER_REQUEST):
            batch = keys[i : i + USERS_PER_REQUEST]
            span = batch[0].handle + (f"..{batch[-1].handle}" if len(batch) > 1 else "")
            # At worst every user not billed today comes back (X bills the users it returns).
            fresh = meter.unbilled(USER, [k.handle.lower() for k in batch])
            meter.allow(meter.worst(USER, len(fresh)), f"looking up {len(batch)} accounts")
            try:
                result = x_parse.parse_users(api.users([k.handle for k in batch]), batch, utcnow())
            except AccessDenied as exc:
                ctx.fail_target(PART_ACCOUNTS, _bare(exc))
                return  # the plan has no access: the other batches would fail alike
            except SourceError as exc:  # MalformedAnswer among them: this batch only
                ctx.fail_target(f"{PART_ACCOUNTS} {span}", _bare(exc))
                continue
            meter.charge(USER, result.returned)
            self.succeeded += 1
            for handle, detail in result.unexplained:
                ctx.fail_target(f"x account {handle}", detail)
            if result.missing:
                ctx.log.warning("source=x part=accounts not in the answer: %s", ", ".join(result.missing))
            yield from result.observations

    # -- queries -------------------------------------------------------------------
    def _queries(
        self, ctx: SourceContext, api: XApi, meter: Meter, targets: Sequence[WatchTarget]
    ) -> Iterator[Record]:
        counts_ok = search_ok = True
        start = counts_start(utcnow(), ctx.settings.counts_days)
        for target in targets:
            key = target.key
            if counts_ok:
                meter.allow(meter.price(COUNTS_REQUEST), f"the post counts of {key.handle!r}")
                try:
                    points = x_parse.parse_counts(api.counts(key.handle, start), key)
                except AccessDenied as exc:
                    ctx.fail_target(PART_COUNTS, _bare(exc))
                    counts_ok = False
                except SourceError as exc:  # MalformedAnswer among them: this query only
                    ctx.fail_target(f"{PART_COUNTS} {key.handle!r}", _bare(exc))
                else:
                    meter.charge_request(COUNTS_REQUEST)
                    self.succeeded += 1
                    yield from points
            if search_ok:
                try:
                    yield from self._search(ctx, api, meter, key)
                except BudgetExhausted:
                    raise
                except AccessDenied as exc:
                    ctx.fail_target(PART_SEARCH, _bare(exc))
                    search_ok = False
                except SourceError as exc:
                    ctx.fail_target(f"{PART_SEARCH} {key.handle!r}", _bare(exc))

    def _search(self, ctx: SourceContext, api: XApi, meter: Meter, key: CommunityKey) -> Iterator[Record]:
        """Posts newer than the query's cursor (and a gap a budget stop left), at most
        `x.max_pages` pages of 100 in all.

        Pages come newest first, so the cursor is saved only after a pagination ended (the
        last page, the page bound, or the budget): a crawl that dies halfway resumes from the
        previous cursor and fetches the older pages again (the store's upserts absorb the
        repeats). A budget stop saves what the stored pages cover, and the gap below them.
        """
        state_key = search_state_key(key.handle)
        cursor = SearchCursor.load(ctx.state.get(state_key))
        # No saved cursor: a first crawl, a store from before cursors were kept, or a crawl that
        # died before its first checkpoint. The newest stored post is no substitute: nothing
        # tells whether the pages older than it were ever stored (that is the crash this
        # cursor exists for). So the whole recent window is fetched again, bounded by max_pages.
        if cursor is None:
            ctx.log.info("source=x target=%r no saved search cursor; fetching the recent window", key.handle)
            cursor = SearchCursor()
        pages_left = ctx.settings.max_pages
        if cursor.has_gap:
            # The older ground first: recent search forgets it first.
            gap = yield from self._paginate(
                ctx, api, meter, key, cursor.gap_since, cursor.gap_until, pages_left
            )
            pages_left -= gap.pages
            if gap.stopped is not None:
                until = gap.oldest if gap.oldest is not None else cursor.gap_until
                if until != cursor.gap_until:
                    ctx.checkpoint(state_key, SearchCursor(cursor.newest, cursor.gap_since, until).dump())
                raise gap.stopped
            if not gap.complete:
                ctx.log.warning(
                    "source=x target=%r stopped after max_pages in the gap below id %s; the rest of "
                    "it is not fetched",
                    key.handle,
                    cursor.gap_until,
                )
            cursor = SearchCursor(cursor.newest)
            ctx.checkpoint(state_key, cursor.dump())  # stores the gap's posts, then closes it
            if pages_left <= 0:
                return  # the newer posts wait for the next crawl; the cursor says where they start
        since = cursor.newest
        run = yield from self._paginate(ctx, api, meter, key, since, None, pages_left)
        newest = _max(since, run.newest)
        if run.stopped is not None:
            if run.newest is not None:  # the stored pages cover (run.oldest, newest]
                ctx.checkpoint(state_key, SearchCursor(newest, since, run.oldest).dump())
            raise run.stopped
        if not run.complete:
            # The page bound cut the pagination short. The cursor still moves to the newest
            # post: keeping the old one would make every later crawl fetch the same newest
            # max_pages pages and never get past them. The price is the gap: posts between
            # since_id and the oldest fetched one are fetched neither now nor later. How many
            # pages it holds is unknown without fetching them; raise x.max_pages if this shows.
            ctx.log.warning(
                "source=x target=%r stopped after max_pages=%d with more pages left; posts between "
                "since_id=%s and id %s are not fetched (cursor moves to %s)",
                key.handle,
                ctx.settings.max_pages,
                since or "(window start)",
                run.oldest,
                newest,
            )
        if newest is not None and newest != since:
            ctx.checkpoint(state_key, str(newest))  # stores the posts yielded above, then the cursor

    def _paginate(
        self,
        ctx: SourceContext,
        api: XApi,
        meter: Meter,
        key: CommunityKey,
        since: int | None,
        until: int | None,
        max_pages: int,
    ) -> Generator[Record, None, _Paged]:
        """Pages of posts with ids in (since, until), newest first, at most `max_pages`."""
        out = _Paged()
        since_id = str(since) if since is not None else None
        until_id = str(until) if until is not None else None
        token: str | None = None
        for _page in range(max_pages):
            # A page asks for no more posts than the budget covers at worst (all billable).
            affordable = meter.affordable(POST)
            size = (
                SEARCH_PAGE_SIZE
                if affordable is None
                else max(MIN_PAGE_SIZE, min(SEARCH_PAGE_SIZE, affordable))
            )
            try:
                meter.allow(meter.worst(POST, size), f"a search page of {key.handle!r}")
            except BudgetExhausted as exc:
                out.stopped = exc
                return out
            try:
                body = api.search(key.handle, since_id, token, until_id=until_id, size=size)
            except InvalidRequest as exc:
                if not (since_id and out.pages == 0 and "since_id" in str(exc)):
                    raise
                # A query quiet for more than 7 days: its cursor is older than recent search
                # reaches, and X refuses such a since_id. Everything search can still return is
                # newer, so asking without it loses nothing.
                ctx.log.info(
                    "source=x target=%r since_id=%s out of reach; searching without it", key.handle, since_id
                )
                since_id = None
                body = api.search(key.handle, None, None, until_id=until_id, size=size)
            result = x_parse.parse_search(body, key)
            meter.charge(POST, [p.external_id for p in result.posts])
            out.pages += 1
            self.succeeded += 1
            yield from result.posts
            out.newest = _max(out.newest, result.newest_id)
            out.oldest = result.oldest_id if result.oldest_id is not None else out.oldest
            token = result.next_token
            if token is None:
                out.complete = True
                break
        return out


def _max(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)


def _bare(exc: SourceError) -> str:
    """The message without the "target: " prefix SourceError adds (fail_target adds its own)."""
    text = str(exc)
    prefix = f"{exc.target}: " if exc.target else ""
    return text[len(prefix) :] if prefix and text.startswith(prefix) else text


__all__ = ["RedirectAdapter", "XApi", "XSource", "classify", "counts_start", "reset_wait", "search_state_key"]
