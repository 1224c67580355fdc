"""GitHub's REST API: a repository, its releases, conditional requests and the rate limit.

Shapes from /work/shared/fixtures/recorded/github/ (PyGithub's replay data): the repository
object of repo.json, the release and asset objects of release.json, the bare 304 of
not_modified_304.json and the 404 of not_found_404.json. The 451 body follows GitHub's
documented DMCA takedown answer ({"message": "Repository access blocked", "block": {...}}).

Primary rate limit (GitHub docs, "Rate limits for the REST API"): 60 requests an hour per IP
without a token, 5,000 an hour per token; x-ratelimit-limit / -remaining / -reset (epoch) /
-used / -resource on every answer; past the limit a 403 with remaining 0. A 304 answered to
If-None-Match costs nothing. A renamed repository answers 301 to its new location.

Controls (crawler.sim.scenario): an entity may pin `fields` of its repository object, its
`release_downloads`, and `moved_to` (the full name it was renamed to).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from crawler.sim.content import releases
from crawler.sim.platform import Platform
from crawler.sim.ratelimit import Budget, FixedWindowLimiter
from crawler.sim.wire import Route, SimRequest, SimResponse, http_date, route
from crawler.sim.world import Entity

API = "https://api.github.com"
DOCS = "https://docs.github.com/rest"


def _ts(t: float | datetime) -> str:
    dt = t if isinstance(t, datetime) else datetime.fromtimestamp(t, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


class GitHub(Platform):
    name = "github"

    def __init__(self, world: Any, **kwargs: Any) -> None:
        super().__init__(world, **kwargs)
        self.limiters["anonymous"] = FixedWindowLimiter(60, 3600, time_fn=self.time_fn)
        self.limiters["token"] = FixedWindowLimiter(5000, 3600, time_fn=self.time_fn)

    def routes(self) -> list[Route]:
        p = self.name
        return [
            route(p, "repo", "GET", r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/?$", self.repo),
            route(
                p, "releases", "GET", r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/releases/?$", self.releases
            ),
        ]

    def too_many(self, retry_after: int) -> SimResponse:
        """A secondary rate limit: GitHub answers 429 (or 403) with retry-after."""
        return SimResponse.json(
            429,
            {
                "message": "You have exceeded a secondary rate limit. Please wait a few "
                "minutes before you try again.",
                "documentation_url": f"{DOCS}/overview/rate-limits-for-the-rest-api",
            },
            {"retry-after": str(retry_after)},
        )

    def server_error(self, status: int) -> SimResponse:
        return SimResponse.json(
            status, {"message": "Server Error"} if status != 503 else {"message": "Service Unavailable"}
        )

    # -- budget ---------------------------------------------------------------------
    def _budget(self, req: SimRequest, spend: bool) -> tuple[Budget, str]:
        auth = req.header("authorization") or ""
        token = auth.split(" ", 1)[1] if " " in auth else ""
        name, key = ("token", token) if token else ("anonymous", req.client_ip)
        limiter = self.limiters[name]
        return (limiter.hit(key) if spend else limiter.peek(key)), ("user ID 1" if token else req.client_ip)

    @staticmethod
    def _headers(b: Budget) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(b.limit),
            "x-ratelimit-remaining": str(b.remaining),
            "x-ratelimit-reset": str(int(b.reset_at)),
            "x-ratelimit-used": str(b.used),
            "x-ratelimit-resource": "core",
        }

    def _answer(self, req: SimRequest, build: Any) -> SimResponse:
        """Shared path: rate limit, existence, 451, conditional GET, then the body."""
        full = f"{req.params['owner']}/{req.params['repo']}"
        e = self.world.get("github", "repo", full)
        if e is not None and e.extra.get("moved_to"):
            new = f"/repos/{e.extra['moved_to']}" + req.path[len(f"/repos/{full}") :]
            query = urlencode(req.query, doseq=True)
            location = f"{req.base_url}{new}" + (f"?{query}" if query else "")
            return SimResponse.json(
                301,
                {"message": "Moved Permanently", "url": location, "documentation_url": DOCS},
                {"Location": location},
            )
        status = self.world.status(e) if e else "not_found"
        body: Any = None
        if status not in ("not_found", "blocked"):
            assert e is not None
            body = build(e, req)
        if isinstance(body, SimResponse):
            return body
        payload = json.dumps(body, separators=(",", ":")).encode() if body is not None else b""
        etag = 'W/"' + hashlib.sha256(payload).hexdigest()[:40] + '"'
        if body is not None and req.header("if-none-match") == etag:
            budget, _ = self._budget(req, spend=False)
            return SimResponse(304, b"", {"etag": etag, **self._headers(budget)})
        budget, who = self._budget(req, spend=True)
        headers = self._headers(budget)
        if not budget.allowed:
            return SimResponse.json(
                403,
                {
                    "message": f"API rate limit exceeded for {who}. (But here's the good news: "
                    "Authenticated requests get a higher rate limit. Check out the "
                    "documentation for more details.)",
                    "documentation_url": f"{DOCS}/overview/rate-limits-for-the-rest-api",
                },
                headers,
            )
        if status == "not_found":
            return SimResponse.json(
                404,
                {
                    "message": "Not Found",
                    "documentation_url": f"{DOCS}/repos/repos#get-a-repository",
                    "status": "404",
                },
                headers,
            )
        if status == "blocked":
            assert e is not None
            ev = self.world.event_at(e)
            return SimResponse.json(
                451,
                {
                    "message": "Repository access blocked",
                    "block": {
                        "reason": ev.reason if ev and ev.reason else "dmca",
                        "created_at": _ts(ev.at) if ev else None,
                        "html_url": f"https://github.com/github/dmca/blob/master/{ev.at.year if ev else 2018}/sim-{e.index}.md",
                    },
                },
                headers,
            )
        resp = SimResponse(
            200,
            payload,
            {
                "Content-Type": "application/json; charset=utf-8",
                "etag": etag,
                "last-modified": http_date(self.world.now().timestamp()),
                **headers,
            },
        )
        return resp

    # -- shapes ---------------------------------------------------------------------
    def repo_data(self, e: Entity) -> dict[str, Any]:
        owner, name = e.name.split("/", 1)
        stars = self.world.members(e)
        r = self.world.rng("repo", e.key)
        forks = int(stars * r.uniform(0.1, 0.3))
        watchers = max(1, int(stars * r.uniform(0.01, 0.04)))
        issues = int(stars * r.uniform(0.002, 0.02))
        now = self.world.now()
        return {
            "id": 100_000_000 + e.index * 7919,
            "name": name,
            "full_name": e.name,
            "private": False,
            "owner": {
                "login": owner,
                "id": 1_000_000 + e.index,
                "type": "User",
                "html_url": f"https://github.com/{owner}",
                "url": f"{API}/users/{owner}",
            },
            "html_url": f"https://github.com/{e.name}",
            "description": f"{e.title}: a simulated repository.",
            "fork": False,
            "url": f"{API}/repos/{e.name}",
            "created_at": _ts(e.created),
            "updated_at": _ts(now),
            "pushed_at": _ts(now),
            "homepage": None,
            "size": 1000 + stars,
            "stargazers_count": stars,
            "watchers_count": stars,
            "language": "Python",
            "has_issues": True,
            "forks_count": forks,
            "archived": self.world.status(e) == "archived",
            "disabled": False,
            "open_issues_count": issues,
            "license": None,
            "topics": ["deepfakes", "face-swap"],
            "visibility": "public",
            "forks": forks,
            "open_issues": issues,
            "watchers": stars,
            "default_branch": "master",
            "network_count": forks,
            "subscribers_count": watchers,
        } | json.loads(json.dumps(e.extra.get("fields", {})))

    def release_data(self, e: Entity, i: int, rel: dict[str, Any]) -> dict[str, Any]:
        now = self.world.now().timestamp()
        rid = 10_000_000 + e.index * 1000 + i
        days = max(0.0, (now - float(rel["published"])) / 86400)
        tag = str(rel["tag"])
        assets = []
        split = (
            (("windows.zip", 1.0),) if "downloads" in rel else (("windows.zip", 0.8), ("linux.tar.gz", 0.2))
        )
        for j, (suffix, share) in enumerate(split):
            asset_name = f"{e.name.split('/')[1]}-{tag}-{suffix}"
            assets.append(
                {
                    "url": f"{API}/repos/{e.name}/releases/assets/{rid * 10 + j}",
                    "id": rid * 10 + j,
                    "name": asset_name,
                    "label": None,
                    "content_type": "application/octet-stream",
                    "state": "uploaded",
                    "size": 50_000_000,
                    "download_count": int(rel["downloads"])
                    if "downloads" in rel
                    else int(float(rel["rate"]) * share * days),
                    "created_at": _ts(float(rel["published"])),
                    "updated_at": _ts(float(rel["published"])),
                    "browser_download_url": f"https://github.com/{e.name}/releases/download/{tag}/{asset_name}",
                }
            )
        return {
            "url": f"{API}/repos/{e.name}/releases/{rid}",
            "html_url": f"https://github.com/{e.name}/releases/tag/{tag}",
            "id": rid,
            "tag_name": tag,
            "target_commitish": "master",
            "name": tag,
            "draft": False,
            "prerelease": False,
            "created_at": _ts(float(rel["published"])),
            "published_at": _ts(float(rel["published"])),
            "assets": assets,
            "tarball_url": f"{API}/repos/{e.name}/tarball/{tag}",
            "zipball_url": f"{API}/repos/{e.name}/zipball/{tag}",
        }

    # -- endpoints ------------------------------------------------------------------
    def repo(self, req: SimRequest) -> SimResponse:
        return self._answer(req, lambda e, _req: self.repo_data(e))

    def releases(self, req: SimRequest) -> SimResponse:
        per_page = req.int_arg("per_page", 30, 1, 100)
        page = req.int_arg("page", 1, 1, 10_000)
        links: dict[str, str] = {}

        def build(e: Entity, _req: SimRequest) -> Any:
            rels = list(enumerate(releases(self.world, e)))[::-1]  # newest first
            last = max(1, -(-len(rels) // per_page))
            base = f"{req.base_url}/repos/{e.name}/releases?per_page={per_page}&page="
            if page < last:
                links.update(next=f"{base}{page + 1}", last=f"{base}{last}")
            if page > 1:
                links.update(first=f"{base}1", prev=f"{base}{page - 1}")
            chunk = rels[(page - 1) * per_page : page * per_page]
            return [self.release_data(e, i, rel) for i, rel in chunk]

        resp = self._answer(req, build)
        if links and resp.status == 200:
            resp.headers["Link"] = ", ".join(f'<{url}>; rel="{rel}"' for rel, url in links.items())
        return resp
