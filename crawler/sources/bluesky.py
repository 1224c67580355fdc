"""The Bluesky source (the `atproto` SDK): account growth and takedowns, post searches, deletions.

Request plan of one crawl:

1. accounts: `app.bsky.actor.getProfiles`, 25 actors a call, on the public AppView
   (`DFWATCH_ENDPOINT_BLUESKY`, no login);
2. `app.bsky.actor.getProfile` only for accounts absent from that answer (taken down,
   deactivated, unknown): its XRPC error body names the cause. The answer is kept in
   `source_state` (`missing:<handle>`) and an account still absent is asked again after
   `[bluesky] recheck_missing_days`, so a day without news costs ⌈N / 25⌉ calls;
3. with `BLUESKY_HANDLE` and `BLUESKY_APP_PASSWORD` only: one `com.atproto.server.createSession`
   at `DFWATCH_ENDPOINT_BLUESKY_AUTH`, then `app.bsky.feed.searchPosts` (`sort=latest`,
   100 posts a page) per search from its saved time (`search:<query>`), at most
   `max_pages` pages; the time moves through `SourceContext.checkpoint`, after the posts;
4. the compliance sweep: `app.bsky.feed.getPosts`, 25 stored post URIs a call; a post the
   answer leaves out was deleted (or taken down) and loses its text and author.

The session lives in the SDK's client for the crawl only: its tokens are never stored,
exported or logged, and the app password goes nowhere but the login request. Every HTTP
request the SDK sends (retries and the login included) is counted through an httpx event
hook; retries are ours (`crawler.sources.retry`), honouring `ratelimit-reset` / `Retry-After`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from atproto_client import Client
from atproto_client import exceptions as xrpc
from atproto_client.models.utils import get_model_as_dict
from atproto_client.request import Request

from crawler.config import WatchTarget
from crawler.errors import AccessDenied, SourceError
from crawler.parsing import iso_to_utc
from crawler.records import CommunityKey, CommunityObservation, PostStateUpdate, Record, utcnow
from crawler.sources import bluesky_parse as parse
from crawler.sources.base import Source, SourceContext
from crawler.sources.retry import Retry, call_with_retries

ACTORS_PER_CALL = 25  # app.bsky.actor.getProfiles: maxLength 25
URIS_PER_CALL = 25  # app.bsky.feed.getPosts: maxLength 25
SEARCH_PAGE = 100  # app.bsky.feed.searchPosts: limit 1..100
# Search filters by sortAt (the earlier of createdAt and indexedAt): a post indexed a little
# after the last crawl can sort before its newest post, so each search reaches this far behind.
SEARCH_MARGIN = timedelta(hours=1)
STATE_KEY_MAX = 512  # source_state.key is a String(512)

PART_ACCOUNTS = "bluesky accounts"
PART_SEARCHES = "bluesky searches"
PART_SWEEP = "bluesky sweep"
SEARCH_HINT = "set BLUESKY_HANDLE and BLUESKY_APP_PASSWORD to enable them (accounts need no login)"


class Refused(SourceError):
    """The AppView answered with an XRPC error (4xx); `body` is its `{error, message}`."""

    def __init__(self, message: str, *, target: str, status: int, body: dict[str, Any] | None) -> None:
        super().__init__(message, target=target)
        self.status = status
        self.body = body


def _error_body(exc: xrpc.RequestErrorBase) -> dict[str, Any] | None:
    content = exc.response.content if exc.response is not None else None
    if content is None or isinstance(content, bytes | dict):
        return content if isinstance(content, dict) else None
    error, message = getattr(content, "error", None), getattr(content, "message", None)
    return {"error": error, "message": message} if error else None


def _words(exc: xrpc.RequestErrorBase) -> str:
    """The answer's status and XRPC error (`400 InvalidRequest: Profile not found`), bounded."""
    status = exc.response.status_code if exc.response is not None else None
    body = _error_body(exc)
    text = f"HTTP {status}" if status else type(exc).__name__
    if body:
        text += f" {body.get('error')}" + (f": {body['message']}" if body.get("message") else "")
    return text[:300]


def classify(exc: BaseException) -> Retry | None:
    """Retry 429 (when the server says), 5xx, 502/409/413 and lost connections; nothing else."""
    if isinstance(exc, xrpc.RateLimitExceededError):
        wait = exc.retry_after
        if wait is None and exc.reset_at is not None:
            wait = max(0.0, exc.reset_at.timestamp() - time.time())
        return Retry("429", wait, rate_limited=True)
    if isinstance(exc, xrpc.InvokeTimeoutError):
        return Retry("timeout")
    if isinstance(exc, xrpc.NetworkError):
        status = exc.response.status_code if exc.response is not None else None
        return Retry(str(status) if status else "network error")
    if (
        isinstance(exc, xrpc.RequestException)
        and exc.response is not None
        and exc.response.status_code >= 500
    ):
        return Retry(str(exc.response.status_code))
    return None


