"""The X source (tweepy): account growth and suspensions, query volume and recent posts.

Three endpoints, each a part that can fail alone (a plan without access answers 401/403
for that endpoint only; the rest of X still runs and the run becomes partial):

* accounts: `/2/users/by`, 100 usernames a request -> status and public metrics;
* query volume: `/2/tweets/counts/recent?granularity=day` -> `posts_per_day`;
* query posts: `/2/tweets/search/recent` from the query's saved cursor (`since_id`), a bounded
  number of pages. The cursor lives in `source_state` (`search:<query>`) and moves only once a
  query's pagination is done, through `ctx.checkpoint`, which stores the posts first.

tweepy's host is fixed (`https://api.twitter.com` inside `BaseClient.request`), so a requests
adapter mounted on `client.session` rewrites it to `config.endpoint("x")` and counts every
request sent. `wait_on_rate_limit` stays off: tweepy's own wait recurses forever on a 429
without a reset header; rate limits and 5xx are retried here, bounded.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
import tweepy
from requests.adapters import HTTPAdapter

from crawler.config import WatchTarget
from crawler.errors import AccessDenied, SourceError
from crawler.ratelimit import wait_seconds
from crawler.records import CommunityKey, Record, utcnow
from crawler.sources import x_parse
from crawler.sources.base import Source, SourceContext
from crawler.sources.retry import Retry, call_with_retries

TWEEPY_HOST = "https://api.twitter.com"  # fixed inside tweepy.BaseClient.request
USERS_PER_REQUEST = 100  # /2/users/by accepts at most 100 usernames
SEARCH_PAGE_SIZE = 100  # /2/tweets/search/recent: 10 default, 100 max
USER_FIELDS = ["public_metrics", "created_at", "protected"]
TWEET_FIELDS = ["created_at", "public_metrics", "author_id", "possibly_sensitive", "entities"]

STATE_KEY_MAX = 512  # source_state.key is a String(512)

# Part names used in run_sources.error_summary ("x search: HTTP 403 ...").
PART_ACCOUNTS = "x accounts"
PART_COUNTS = "x counts"
PART_SEARCH = "x search"


class InvalidRequest(SourceError):
    """X refused the parameters (400), e.g. a `since_id` older than recent search reaches."""


class RedirectAdapter(HTTPAdapter):
    """Sends tweepy's requests to the configured base URL, with a timeout, counting each one."""

    def __init__(self, base_url: str, on_send: Callable[[], None], timeout: float) -> None:
        super().__init__(max_retries=0)  # retries are ours, counted and bounded
        self.base_url = base_url.rstrip("/")
        self.on_send = on_send
        self.timeout = timeout

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        url = request.url or ""
        if url.startswith(TWEEPY_HOST):
            request.url = self.base_url + url[len(TWEEPY_HOST) :]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout  # tweepy sets none; a stalled socket must not hang the crawl
        self.on_send()
        return super().send(request, *args, **kwargs)


