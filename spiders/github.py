"""GitHub tool repositories: stars, forks, watchers, open issues, release downloads, status.

Calls the documented REST API (`/repos/{owner}/{repo}`, `/repos/{owner}/{repo}/releases`),
so robots.txt does not apply; it stays within GitHub's published limits instead: 60
requests an hour without a token, 5,000 with `GITHUB_TOKEN`, one or two requests in flight,
and waits for `x-ratelimit-reset` / `Retry-After` when told to (RateLimitRetryMiddleware).

Conditional requests: the ETag of every URL is kept in `source_state` (source "github",
key the URL) together with what that answer said. A `304 Not Modified` costs no quota
(GitHub does not count it), and the spider re-emits the stored values as today's
observation, so the daily series continues without spending requests on repositories
that did not change.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from scrapy.http import Request, Response

from crawler.parsing import iso_to_utc
from crawler.records import CommunityObservation, utcnow
from crawler.sources.budget import BudgetKey
from spiders.base import DfwatchSpider, json_body, original_url
from spiders.middlewares import BUDGET_META
from spiders.parsers.github import (
    RepoFacts,
    block_reason,
    is_access_block,
    next_link,
    parse_repo,
    release_downloads,
)

if TYPE_CHECKING:
    from crawler.config import WatchTarget

SOURCE = "github_api"


class GithubSpider(DfwatchSpider):
    name = "github"
    # A JSON API with published rate limits: robots.txt does not apply (see the docstring).
    custom_settings = {"ROBOTSTXT_OBEY": False}  # noqa: RUF012 (Scrapy declares a plain class attribute)
    patient_rechecks = True  # a deleted repository (404) is asked again after 2, 4, then 7 days

    # -- conditional-request state ---------------------------------------------------
    def _state(self, url: str) -> dict[str, Any] | None:
        raw = self.ctx.state.get(url)
        if not raw:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def _remember(self, url: str, response: Response, data: dict[str, Any]) -> None:
        etag = response.headers.get(b"ETag")
        if etag:
            self.ctx.checkpoint(url, json.dumps({"etag": etag.decode("latin-1"), "data": data}))

    def budget(self) -> BudgetKey:
        """The token's budget (shared by all workers), or this machine's without a token (per IP)."""
        token = self.ctx.config.credential("GITHUB_TOKEN")
        settings = self.ctx.settings
        return BudgetKey.of(
            "github",
            token or f"anonymous@{socket.gethostname()}",
            limit=settings.budget_requests_token if token else settings.budget_requests_anonymous,
            window_seconds=settings.budget_window_seconds,
        )

    def api_request(self, url: str, callback: Any, target: WatchTarget, **cb_kwargs: Any) -> Request:
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        token = self.ctx.config.credential("GITHUB_TOKEN")
        if token:
            headers["Authorization"] = f"Bearer {token}"
        state = self._state(url)
        if state and state.get("etag"):
            headers["If-None-Match"] = state["etag"]
        meta = {BUDGET_META: self.budget()}
        return self.request(url, callback, target, headers=headers, meta=meta, cb_kwargs=cb_kwargs)

    # -- crawl ------------------------------------------------------------------------
    def requests_for(self, target: WatchTarget) -> Iterator[Request]:
        base = self.ctx.config.endpoint("github")
        yield self.api_request(f"{base}/repos/{target.key.handle}", self.parse_repo, target)

    def parse_repo(self, response: Response, target: WatchTarget) -> Iterator[Any]:
        url = original_url(response)
        if response.status == 304:
            state = self._state(url)
            if not state or "data" not in state:
                self.fail(target, "HTTP 304 without a stored answer")
                return
            facts = RepoFacts.from_json(state["data"])
            self.ctx.log.info("source=github target=%s not modified (no quota spent)", target.key.handle)
        elif response.status == 200:
            try:
                facts = parse_repo(json_body(response))
            except (ValueError, AttributeError) as exc:
                self.fail(target, f"unreadable repository answer: {exc}")
                return
            self._remember(url, response, facts.to_json())
        elif response.status == 404:
            yield self.status_observation(target, SOURCE, "not_found", "HTTP 404: Not Found")
            return
        else:
            try:
                body = json_body(response)
            except ValueError:
                body = None
            if is_access_block(response.status, body):
                yield self.status_observation(target, SOURCE, "blocked", block_reason(response.status, body))
            else:
                self.fail_response(target, response, "the repository endpoint")
            return
        base = self.ctx.config.endpoint("github")
        first = f"{base}/repos/{target.key.handle}/releases?per_page=100"
        yield self.api_request(first, self.parse_releases, target, facts=facts, total=0, page=1)

    def parse_releases(
        self, response: Response, target: WatchTarget, facts: RepoFacts, total: int, page: int
    ) -> Iterator[Any]:
        url = original_url(response)
        if response.status == 304:
            state = self._state(url) or {}
            data = state.get("data") or {}
            downloads, nxt = data.get("downloads"), data.get("next")
            if downloads is None:
                self.fail(target, "HTTP 304 without a stored releases page")
                yield self.observation(target, facts, None)
                return
        elif response.status == 200:
            try:
                downloads, _count = release_downloads(json_body(response))
            except (ValueError, AttributeError) as exc:
                self.fail(target, f"unreadable releases page {page}: {exc}")
                yield self.observation(target, facts, None)
                return
            nxt = next_link((response.headers.get(b"Link") or b"").decode("latin-1"))
            self._remember(url, response, {"downloads": downloads, "next": nxt})
        else:
            # The repository itself was read: keep its metrics, leave downloads absent.
            self.fail_response(target, response, f"releases page {page}")
            yield self.observation(target, facts, None)
            return
        total += int(downloads)
        if nxt and page >= self.ctx.settings.max_release_pages:
            self.ctx.log.warning(
                "source=github target=%s more than %d release pages: release_downloads left absent",
                target.key.handle,
                page,
            )
            yield self.observation(target, facts, None)
        elif nxt:
            yield self.api_request(nxt, self.parse_releases, target, facts=facts, total=total, page=page + 1)
        else:
            yield self.observation(target, facts, total)

    def observation(
        self, target: WatchTarget, facts: RepoFacts, downloads: int | None
    ) -> CommunityObservation:
        metrics = dict(facts.metrics)
        if downloads is not None:
            metrics["release_downloads"] = float(downloads)  # 0 for a repository without releases
        return CommunityObservation(
            key=target.key,
            observed_at=utcnow(),
            source=SOURCE,
            status=facts.status,
            status_reason=facts.status_reason,
            external_id=facts.external_id,
            title=facts.title,
            url=facts.url,
            created_at=iso_to_utc(facts.created_at),
            metrics=metrics,
        )
