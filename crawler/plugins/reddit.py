"""Reddit: subreddits through the OAuth API with praw (crawler.sources.reddit)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from crawler.entries import Entry, Section, Strict, TargetMaker, WatchTarget, named
from crawler.plugins import Credential, Endpoint, Follow, SourceSpec

SUBREDDIT_RULE = named(r"[A-Za-z0-9_]{2,21}", "a subreddit name is 2-21 letters, digits or _")


class Subreddit(Entry):
    NAME_RULE = SUBREDDIT_RULE


class RedditWatch(Section):
    subreddits: tuple[Subreddit, ...] = ()


class RedditSettings(Strict):
    lookback_days: float = Field(
        7, gt=0, le=365, description="how far the first crawl of a subreddit looks back"
    )
    max_pages: int = Field(10, ge=1, le=100, description="listing pages per combined listing per crawl")
    compliance_days: float = Field(
        30, ge=0, le=3650, description="re-check stored posts younger than this for deletions"
    )
    sweep: Literal["tiered", "daily"] = Field(
        "tiered",
        description="deletion sweep: `tiered` re-checks posts by age (young often, old rarely; "
        "younger than 48 hours at every crawl), `daily` every post at every crawl",
    )
    sweep_fraction: float = Field(
        0.25,
        gt=0,
        le=1,
        description="tiered sweep: re-check a post once the time since it was last seen visible "
        "reaches this fraction of its age",
    )
    # Reddit's Data API allows 100 requests a minute per OAuth client, averaged over 10 minutes:
    # 1,000 per window. Ten are kept back for token grants and requests in flight at a window's edge.
    budget_requests: int = Field(
        990,
        ge=1,
        le=100_000,
        description="distributed crawl: requests one OAuth client may send per budget window, all workers together",
    )
    budget_window_seconds: int = Field(
        600,
        ge=1,
        le=86_400,
        description="distributed crawl: the sliding window of `budget_requests` (seconds)",
    )


def _targets(section: RedditWatch, make: TargetMaker) -> list[WatchTarget]:
    return make.named("reddit", "subreddit", section.subreddits)


SOURCE: Any = SourceSpec(
    name="reddit",
    platform="reddit",
    kinds=("subreddit",),
    how="praw, OAuth API",
    fetcher="crawler.sources.reddit:RedditSource",
    order=10,
    watch=RedditWatch,
    watch_default=RedditWatch(),
    targets=_targets,
    watch_doc=("reddit.subreddits",),
    settings=RedditSettings,
    credentials=(
        Credential("REDDIT_CLIENT_ID", True, "the Reddit source"),
        Credential("REDDIT_CLIENT_SECRET", True, "the Reddit source"),
        Credential(
            "REDDIT_USER_AGENT",
            False,
            "a User-Agent of your own (default: python:dfwatch:<version> (+contact))",
        ),
    ),
    endpoints=(
        Endpoint("reddit", "https://oauth.reddit.com", "Reddit's OAuth API"),
        Endpoint("reddit_auth", "https://www.reddit.com", "Reddit's token endpoint", follows="reddit"),
    ),
    metrics=("members", "weekly_visitors", "weekly_contributions"),
    follows=(Follow("subreddit", "subreddits"),),
)
