"""GitHub: tool repositories through the REST API, with a Scrapy spider (spiders.github)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from crawler.entries import Entry, Section, Strict, TargetMaker, WatchTarget, brief, named
from crawler.plugins import Credential, Endpoint, Follow, SourceSpec

REPO_RULE = named(
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}", "a GitHub repository is written owner/repo"
)


class Repo(Entry):
    NAME_RULE = REPO_RULE

    @model_validator(mode="after")
    def _not_dots(self) -> Repo:
        if self.name.partition("/")[2] in (".", ".."):
            raise ValueError(f"{brief(self.name)} is not a valid name: '.' and '..' are no repository names")
        return self


class GithubWatch(Section):
    repos: tuple[Repo, ...] = ()


class GithubSettings(Strict):
    max_release_pages: int = Field(
        10, ge=1, le=100, description="release pages per repository (100 releases a page)"
    )
    # GitHub allows 5,000 requests an hour per token (60 per IP without one). Kept per 10
    # minutes, as six such windows make an hour: the sliding window's cost grows with its
    # length (measured: 9 ms an acquisition at 600 s, 138 ms at 3,600 s).
    budget_requests_token: int = Field(
        830,
        ge=1,
        le=100_000,
        description="distributed crawl: requests per window with GITHUB_TOKEN, all workers",
    )
    budget_requests_anonymous: int = Field(
        10,
        ge=1,
        le=100_000,
        description="distributed crawl: requests per window without a token, per machine",
    )
    budget_window_seconds: int = Field(
        600,
        ge=1,
        le=86_400,
        description="distributed crawl: the sliding window of GitHub's budgets (seconds)",
    )


def _targets(section: GithubWatch, make: TargetMaker) -> list[WatchTarget]:
    return make.named("github", "repo", section.repos)


SOURCE: Any = SourceSpec(
    name="github",
    platform="github",
    kinds=("repo",),
    how="Scrapy, REST API",
    fetcher="spiders.github:GithubSpider",
    engine="scrapy",
    order=30,
    watch=GithubWatch,
    watch_default=GithubWatch(),
    targets=_targets,
    watch_doc=("github.repos",),
    settings=GithubSettings,
    credentials=(Credential("GITHUB_TOKEN", False, "5,000 GitHub requests an hour instead of 60"),),
    endpoints=(Endpoint("github", "https://api.github.com", "GitHub's REST API"),),
    metrics=("stars", "forks", "watchers", "open_issues", "release_downloads"),
    headline=(("repo", "stars"),),
    follows=(Follow("repo", "repos"),),
)