class RedactToken(logging.Filter):
    """tweepy logs request headers (the bearer token among them) at DEBUG; blank the token."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and self.token in record.msg:
            record.msg = record.msg.replace(self.token, "[redacted]")
        return True


def reset_wait(exc: tweepy.TooManyRequests, now: float | None = None) -> float | None:
    """Seconds until `x-rate-limit-reset` (or a `Retry-After`), read by crawler.ratelimit.

    Measured on the server's clock when it sent `Date`. None when there is no usable reset
    (absent, unparsable, or not in the future), which makes the caller back off
    exponentially instead.
    """
    if exc.response is None:
        return None
    return wait_seconds(exc.response.headers, now)


def classify(exc: BaseException) -> Retry | None:
    """Which failures are worth another try: 429 (reset or backoff), 5xx, lost connections."""
    if isinstance(exc, tweepy.TooManyRequests):
        return Retry("429", reset_wait(exc), rate_limited=True)
    if isinstance(exc, tweepy.TwitterServerError):
        status = exc.response.status_code if exc.response is not None else "5xx"
        return Retry(str(status))
    if isinstance(exc, requests.ConnectionError | requests.Timeout):
        return Retry(type(exc).__name__)
    return None


def _problem(exc: tweepy.HTTPException) -> str:
    response = exc.response
    try:
        body = response.json()
    except ValueError:
        body = None
    return x_parse.problem_message(response.status_code, body, response.reason or "")


class XApi:
    """The three endpoints through one tweepy client, with bounded retries.

    Answers are raw JSON (`return_type=dict`) so the pure parsers see what the platform
    sent. Refusals become `AccessDenied` (401/403) or `SourceError` with X's own words.
    """

    def __init__(self, ctx: SourceContext, token: str) -> None:
        self.ctx = ctx
        cfg = ctx.config
        self.client = tweepy.Client(bearer_token=token, return_type=dict, wait_on_rate_limit=False)
        self.client.user_agent = cfg.user_agent()
        adapter = RedirectAdapter(
            cfg.endpoint("x"), ctx.count_request, cfg.settings.rate_limits.timeout_seconds
        )
        self.client.session.mount(TWEEPY_HOST, adapter)

    def close(self) -> None:
        self.client.session.close()

    def call(self, target: str, fn: Callable[[], Any]) -> dict[str, Any]:
        try:
            result = call_with_retries(self.ctx, target, fn, classify)
        except (tweepy.Unauthorized, tweepy.Forbidden) as exc:
            raise AccessDenied(_problem(exc), target=target) from None
        except tweepy.BadRequest as exc:
            raise InvalidRequest(_problem(exc), target=target) from None
        except tweepy.HTTPException as exc:
            raise SourceError(_problem(exc), target=target) from None
        except requests.JSONDecodeError:  # a 200 whose body is not JSON (cut short, an HTML page)
            raise x_parse.MalformedAnswer("malformed answer: not JSON", target=target) from None
        except requests.RequestException as exc:
            raise SourceError(f"request failed: {type(exc).__name__}", target=target) from None
        if not isinstance(result, dict):
            raise x_parse.MalformedAnswer(
                f"malformed answer: expected a JSON object, got {type(result).__name__}", target=target
            )
        return result

    def users(self, handles: Sequence[str]) -> dict[str, Any]:
        return self.call(
            f"x users ({len(handles)})",
            lambda: self.client.get_users(usernames=list(handles), user_fields=USER_FIELDS),
        )

    def counts(self, query: str, start: datetime) -> dict[str, Any]:
        return self.call(
            f"x counts {query!r}",
            lambda: self.client.get_recent_tweets_count(query, granularity="day", start_time=start),
        )

    def search(self, query: str, since_id: str | None, token: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {"max_results": SEARCH_PAGE_SIZE, "tweet_fields": TWEET_FIELDS}
        if since_id:
            params["since_id"] = since_id
        if token:
            params["next_token"] = token
        return self.call(f"x search {query!r}", lambda: self.client.search_recent_tweets(query, **params))


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
        self.succeeded = 0
        try:
            yield from self._accounts(ctx, api, accounts)
            yield from self._queries(ctx, api, queries)
        finally:
            api.close()
            tweepy_log.removeFilter(redact)
        if self.succeeded == 0 and ctx.stats.failures:
            raise SourceError("no X endpoint answered: " + "; ".join(ctx.stats.failures[:3]), target="x")

    # -- accounts ------------------------------------------------------------------
    def _accounts(self, ctx: SourceContext, api: XApi, targets: Sequence[WatchTarget]) -> Iterator[Record]:
        keys = [t.key for t in targets]
        for i in range(0, len(keys), USERS_PER_REQUEST):
            batch = keys[i : i + USERS_PER_REQUEST]
            span = batch[0].handle + (f"..{batch[-1].handle}" if len(batch) > 1 else "")
            try:
                result = x_parse.parse_users(api.users([k.handle for k in batch]), batch, utcnow())
            except AccessDenied as exc:
                ctx.fail_target(PART_ACCOUNTS, _bare(exc))
                return  # the plan has no access: the other batches would fail alike
            except SourceError as exc:  # MalformedAnswer among them: this batch only
                ctx.fail_target(f"{PART_ACCOUNTS} {span}", _bare(exc))
                continue
            self.succeeded += 1
            for handle, detail in result.unexplained:
                ctx.fail_target(f"x account {handle}", detail)
            if result.missing:
                ctx.log.warning("source=x part=accounts not in the answer: %s", ", ".join(result.missing))
            yield from result.observations

    # -- queries -------------------------------------------------------------------
    def _queries(self, ctx: SourceContext, api: XApi, targets: Sequence[WatchTarget]) -> Iterator[Record]:
        counts_ok = search_ok = True
        start = counts_start(utcnow(), ctx.settings.counts_days)
        for target in targets:
            key = target.key
            if counts_ok:
                try:
                    points = x_parse.parse_counts(api.counts(key.handle, start), key)
                except AccessDenied as exc:
                    ctx.fail_target(PART_COUNTS, _bare(exc))
                    counts_ok = False
                except SourceError as exc:  # MalformedAnswer among them: this query only
                    ctx.fail_target(f"{PART_COUNTS} {key.handle!r}", _bare(exc))
                else:
                    self.succeeded += 1
                    yield from points
            if search_ok:
                try:
                    yield from self._search(ctx, api, key)
                except AccessDenied as exc:
                    ctx.fail_target(PART_SEARCH, _bare(exc))
                    search_ok = False
                except SourceError as exc:
                    ctx.fail_target(f"{PART_SEARCH} {key.handle!r}", _bare(exc))

    def _search(self, ctx: SourceContext, api: XApi, key: CommunityKey) -> Iterator[Record]:
        """Posts newer than the query's cursor, at most `x.max_pages` pages of 100.

        Pages come newest first, so the cursor is saved only after the pagination ended (the
        last page, or the page bound): a crawl that dies halfway resumes from the previous
        cursor and fetches the older pages again (the store's upserts absorb the repeats).
        """
        state_key = search_state_key(key.handle)
        cursor = _cursor(ctx, state_key)
        # No saved cursor: a first crawl, a store from before cursors were kept, or a crawl that
        # died before its first checkpoint. The newest stored post is no substitute: nothing
        # tells whether the pages older than it were ever stored (that is the crash this
        # cursor exists for). So the whole recent window is fetched again, bounded by max_pages.
        since_id = str(cursor) if cursor is not None else None
        if since_id is None:
            ctx.log.info("source=x target=%r no saved search cursor; fetching the recent window", key.handle)
        max_pages = ctx.settings.max_pages
        token: str | None = None
        newest: int | None = None
        oldest: int | None = None
        for page in range(1, max_pages + 1):
            try:
                body = api.search(key.handle, since_id, token)
            except InvalidRequest as exc:
                if not (since_id and page == 1 and "since_id" in str(exc)):
                    raise
                # A query quiet for more than 7 days: its cursor is older than recent search
                # reaches, and X refuses such a since_id. Everything search can still return is
                # newer, so asking without it loses nothing.
                ctx.log.info(
                    "source=x target=%r since_id=%s out of reach; searching without it", key.handle, since_id
                )
                since_id = None
                body = api.search(key.handle, None, None)
            result = x_parse.parse_search(body, key)
            self.succeeded += 1
            yield from result.posts
            newest = _max(newest, result.newest_id)
            oldest = result.oldest_id if result.oldest_id is not None else oldest
            token = result.next_token
            if token is None:
                break
        else:
            # The page bound cut the pagination short. The cursor still moves to the newest
            # post: keeping the old one would make every later crawl fetch the same newest
            # max_pages pages and never get past them. The price is the gap: posts between
            # since_id and the oldest fetched one are fetched neither now nor later. How many
            # pages it holds is unknown without fetching them; raise x.max_pages if this shows.
            ctx.log.warning(
                "source=x target=%r stopped after max_pages=%d with more pages left; posts between "
                "since_id=%s and id %s are not fetched (cursor moves to %s)",
                key.handle,
                max_pages,
                since_id or "(window start)",
                oldest,
                newest,
            )
        if newest is not None and (cursor is None or newest > cursor):
            ctx.checkpoint(state_key, str(newest))  # stores the posts yielded above, then the cursor


def _cursor(ctx: SourceContext, state_key: str) -> int | None:
    """The saved search cursor as a number; an unreadable one counts as none (full window)."""
    value = ctx.state.get(state_key)
    if value is None:
        return None
    if not value.isdigit():
        ctx.log.warning("source=x state=%r holds %r, not a post id; ignoring it", state_key, value)
        return None
    return int(value)


def _max(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)


def _bare(exc: SourceError) -> str:
    """The message without the "target: " prefix SourceError adds (fail_target adds its own)."""
    text = str(exc)
    prefix = f"{exc.target}: " if exc.target else ""
    return text[len(prefix) :] if prefix and text.startswith(prefix) else text


__all__ = ["RedirectAdapter", "XApi", "XSource", "classify", "counts_start", "reset_wait", "search_state_key"]
