"""Bluesky: accounts and post searches through the AT Protocol SDK `atproto` (crawler.sources.bluesky).

Accounts need no login (`app.bsky.actor.getProfiles` on the public AppView). Searches
(`app.bsky.feed.searchPosts`) need a logged-in session since 2025, so they run only with
`BLUESKY_HANDLE` and `BLUESKY_APP_PASSWORD`; without them accounts still run and searches
are skipped with one line naming the variables.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from crawler.entries import Entry, EntryError, Section, Strict, TargetMaker, WatchTarget, named
from crawler.plugins import Credential, Endpoint, Follow, SourceSpec

# A handle is a domain name (atproto "Handle" syntax: at least two labels, the last not
# starting with a digit); a DID is did:plc:<24 base32 characters> or did:web:<host>.
ACCOUNT_RULE = named(
    r"(?:(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"|did:plc:[a-z2-7]{24}|did:web:[A-Za-z0-9.:%-]{1,253})",
    "a Bluesky account is a handle such as name.bsky.social (without @) or a DID",
)


class Account(Entry):
    NAME_RULE = ACCOUNT_RULE

    def identity(self) -> str:
        return self.name.lower()  # handles are case-insensitive


class Search(Entry):
    def identity(self) -> str:
        return " ".join(self.name.split()).lower()


class BlueskyWatch(Section):
    accounts: tuple[Account, ...] = ()
    searches: tuple[Search, ...] = ()

    @model_validator(mode="after")
    def _searches(self) -> BlueskyWatch:
        for i, s in enumerate(self.searches):
            if not s.name.strip():
                raise EntryError(("searches", i), "an empty search")
        return self


class BlueskySettings(Strict):
    max_pages: int = Field(5, ge=1, le=100, description="search pages (100 posts each) per search per crawl")
    lookback_days: float = Field(
        7, gt=0, le=365, description="how far back the first crawl of a search reaches"
    )
    compliance_days: float = Field(
        30, ge=0, le=3650, description="re-check stored posts younger than this for deletions"
    )
    recheck_missing_days: float = Field(
        7,
        ge=0,
        le=365,
        description="days an account absent from getProfiles keeps the reason last read before it is asked again",
    )


def _targets(section: BlueskyWatch, make: TargetMaker) -> list[WatchTarget]:
    return make.named("bluesky", "account", section.accounts) + make.named(
        "bluesky", "query", section.searches
    )


SOURCE: Any = SourceSpec(
    name="bluesky",
    platform="bluesky",
    kinds=("account", "query"),
    how="atproto, XRPC (public AppView)",
    fetcher="crawler.sources.bluesky:BlueskySource",
    order=75,
    watch=BlueskyWatch,
    watch_default=BlueskyWatch(),
    targets=_targets,
    watch_doc=("bluesky.accounts", "bluesky.searches"),
    settings=BlueskySettings,
    credentials=(
        Credential(
            "BLUESKY_HANDLE",
            False,
            "post searches, with BLUESKY_APP_PASSWORD (accounts need no login)",
            kinds=("query",),
        ),
        Credential(
            "BLUESKY_APP_PASSWORD",
            False,
            "post searches, with BLUESKY_HANDLE (an app password, never the account's own)",
            kinds=("query",),
        ),
    ),
    endpoints=(
        Endpoint("bluesky", "https://public.api.bsky.app", "Bluesky's public AppView (profiles, posts)"),
        Endpoint("bluesky_auth", "https://bsky.social", "where searches log in (the PDS entryway)"),
    ),
    metrics=("members", "posts_total"),
    follows=(Follow("account", "accounts"),),  # hand-added only: accounts are never auto-watched
)
