"""A Forgejo instance for the spider tests, on the shared FakeWeb server.

Answers `GET /api/v1/repos/{owner}/{repo}` and `.../releases?limit=50&page=N` from the
fixtures in tests/fakes/data/forgejo/ (each says where its shape comes from: Forgejo's and
Gitea's own structs and a live Forgejo answer). Like Forgejo it sends no ETag unless a test
asks for one (a caching proxy in front of an instance may add them), pages with an absolute
`Link` header, and answers a missing repository with its 404 body.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from tests.fakes.web import Answer, FakeWeb, Handler, Hit

DATA = Path(__file__).parent / "data" / "forgejo"
PAGE = 50


def fixture(name: str) -> Any:
    """A fixture's `body` (tests/fakes/data/forgejo/NAME.json)."""
    return json.loads((DATA / f"{name}.json").read_text())["body"]


def repo_path(full_name: str) -> str:
    return f"/api/v1/repos/{full_name}"


class FakeForgejo:
    """Repositories on one instance; `served` counts 200 answers per path (a 304 is free)."""

    def __init__(self, web: FakeWeb) -> None:
        self.web = web
        self.served: dict[str, int] = {}

    def repo(
        self,
        full_name: str,
        *,
        stars: int = 1342,
        archived_at: str | None = None,
        releases: list[list[int]] | None = None,
        etag: str | None = None,
        release_counter: int | None = None,
        has_releases: bool = True,
        next_host: str | None = None,
    ) -> None:
        """A repository; `releases` are pages of releases, each a list of asset download counts."""
        pages = releases if releases is not None else []
        body = copy.deepcopy(fixture("repo"))
        owner, name = full_name.split("/")
        body.update(
            full_name=full_name,
            name=name,
            stars_count=stars,
            html_url=f"https://codeberg.org/{full_name}",
            release_counter=release_counter if release_counter is not None else sum(len(p) for p in pages),
            has_releases=has_releases,
        )
        body["owner"].update(login=owner, username=owner)
        if archived_at:
            body.update(archived=True, archived_at=archived_at)
        self.web.handle(repo_path(full_name), self._serve(body, etag))
        for i, page in enumerate(pages, start=1):
            items = []
            for j, count in enumerate(page):
                release = copy.deepcopy(fixture("release"))
                release["id"] = 1000 * i + j
                release["assets"][0]["download_count"] = count
                items.append(release)
            path = f"{repo_path(full_name)}/releases?limit={PAGE}&page={i}"
            link = None
            if i < len(pages):
                host = next_host or self.web.url
                link = f'<{host}{repo_path(full_name)}/releases?limit={PAGE}&page={i + 1}>; rel="next"'
            self.web.handle(
                path, self._serve(items, f'"rel{i}-{etag.strip(chr(34))}"' if etag else None, link)
            )

    def _serve(self, body: Any, etag: str | None, link: str | None = None) -> Handler:
        def serve(hit: Hit) -> Answer:
            headers = {"Cache-Control": "max-age=0, private, must-revalidate, no-transform"}
            if etag:
                headers["ETag"] = etag
                if hit.headers.get("if-none-match") == etag:
                    return Answer(304, b"", headers)
            if link:
                headers["Link"] = link
            self.served[hit.path] = self.served.get(hit.path, 0) + 1
            return Answer(200, body, headers)

        return serve

    def missing(self, full_name: str) -> None:
        self.web.add(repo_path(full_name), Answer(404, fixture("not_found")))

    def withheld(self, full_name: str, message: str = "Unavailable For Legal Reasons") -> None:
        body = {"message": message, "url": "https://codeberg.org/api/swagger"}
        self.web.add(repo_path(full_name), Answer(451, body))