class XrpcApi:
    """One SDK client (public AppView, or the logged-in PDS) with counting and bounded retries."""

    def __init__(self, ctx: SourceContext, base_url: str) -> None:
        self.ctx = ctx
        cfg = ctx.config
        self.request = Request(
            timeout=cfg.settings.rate_limits.timeout_seconds,
            event_hooks={"request": [self._sent]},
        )
        # An honest User-Agent: ours (version, contact), then the SDK's own.
        self.request.set_additional_headers({"User-Agent": f"{cfg.user_agent()} atproto-python"})
        self.client = Client(base_url=base_url, request=self.request)

    def _sent(self, _request: httpx.Request) -> None:
        self.ctx.count_request()

    def close(self) -> None:
        self.request.close()

    def call(self, target: str, fn: Callable[[], Any]) -> dict[str, Any]:
        try:
            result = call_with_retries(self.ctx, target, fn, classify)
        except xrpc.UnauthorizedError as exc:
            raise AccessDenied(_words(exc), target=target) from None
        except xrpc.BadRequestError as exc:
            status = exc.response.status_code if exc.response is not None else 400
            raise Refused(_words(exc), target=target, status=status, body=_error_body(exc)) from None
        except xrpc.RequestException as exc:
            status = exc.response.status_code if exc.response is not None else 0
            raise Refused(_words(exc), target=target, status=status, body=_error_body(exc)) from None
        except xrpc.NetworkError as exc:
            raise SourceError(f"request failed: {_words(exc)}", target=target) from None
        except xrpc.ModelError as exc:
            first = str(exc).splitlines()[0] if str(exc) else "unexpected shape"
            raise parse.MalformedAnswer(f"malformed answer: {first}", target=target) from None
        except ValueError:  # a body announced as JSON that is not (cut short)
            raise parse.MalformedAnswer("malformed answer: not JSON", target=target) from None
        return get_model_as_dict(result)

    # -- the calls ------------------------------------------------------------------
    def profiles(self, actors: Sequence[str], target: str) -> dict[str, Any]:
        return self.call(
            target, lambda: self.client.app.bsky.actor.get_profiles(params={"actors": list(actors)})
        )

    def profile(self, actor: str, target: str) -> dict[str, Any]:
        return self.call(target, lambda: self.client.app.bsky.actor.get_profile(params={"actor": actor}))

    def search(self, query: str, since: str, cursor: str | None, target: str) -> dict[str, Any]:
        params: dict[str, Any] = {"q": query, "sort": "latest", "since": since, "limit": SEARCH_PAGE}
        if cursor:
            params["cursor"] = cursor
        return self.call(target, lambda: self.client.app.bsky.feed.search_posts(params=params))

    def posts(self, uris: Sequence[str], target: str) -> dict[str, Any]:
        return self.call(target, lambda: self.client.app.bsky.feed.get_posts(params={"uris": list(uris)}))

    def login(self, handle: str, password: str) -> None:
        # fetch_bsky_profile=False: the logged-in account's own profile is not needed.
        call_with_retries(
            self.ctx,
            PART_SEARCHES,
            lambda: self.client.login(handle, password, fetch_bsky_profile=False),
            classify,
        )


