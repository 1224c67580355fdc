"""A Forgejo instance's REST API (Codeberg by default): a repository and its releases.

Shapes from Forgejo's and Gitea's own structs (`modules/structs/repo.go`, `release.go`,
`attachment.go`: the JSON tags of `Repository`, `Release`, `Attachment`), the 404 body of
`services/context/api.go` (`APINotFound`: message, url, errors), and the paging of
`genAPILinks` (a `Link` header of absolute URLs with `page` and `limit`, plus
`X-Total-Count`). API answers carry `Cache-Control: max-age=0, private, must-revalidate,
no-transform` and no ETag, as Forgejo sends them.

Forgejo has no API rate limit of its own; Codeberg's reverse proxy (Caddy's rate_limit
module, about 4,000 requests per 30 minutes per address as Codeberg configures it) answers
429 with `Retry-After` and an empty body. A repository that is withheld answers 451.

Controls (crawler.sim.scenario): `max_items` is the instance's MAX_RESPONSE_ITEMS; an entity
may pin `fields` of its repository object, its `release_downloads`, an `etag` (a caching
proxy's strong ETags, answered 304 to a matching If-None-Match) and `links_to` (the origin
its Link headers name).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from crawler.sim.content import releases
from crawler.sim.platform import Platform
from crawler.sim.ratelimit import FixedWindowLimiter
from crawler.sim.wire import Route, SimRequest, SimResponse, route
from crawler.sim.world import Entity

WEB = "https://codeberg.org"
SWAGGER = f"{WEB}/api/swagger"
MAX_ITEMS = 50  # [api] MAX_RESPONSE_ITEMS: a larger `limit` is cut to it
ZERO_TIME = "1970-01-01T00:00:00Z"  # Go's zero time.Time as the API prints it
CACHE_CONTROL = "max-age=0, private, must-revalidate, no-transform"


def _ts(t: float | datetime) -> str:
    dt = t if isinstance(t, datetime) else datetime.fromtimestamp(t, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


class Forgejo(Platform):
    name = "forgejo"

    def __init__(self, world: Any, **kwargs: Any) -> None:
        super().__init__(world, **kwargs)
        self.limiters["ip"] = FixedWindowLimiter(4000, 1800, time_fn=self.time_fn)
        self.max_items = MAX_ITEMS  # [api] MAX_RESPONSE_ITEMS, set per instance

    def routes(self) -> list[Route]:
        p = self.name
        repo = r"^/api/v1/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
        return [
            route(p, "repo", "GET", repo + r"/?$", self.repo),
            route(p, "releases", "GET", repo + r"/releases/?$", self.releases),
        ]

    def too_many(self, retry_after: int) -> SimResponse:
        return SimResponse(429, b"", {"Retry-After": str(retry_after), "Server": "Caddy"})

    def server_error(self, status: int) -> SimResponse:
        return SimResponse.json(status, {"message": "", "url": SWAGGER})

    # -- shared path ----------------------------------------------------------------
    def _answer(self, req: SimRequest, build: Any) -> SimResponse:
        budget = self.limiters["ip"].hit(req.client_ip)
        if not budget.allowed:
            return self.too_many(budget.reset_in)
        full = f"{req.params['owner']}/{req.params['repo']}"
        e = self.world.get("forgejo", "repo", full)
        status = self.world.status(e) if e else "not_found"
        headers = {"Cache-Control": CACHE_CONTROL, "X-Content-Type-Options": "nosniff"}
        if e is None or status in ("not_found", "deleted", "banned"):
            return SimResponse.json(
                404, {"errors": [], "message": "The target couldn't be found.", "url": SWAGGER}, headers
            )
        if status == "blocked":
            ev = self.world.event_at(e)
            message = (
                ev.reason if ev and ev.reason and ev.reason != "blocked" else "Unavailable For Legal Reasons"
            )
            return SimResponse.json(451, {"message": message, "url": SWAGGER}, headers)
        body, extra = build(e, req)
        resp = SimResponse.json(200, body, {**headers, **extra})
        if e.extra.get("etag"):
            etag = '"' + hashlib.sha256(resp.body).hexdigest()[:20] + '"'
            resp.headers["ETag"] = etag
            if req.header("if-none-match") == etag:
                return SimResponse(304, b"", {**headers, "ETag": etag})
        return resp

    # -- shapes ---------------------------------------------------------------------
    def repo_data(self, e: Entity, base: str) -> dict[str, Any]:
        owner, name = e.name.split("/", 1)
        stars = self.world.members(e)
        r = self.world.rng("forgejo-repo", e.key)
        forks = int(stars * r.uniform(0.05, 0.2))
        watchers = max(1, int(stars * r.uniform(0.03, 0.08)))
        issues = int(stars * r.uniform(0.005, 0.03))
        now = self.world.now()
        archived = self.world.status(e) == "archived"
        ev = self.world.event_at(e)
        n_releases = len(releases(self.world, e))
        html = f"{WEB}/{e.name}"
        return {
            "id": 2_000_000 + e.index * 131,
            "owner": {
                "id": 300_000 + e.index,
                "login": owner,
                "login_name": "",
                "source_id": 0,
                "full_name": "",
                "email": f"{owner}@noreply.codeberg.org",
                "avatar_url": f"{WEB}/avatars/{e.index:032x}",
                "html_url": f"{WEB}/{owner}",
                "language": "",
                "is_admin": False,
                "last_login": ZERO_TIME,
                "created": _ts(e.created),
                "restricted": False,
                "active": False,
                "prohibit_login": False,
                "location": "",
                "pronouns": "",
                "website": "",
                "description": "",
                "visibility": "public",
                "followers_count": 0,
                "following_count": 0,
                "starred_repos_count": 0,
                "username": owner,
            },
            "name": name,
            "full_name": e.name,
            "description": f"{e.title}: a simulated repository.",
            "empty": False,
            "private": False,
            "fork": False,
            "template": False,
            "parent": None,
            "mirror": False,
            "size": 4000 + stars,
            "language": "Python",
            "languages_url": f"{base}/api/v1/repos/{e.name}/languages",
            "html_url": html,
            "url": f"{base}/api/v1/repos/{e.name}",
            "link": "",
            "ssh_url": f"ssh://git@codeberg.org/{e.name}.git",
            "clone_url": f"{html}.git",
            "original_url": e.extra.get("original_url", ""),
            "website": "",
            "stars_count": stars,
            "forks_count": forks,
            "watchers_count": watchers,
            "open_issues_count": issues,
            "open_pr_counter": issues // 4,
            "release_counter": n_releases,
            "default_branch": "main",
            "archived": archived,
            "created_at": _ts(e.created),
            "updated_at": _ts(now),
            "archived_at": _ts(ev.at) if archived and ev else ZERO_TIME,
            "permissions": {"admin": False, "push": False, "pull": True},
            "has_issues": True,
            "internal_tracker": {
                "enable_time_tracker": True,
                "allow_only_contributors_to_track_time": True,
                "enable_issue_dependencies": True,
            },
            "has_wiki": True,
            "wiki_branch": "main",
            "globally_editable_wiki": False,
            "has_pull_requests": True,
            "has_projects": True,
            "has_releases": True,
            "has_packages": True,
            "has_actions": False,
            "ignore_whitespace_conflicts": False,
            "allow_merge_commits": True,
            "allow_rebase": True,
            "allow_rebase_explicit": True,
            "allow_squash_merge": True,
            "allow_fast_forward_only_merge": True,
            "allow_rebase_update": True,
            "default_delete_branch_after_merge": False,
            "default_merge_style": "merge",
            "default_allow_maintainer_edit": False,
            "default_update_style": "merge",
            "avatar_url": "",
            "internal": False,
            "mirror_interval": "",
            "object_format_name": "sha1",
            "mirror_updated": ZERO_TIME,
            "repo_transfer": None,
            "topics": ["deepfakes", "face-swap"],
        } | json.loads(json.dumps(e.extra.get("fields", {})))

    def release_data(self, e: Entity, i: int, rel: dict[str, Any], base: str) -> dict[str, Any]:
        now = self.world.now().timestamp()
        rid = 900_000 + e.index * 1000 + i
        days = max(0.0, (now - float(rel["published"])) / 86400)
        tag = str(rel["tag"])
        html = f"{WEB}/{e.name}"
        assets = []
        split = (
            (("windows.zip", 1.0),) if "downloads" in rel else (("windows.zip", 0.7), ("linux.tar.gz", 0.3))
        )
        for j, (suffix, share) in enumerate(split):
            asset_name = f"{e.name.split('/')[1]}-{tag}-{suffix}"
            assets.append(
                {
                    "id": rid * 10 + j,
                    "name": asset_name,
                    "size": 40_000_000,
                    "download_count": int(rel["downloads"])
                    if "downloads" in rel
                    else int(float(rel["rate"]) * share * days),
                    "created_at": _ts(float(rel["published"])),
                    "uuid": f"{rid:08x}-0000-4000-8000-{j:012x}",
                    "browser_download_url": f"{html}/releases/download/{tag}/{asset_name}",
                    "type": "attachment",
                }
            )
        return {
            "id": rid,
            "tag_name": tag,
            "target_commitish": "main",
            "name": tag,
            "body": "",
            "url": f"{base}/api/v1/repos/{e.name}/releases/{rid}",
            "html_url": f"{html}/releases/tag/{tag}",
            "tarball_url": f"{html}/archive/{tag}.tar.gz",
            "zipball_url": f"{html}/archive/{tag}.zip",
            "upload_url": f"{base}/api/v1/repos/{e.name}/releases/{rid}/assets",
            "hide_archive_links": False,
            "draft": False,
            "prerelease": False,
            "created_at": _ts(float(rel["published"])),
            "published_at": _ts(float(rel["published"])),
            "author": {
                "id": 300_000 + e.index,
                "login": e.name.split("/")[0],
                "username": e.name.split("/")[0],
            },
            "assets": assets,
            "archive_download_count": {"zip": 0, "tar_gz": 0},
        }

    # -- endpoints ------------------------------------------------------------------
    def repo(self, req: SimRequest) -> SimResponse:
        return self._answer(req, lambda e, r: (self.repo_data(e, r.base_url), {}))

    def releases(self, req: SimRequest) -> SimResponse:
        limit = req.int_arg("limit", 30, 1, self.max_items)
        page = req.int_arg("page", 1, 1, 10_000)

        def build(e: Entity, r: SimRequest) -> tuple[Any, dict[str, str]]:
            rels = list(enumerate(releases(self.world, e)))[::-1]  # newest first
            last = max(1, -(-len(rels) // limit))
            origin = e.extra.get("links_to") or r.base_url
            path = f"{origin}/api/v1/repos/{e.name}/releases?limit={limit}&page="
            links = []
            if page < last:
                links += [f'<{path}{page + 1}>; rel="next"', f'<{path}{last}>; rel="last"']
            if page > 1:
                links += [f'<{path}1>; rel="first"', f'<{path}{page - 1}>; rel="prev"']
            chunk = rels[(page - 1) * limit : page * limit]
            headers = {"X-Total-Count": str(len(rels))}
            if links:
                headers["Link"] = ",".join(links)
            return [self.release_data(e, i, rel, r.base_url) for i, rel in chunk], headers

        return self._answer(req, build)
