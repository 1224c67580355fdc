"""X: accounts and queries through the API v2 with tweepy (crawler.sources.x)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from crawler.entries import Entry, EntryError, Section, Strict, TargetMaker, WatchTarget, named
from crawler.plugins import Credential, Endpoint, Follow, SourceSpec


class Account(Entry):
    NAME_RULE = named(r"[A-Za-z0-9_]{1,15}", "an X handle is 1-15 letters, digits or _ (without @)")


class Query(Entry):
    def identity(self) -> str:
        return " ".join(self.name.split()).lower()


class XWatch(Section):
    accounts: tuple[Account, ...] = ()
    queries: tuple[Query, ...] = ()

    @model_validator(mode="after")
    def _queries(self) -> XWatch:
        for i, q in enumerate(self.queries):
            if not q.name.strip():
                raise EntryError(("queries", i), "an empty query")
        return self


class XSettings(Strict):
    max_pages: int = Field(5, ge=1, le=100, description="search pages per query per crawl")
    counts_days: int = Field(
        7, ge=1, le=7, description="days of post counts asked for (recent counts reach 7 days back)"
    )
    # X's pay-per-use prices (February 2026), each id billed once per UTC day: estimates only.
    price_post_read: float = Field(0.005, ge=0, description="USD per post read (search results)")
    price_user_read: float = Field(0.010, ge=0, description="USD per user read (account lookups)")
    price_count_request: float = Field(0.0, ge=0, description="USD per post-counts request")
    # X's app-level limits per 15 minutes (API v2): users/by 300, counts/recent 300, search/recent 450.
    budget_users_by: int = Field(
        300, ge=1, le=100_000, description="distributed crawl: /2/users/by requests per window, all workers"
    )
    budget_counts_recent: int = Field(
        300, ge=1, le=100_000, description="distributed crawl: /2/tweets/counts/recent requests per window"
    )
    budget_search_recent: int = Field(
        450, ge=1, le=100_000, description="distributed crawl: /2/tweets/search/recent requests per window"
    )
    budget_window_seconds: int = Field(
        900, ge=1, le=86_400, description="distributed crawl: the sliding window of X's budgets (seconds)"
    )
    max_cost_usd_per_run: float | None = Field(
        None, gt=0, description="stop reading before one crawl's X charges would pass this (USD)"
    )
    max_cost_usd_per_day: float | None = Field(
        None, gt=0, description="stop reading before a UTC day's X charges would pass this (USD)"
    )


def _targets(section: XWatch, make: TargetMaker) -> list[WatchTarget]:
    return make.named("x", "account", section.accounts) + make.named("x", "query", section.queries)


SOURCE: Any = SourceSpec(
    name="x",
    platform="x",
    kinds=("account", "query"),
    how="tweepy, API v2",
    fetcher="crawler.sources.x:XSource",
    order=20,
    watch=XWatch,
    watch_default=XWatch(),
    targets=_targets,
    watch_doc=("x.accounts", "x.queries"),
    settings=XSettings,
    credentials=(Credential("X_BEARER_TOKEN", True, "the X source"),),
    endpoints=(Endpoint("x", "https://api.twitter.com", "X's API v2"),),
    metrics=("members", "following", "posts_total", "listed", "posts_per_day"),
    follows=(Follow("account", "accounts"),),
)
