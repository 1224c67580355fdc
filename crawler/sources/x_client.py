"""The tweepy client dfwatch uses for X: redirected, counted, retried by us, honest.

tweepy's host is fixed (`https://api.twitter.com` inside `BaseClient.request`), so a requests
adapter mounted on `client.session` rewrites it to `config.endpoint("x")`, takes every
request from the token's budget for its endpoint (`SourceContext.spend`: shared by the
workers of a distributed crawl, nothing on one machine) and counts it. `wait_on_rate_limit` stays off: tweepy's own wait recurses forever on a 429
without a reset header; rate limits and 5xx are retried here, bounded (`call_with_retries`,
which also fails a host that does not resolve at once after its one retry of the run).
Answers are raw JSON (`return_type=dict`) so the pure parsers (`x_parse`) see what X sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import requests
import tweepy
from requests.adapters import HTTPAdapter

from crawler.errors import AccessDenied, SourceError
from crawler.hostfail import host_of
from crawler.ratelimit import wait_seconds
from crawler.sources import x_parse
from crawler.sources.base import SourceContext
from crawler.sources.budget import BudgetKey
from crawler.sources.retry import Retry, call_with_retries

TWEEPY_HOST = "https://api.twitter.com"  # fixed inside tweepy.BaseClient.request
SEARCH_PAGE_SIZE = 100  # /2/tweets/search/recent: 10 default, 100 max
USER_FIELDS = ["public_metrics", "created_at", "protected"]
TWEET_FIELDS = ["created_at", "public_metrics", "author_id", "possibly_sensitive", "entities"]
# X limits each endpoint on its own (per app, per 15 minutes); path prefix -> [x] setting.
BUDGETS = {
    "/2/users/by": "budget_users_by",
    "/2/tweets/counts/recent": "budget_counts_recent",
    "/2/tweets/search/recent": "budget_search_recent",
}


class InvalidRequest(SourceError):
    """X refused the parameters (400), e.g. a `since_id` older than recent search reaches."""


class RedirectAdapter(HTTPAdapter):
    """Sends tweepy's requests to the configured base URL, with a timeout, counting each one."""

    def __init__(
        self,
        base_url: str,
        on_send: Callable[[], None],
        timeout: float,
        before_send: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(max_retries=0)  # retries are ours, counted and bounded
        self.base_url = base_url.rstrip("/")
        self.on_send = on_send
        self.timeout = timeout
        self.before_send = before_send  # called with the request's path (its budget)

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        url = request.url or ""
        if url.startswith(TWEEPY_HOST):
            if self.before_send is not None:
                self.before_send(url[len(TWEEPY_HOST) :].split("?", 1)[0])
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
        settings = ctx.settings
        self.budgets = {
            prefix: BudgetKey.of(
                "x",
                token,
                limit=getattr(settings, name),
                window_seconds=settings.budget_window_seconds,
                scope=name.removeprefix("budget_"),
            )
            for prefix, name in BUDGETS.items()
        }
        # Any other path shares the strictest of the three.
        self.other = BudgetKey.of(
            "x",
            token,
            limit=min(k.limit for k in self.budgets.values()),
            window_seconds=settings.budget_window_seconds,
            scope="other",
        )
        adapter = RedirectAdapter(
            cfg.endpoint("x"),
            ctx.count_request,
            cfg.settings.rate_limits.timeout_seconds,
            before_send=lambda path: ctx.spend(self.budget_for(path)),
        )
        self.client.session.mount(TWEEPY_HOST, adapter)
        self.hosts = (host_of(cfg.endpoint("x")),)

    def budget_for(self, path: str) -> BudgetKey:
        """The token's budget for one endpoint (`[x] budget_*`)."""
        return next((k for prefix, k in self.budgets.items() if path.startswith(prefix)), self.other)

    def close(self) -> None:
        self.client.session.close()

    def call(self, target: str, fn: Callable[[], Any], path: str = "") -> dict[str, Any]:
        """`fn` with bounded retries; a 429 on `path` holds back every worker on its budget."""
        try:
            result = call_with_retries(
                self.ctx, target, fn, classify, hosts=self.hosts, budget=self.budget_for(path)
            )
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
            "/2/users/by",
        )

    def counts(self, query: str, start: datetime) -> dict[str, Any]:
        return self.call(
            f"x counts {query!r}",
            lambda: self.client.get_recent_tweets_count(query, granularity="day", start_time=start),
            "/2/tweets/counts/recent",
        )

    def search(
        self,
        query: str,
        since_id: str | None,
        token: str | None,
        *,
        until_id: str | None = None,
        size: int = SEARCH_PAGE_SIZE,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"max_results": size, "tweet_fields": TWEET_FIELDS}
        if since_id:
            params["since_id"] = since_id
        if until_id:
            params["until_id"] = until_id
        if token:
            params["next_token"] = token
        return self.call(
            f"x search {query!r}",
            lambda: self.client.search_recent_tweets(query, **params),
            "/2/tweets/search/recent",
        )
