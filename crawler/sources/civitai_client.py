"""Civitai's REST API through requests: counted, retried by us, fenced to the models endpoints.

Civitai publishes no rate limit ("no per-endpoint rate limit exposed as a stable contract";
Cloudflare limits at the edge) and "does not expose a Retry-After header for most failures":
a 429 or 5xx is retried after Retry-After when the answer has one, else with the exponential
backoff of `[rate_limits]` (the docs advise from about 1 s), bounded by `max_retries`, through
`call_with_retries`, every wait logged and counted. Redirects are not followed: a model moved
to another site (adult content moved to a second domain in April 2026) fails its target with
the new host named, so the operator sets that entry's `endpoint`.

Every request is taken from a budget first (`SourceContext.spend`): the API key's, shared
by all workers of a distributed crawl, else this machine's; nothing on a single machine.
Only `/api/v1/models` and `/api/v1/models/{id}` are requested; nothing in an answer (file,
image or avatar URLs) is ever fetched.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from crawler.errors import AccessDenied, SourceError
from crawler.sources.base import SourceContext
from crawler.sources.budget import BudgetKey
from crawler.sources.civitai_parse import MalformedAnswer
from crawler.sources.retry import Retry, call_with_retries

API = "/api/v1/models"


class _CountingAdapter(HTTPAdapter):
    """Only the models API; every request taken from the budget (`SourceContext.spend`), then counted."""

    def __init__(self, ctx: SourceContext, budget: BudgetKey) -> None:
        super().__init__(max_retries=0)  # retries are ours, counted and bounded
        self.ctx = ctx
        self.budget = budget

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        path = urlsplit(request.url or "").path
        if not (path == API or path.startswith(API + "/")):
            raise SourceError(f"refused to request {path} (only the models API is used)", target="civitai")
        self.ctx.spend(self.budget)
        self.ctx.count_request()
        return super().send(request, *args, **kwargs)


class _Retryable(Exception):
    def __init__(self, decision: Retry) -> None:
        super().__init__(decision.reason)
        self.decision = decision


def _classify(exc: BaseException) -> Retry | None:
    return exc.decision if isinstance(exc, _Retryable) else None


def _retry_after(response: requests.Response) -> float | None:
    try:
        return max(0.0, float(response.headers["retry-after"]))
    except (KeyError, ValueError):
        return None


@dataclass(frozen=True)
class NotFound:
    """A 404 and its body (`{"error": "No model with id N"}`)."""

    body: Any


def _error_words(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    words = body.get("error") or body.get("message") if isinstance(body, dict) else None
    return f"HTTP {response.status_code}: {str(words)[:200]}" if words else f"HTTP {response.status_code}"


class CivitaiApi:
    """GETs of the models endpoints on one or more base URLs, with bounded retries."""

    def __init__(self, ctx: SourceContext, api_key: str | None) -> None:
        self.ctx = ctx
        self.timeout = ctx.config.settings.rate_limits.timeout_seconds
        self.session = requests.Session()
        settings = ctx.settings
        # The API key's budget, shared by every worker; without a key, this machine's (per IP).
        self.budget = BudgetKey.of(
            "civitai",
            api_key or f"anonymous@{socket.gethostname()}",
            limit=settings.budget_requests,
            window_seconds=settings.budget_window_seconds,
        )
        adapter = _CountingAdapter(ctx, self.budget)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = ctx.config.user_agent()
        if api_key:
            self.session.headers["Authorization"] = f"Bearer {api_key}"  # never in a URL: URLs are logged

    def close(self) -> None:
        self.session.close()

    def get(
        self, base: str, path: str, params: Mapping[str, str | int], target: str
    ) -> dict[str, Any] | NotFound:
        def once() -> requests.Response:
            try:
                response = self.session.get(
                    base + path, params=dict(params), timeout=self.timeout, allow_redirects=False
                )
            except requests.Timeout as exc:
                raise _Retryable(Retry("timeout")) from exc
            except requests.ConnectionError as exc:
                raise _Retryable(Retry("connection")) from exc
            status = response.status_code
            if status == 429:
                raise _Retryable(Retry("429", _retry_after(response), rate_limited=True))
            if status >= 500:
                raise _Retryable(Retry(str(status), _retry_after(response)))
            return response

        try:
            response = call_with_retries(self.ctx, target, once, _classify, budget=self.budget)
        except requests.RequestException as exc:
            raise SourceError(f"request failed: {type(exc).__name__}", target=target) from None
        status = response.status_code
        if 300 <= status < 400:
            moved = urlsplit(response.headers.get("location", "")).netloc or "elsewhere"
            raise SourceError(f"HTTP {status}: moved to {moved}; set this entry's endpoint", target=target)
        if status == 404:
            return NotFound(_json_or_none(response))
        if status in (401, 403):
            raise AccessDenied(_error_words(response), target=target)
        if status >= 400:
            raise SourceError(_error_words(response), target=target)
        body = _json_or_none(response)
        if not isinstance(body, dict):
            raise MalformedAnswer("malformed answer: not a JSON object", target=target)
        return body


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