class RedactSecrets(logging.Filter):
    """Blanks the app password and the session's tokens in any record that would carry them."""

    def __init__(self, secrets: Callable[[], Sequence[str]]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = [s for s in self.secrets() if s]
        if secrets:
            text = record.getMessage()
            if any(s in text for s in secrets):
                for s in secrets:
                    text = text.replace(s, "[redacted]")
                record.msg, record.args = text, ()
        return True


# Loggers of the HTTP stack under the SDK; a filter on each guards what they emit.
_HTTP_LOGGERS = ("httpx", "httpcore", "httpcore.http11", "httpcore.connection", "atproto_client")


def search_state_key(query: str) -> str:
    key = f"search:{query}"
    return key if len(key) <= STATE_KEY_MAX else "search:sha256:" + hashlib.sha256(query.encode()).hexdigest()


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


class _MissingAccounts:
    """Accounts getProfiles leaves out, with what getProfile last said of them (`source_state`
    key `missing`: {handle: {"checked": ISO, "status": ..., "reason": ...}}), read once and
    written once a crawl, and only when it changed."""

    KEY = "missing"

    def __init__(self, entries: dict[str, dict[str, str]]) -> None:
        self.entries = entries
        self.changed = False

    @classmethod
    def load(cls, ctx: SourceContext) -> _MissingAccounts:
        try:
            value = json.loads(ctx.state.get(cls.KEY) or "{}")
        except ValueError:
            value = {}
        entries = {k: v for k, v in value.items() if isinstance(v, dict)} if isinstance(value, dict) else {}
        return cls(entries)

    def recent(self, key: CommunityKey, now: datetime, within: timedelta) -> tuple[str, str | None] | None:
        entry = self.entries.get(key.handle.lower())
        checked = iso_to_utc(entry.get("checked")) if entry else None
        if entry is None or checked is None or not entry.get("status") or now - checked >= within:
            return None
        return entry["status"], entry.get("reason") or None

    def remember(self, key: CommunityKey, now: datetime, status: str, reason: str) -> None:
        self.entries[key.handle.lower()] = {"checked": _iso(now), "status": status, "reason": reason}
        self.changed = True

    def forget(self, key: CommunityKey) -> None:
        if self.entries.pop(key.handle.lower(), None) is not None:
            self.changed = True

    def save(self, ctx: SourceContext) -> None:
        if self.changed:
            ctx.checkpoint(self.KEY, json.dumps(self.entries, sort_keys=True))
            self.changed = False


class BlueskySource(Source):
    """Accounts (no login) and searches (with an app password) on Bluesky, deletions honoured."""

    name = "bluesky"
    shard_whole = True  # the missing accounts' record is read once and written once a crawl
    answered: int = 0  # answers received this crawl; none at all means the source failed

    def crawl(self, ctx: SourceContext) -> Iterator[Record]:
        accounts = [t for t in ctx.targets if t.key.kind == "account"]
        searches = [t for t in ctx.targets if t.key.kind == "query"]
        handle = ctx.config.credential("BLUESKY_HANDLE")
        password = ctx.config.credential("BLUESKY_APP_PASSWORD")
        public = XrpcApi(ctx, ctx.config.endpoint("bluesky"))
        auth: XrpcApi | None = None

        def secrets() -> list[str]:
            session = auth.client._session if auth is not None else None  # read only to redact it
            return [password or "", *((session.access_jwt, session.refresh_jwt) if session else ())]

        redact = RedactSecrets(secrets)
        for name in _HTTP_LOGGERS:
            logging.getLogger(name).addFilter(redact)
        self.answered = 0
        new_ids: set[str] = set()
        try:
            yield from self._accounts(ctx, public, accounts)
            if searches and not (handle and password):
                missing = " and ".join(
                    v for v, s in (("BLUESKY_HANDLE", handle), ("BLUESKY_APP_PASSWORD", password)) if not s
                )
                ctx.log.warning(
                    "source=bluesky part=searches skipped: set %s to enable them (accounts need no login)",
                    missing,
                )
            elif searches and handle and password:
                auth = XrpcApi(ctx, ctx.config.endpoint("bluesky_auth"))
                new_ids = yield from self._searches(ctx, auth, handle, password, searches)
            logged_in = auth is not None and auth.client._session is not None
            yield from self._sweep(ctx, auth if logged_in and auth is not None else public, new_ids)
        finally:
            public.close()
            if auth is not None:
                auth.close()
            for name in _HTTP_LOGGERS:
                logging.getLogger(name).removeFilter(redact)
        if self.answered == 0 and ctx.stats.failures:
            raise SourceError(
                "no Bluesky endpoint answered: " + "; ".join(ctx.stats.failures[:3]), target="bluesky"
            )

    # -- accounts ---------------------------------------------------------------------
    def _accounts(self, ctx: SourceContext, api: XrpcApi, targets: Sequence[WatchTarget]) -> Iterator[Record]:
        keys = [t.key for t in targets]
        missing = _MissingAccounts.load(ctx)
        batches = parse.chunks(keys, ACTORS_PER_CALL)
        for i, batch in enumerate(batches, 1):
            target = f"{PART_ACCOUNTS} {i}/{len(batches)} ({batch[0].handle}..{batch[-1].handle})"
            try:
                body = api.profiles([k.handle for k in batch], target)
                result = parse.parse_profiles(body, batch, utcnow())
            except AccessDenied as exc:
                ctx.fail_target(PART_ACCOUNTS, str(exc))
                break  # the other batches would be refused alike
            except Refused as exc:
                # A batch refused as a whole (one malformed actor can do that): each alone.
                ctx.log.info(
                    "source=bluesky target=%r refused as a batch (%s); asking one by one", target, exc
                )
                result = parse.ProfilesResult([], list(batch))
            except SourceError as exc:
                ctx.fail_target(target, str(exc))
                continue
            else:
                self.answered += 1
            for obs in result.observations:
                missing.forget(obs.key)
            yield from result.observations
            for key in result.missing:
                found = self._missing(ctx, api, key, missing)
                if found is not None:
                    yield found
        missing.save(ctx)

    def _missing(
        self, ctx: SourceContext, api: XrpcApi, key: CommunityKey, missing: _MissingAccounts
    ) -> CommunityObservation | None:
        """An account the batch left out: its status from getProfile's error, or the last one read."""
        now = utcnow()
        known = missing.recent(key, now, timedelta(days=ctx.settings.recheck_missing_days))
        if known is not None:
            return CommunityObservation(key, now, parse.SOURCE, status=known[0], status_reason=known[1])
        target = f"bluesky account {key.handle}"
        try:
            body = api.profile(key.handle, target)
        except Refused as exc:
            self.answered += 1
            decided = parse.status_from_error(exc.body)
            if decided is None:
                ctx.fail_target(target, str(exc))
                return None
            status, reason = decided
            ctx.log.info("source=bluesky target=%s status=%s reason=%r", key.handle, status, reason)
            missing.remember(key, now, status, reason)
            return CommunityObservation(key, now, parse.SOURCE, status=status, status_reason=reason)
        except SourceError as exc:
            ctx.fail_target(target, str(exc))
            return None
        self.answered += 1
        missing.forget(key)
        return parse.profile_observation(key, body, now)

    # -- searches ---------------------------------------------------------------------
    def _searches(
        self, ctx: SourceContext, api: XrpcApi, handle: str, password: str, targets: Sequence[WatchTarget]
    ) -> Generator[Record, None, set[str]]:
        new_ids: set[str] = set()
        try:
            api.login(handle, password)
        except xrpc.AtProtocolError as exc:
            detail = _words(exc) if isinstance(exc, xrpc.RequestErrorBase) else type(exc).__name__
            ctx.fail_target(
                PART_SEARCHES, f"login refused ({detail}); check BLUESKY_HANDLE and BLUESKY_APP_PASSWORD"
            )
            return new_ids
        except SourceError as exc:  # still rate limited, or the server kept failing
            ctx.fail_target(PART_SEARCHES, f"login failed: {exc}")
            return new_ids
        self.answered += 1
        for target in targets:
            try:
                new_ids |= yield from self._search(ctx, api, target.key)
            except AccessDenied as exc:
                ctx.fail_target(PART_SEARCHES, str(exc))
                return new_ids
            except SourceError as exc:
                ctx.fail_target(f"{PART_SEARCHES} {target.key.handle!r}", str(exc))
        return new_ids

    def _search(
        self, ctx: SourceContext, api: XrpcApi, key: CommunityKey
    ) -> Generator[Record, None, set[str]]:
        """Posts sorted at or after the search's saved time (less a margin), newest first.

        The saved time moves only once the pages ended (or the page bound was reached), after
        the posts are stored: a crawl that dies mid-way searches the same window again.
        """
        state_key = search_state_key(key.handle)
        saved = iso_to_utc(ctx.state.get(state_key))
        now = utcnow()
        since = (saved - SEARCH_MARGIN) if saved else now - timedelta(days=ctx.settings.lookback_days)
        target = f"{PART_SEARCHES} {key.handle!r}"
        cursor: str | None = None
        newest = saved
        ids: set[str] = set()
        for _page in range(ctx.settings.max_pages):
            result = parse.parse_search(api.search(key.handle, _iso(since), cursor, target), key)
            self.answered += 1
            for post in result.posts:
                ids.add(post.external_id)
                yield post
            if result.newest is not None and (newest is None or result.newest > newest):
                newest = result.newest
            cursor = result.cursor
            if cursor is None:
                break
        else:
            ctx.log.warning(
                "source=bluesky target=%r stopped after max_pages=%d with more pages left; posts older than "
                "the last page and newer than %s are not fetched",
                key.handle,
                ctx.settings.max_pages,
                _iso(since),
            )
        if newest is not None and newest != saved:
            ctx.checkpoint(state_key, _iso(newest))  # stores the posts above first
        return ids

    # -- deletions --------------------------------------------------------------------
    def _sweep(self, ctx: SourceContext, api: XrpcApi, skip: set[str]) -> Iterator[Record]:
        since = utcnow() - timedelta(days=ctx.settings.compliance_days)
        uris = [u for u in ctx.known.ids_since("bluesky", since) if u not in skip]
        batches = parse.chunks(uris, URIS_PER_CALL)
        for i, batch in enumerate(batches, 1):
            target = f"{PART_SWEEP} {i}/{len(batches)}"
            try:
                shown = parse.shown_uris(api.posts(batch, target))
            except SourceError as exc:
                ctx.fail_target(target, str(exc))
                continue
            self.answered += 1
            now = utcnow()
            for uri in batch:
                if uri not in shown:
                    yield PostStateUpdate("bluesky", uri, "deleted", now)


__all__ = ["BlueskySource", "RedactSecrets", "XrpcApi", "classify", "search_state_key"]
