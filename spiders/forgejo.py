"""Forgejo and Gitea repositories (Codeberg by default): stars, forks, watchers, open issues,
release downloads, status.

Calls the documented REST API (`/api/v1/repos/{owner}/{repo}`, `.../releases?limit=50`), so
robots.txt does not apply. Forgejo itself has no API rate limit; instances put one in front of
it (Codeberg's reverse proxy allows a few thousand requests per half hour per address and
answers `429` with `Retry-After`), which RateLimitRetryMiddleware honours. A small instance
is someone's server: one or two requests in flight, AutoThrottle, nothing more.

State (`source_state`, source "forgejo"): `repo:<handle>` keeps what the repository
endpoint said last (and its ETag, where the instance sends one), `releases:<handle>:<page>`
each releases page's sum; a value is written only when it changed. Forgejo and Gitea send
no ETags on API answers (`Cache-Control: max-age=0, private, must-revalidate, no-transform`),
a caching proxy in front of an instance may; where one comes, `If-None-Match` is sent and a
`304` re-emits the stored values. The repository state is also the memory that a repository
was seen: a 404 after that is `not_found`; a 404 for one never seen fails the target (a
misspelt entry, or a repository that is not there yet), so a typo never reads as a deletion.

`FORGEJO_TOKEN` goes only to the default instance (`Authorization: token ...`); another
instance named in the watchlist never sees it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from scrapy.http import Request, Response

from crawler.parsing import iso_to_utc
from crawler.records import CommunityObservation, utcnow
from spiders.base import DfwatchSpider, json_body, original_url
from spiders.parsers.forgejo import (
    RepoFacts,
    error_message,
    next_link,
    parse_repo,
    release_downloads,
    same_origin,
)

if TYPE_CHECKING:
    from crawler.config import WatchTarget

SOURCE = "forgejo_api"
PAGE_SIZE = 50  # Gitea's and Forgejo's default [api] MAX_RESPONSE_ITEMS: a larger limit is cut to it


def instance_base(instance: str) -> str:
    """'git.example.org' → 'https://git.example.org'; a full http(s) URL is kept as it is."""
    if instance.lower().startswith(("http://", "https://")):
        return instance.rstrip("/")
    return f"https://{instance.rstrip('/')}"


class ForgejoSpider(DfwatchSpider):
    name = "forgejo"
    # A JSON API with the instance's own limits: robots.txt does not apply (see the docstring).
    custom_settings = {"ROBOTSTXT_OBEY": False}  # noqa: RUF012 (Scrapy declares a plain class attribute)

    # -- state ------------------------------------------------------------------------
    def _state(self, key: str) -> dict[str, Any] | None:
        raw = self.ctx.state.get(key)
        if not raw:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def _remember(self, key: str, url: str, response: Response, data: dict[str, Any]) -> None:
        etag = response.headers.get(b"ETag")
        value = {"url": url, "etag": etag.decode("latin-1") if etag else None, "data": data}
        text = json.dumps(value, sort_keys=True)
        if self.ctx.state.get(key) != text:  # quiet repositories cost no writes
            self.ctx.checkpoint(key, text)

    # -- requests ---------------------------------------------------------------------
    def _base(self, target: WatchTarget) -> str:
        instance = target.extra.get("instance")
        return instance_base(str(instance)) if instance else self.ctx.config.endpoint("forgejo")

    def api_request(
        self, url: str, key: str, callback: Any, target: WatchTarget, **cb_kwargs: Any
    ) -> Request:
        headers = {"Accept": "application/json"}
        token = self.ctx.config.credential("FORGEJO_TOKEN")
        if token and not target.extra.get("instance"):  # the default instance only
            headers["Authorization"] = f"token {token}"
        state = self._state(key)
        if state and state.get("etag") and state.get("url") == url:
            headers["If-None-Match"] = str(state["etag"])
        return self.request(url, callback, target, headers=headers, cb_kwargs={"key": key, **cb_kwargs})

    def requests_for(self, target: WatchTarget) -> Iterator[Request]:
        owner, _, name = str(target.extra["repo"]).partition("/")
        url = f"{self._base(target)}/api/v1/repos/{quote(owner)}/{quote(name)}"
        yield self.api_request(url, f"repo:{target.key.handle.lower()}", self.parse_repo, target)

    # -- the repository ---------------------------------------------------------------
    def parse_repo(self, response: Response, target: WatchTarget, key: str) -> Iterator[Any]:
        url = original_url(response)
        state = self._state(key)
        if response.status == 304:
            if not state or "data" not in state:
                self.fail(target, "HTTP 304 without a stored answer")
                return
            facts = RepoFacts.from_json(state["data"])
            self.ctx.log.info("source=forgejo target=%s not modified", target.key.handle)
        elif response.status == 200:
            try:
                facts = parse_repo(json_body(response))
            except (ValueError, AttributeError) as exc:
                self.fail(target, f"unreadable repository answer: {exc}")
                return
            self._remember(key, url, response, facts.to_json())
        else:
            yield from self._refused(response, target, seen=state is not None)
            return
        if not facts.has_releases:
            # The releases unit is switched off: no release can be read, so none is counted.
            yield self.observation(target, facts, None)
        elif facts.releases == 0:
            yield self.observation(target, facts, 0)  # known: no releases, no request spent
        else:
            owner, _, name = str(target.extra["repo"]).partition("/")
            first = f"{self._base(target)}/api/v1/repos/{quote(owner)}/{quote(name)}/releases?limit={PAGE_SIZE}&page=1"
            yield self._releases_request(first, target, facts, total=0, page=1)

    def _refused(self, response: Response, target: WatchTarget, *, seen: bool) -> Iterator[Any]:
        try:
            body = json_body(response)
        except ValueError:
            body = None
        words = error_message(body)
        if response.status == 404:
            reason = "HTTP 404" + (f": {words}" if words else ": Not Found")
            if seen:
                yield self.status_observation(target, SOURCE, "not_found", reason)
            else:
                host = self._base(target).split("://", 1)[-1]
                self.fail(target, f"{reason} (never seen on {host}: check the watchlist entry)")
        elif response.status == 451:
            reason = "HTTP 451" + (f": {words}" if words else ": Unavailable For Legal Reasons")
            yield self.status_observation(target, SOURCE, "blocked", reason)
        else:
            self.fail_response(target, response, "the repository endpoint")

    # -- releases ---------------------------------------------------------------------
    def _releases_request(
        self, url: str, target: WatchTarget, facts: RepoFacts, total: int, page: int
    ) -> Request:
        key = f"releases:{target.key.handle.lower()}:{page}"
        return self.api_request(url, key, self.parse_releases, target, facts=facts, total=total, page=page)

    def parse_releases(
        self, response: Response, target: WatchTarget, key: str, facts: RepoFacts, total: int, page: int
    ) -> Iterator[Any]:
        url = original_url(response)
        if response.status == 304:
            data = (self._state(key) or {}).get("data") or {}
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
            self._remember(key, url, response, {"downloads": downloads, "next": nxt})
        else:
            # The repository itself was read: keep its metrics, leave downloads absent.
            self.fail_response(target, response, f"releases page {page}")
            yield self.observation(target, facts, None)
            return
        total += int(downloads)
        if nxt and not same_origin(nxt, url):
            self.fail(
                target, f"releases page {page} links to another site ({nxt.split('?', 1)[0]}); not followed"
            )
            yield self.observation(target, facts, None)
        elif nxt and page >= self.ctx.settings.max_release_pages:
            self.ctx.log.warning(
                "source=forgejo target=%s more than %d release pages: release_downloads left absent",
                target.key.handle,
                page,
            )
            yield self.observation(target, facts, None)
        elif nxt:
            yield self._releases_request(nxt, target, facts, total, page + 1)
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
