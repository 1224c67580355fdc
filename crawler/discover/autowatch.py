"""Auto-watch: after a run, watch the candidates the watched communities link to most.

With `[discovery] auto_watch = true`, a `new` candidate of a community kind (channel,
group, bot, server, subreddit, repo, model, space) linked by at least `min_posts` posts in
at least `min_communities` distinct watched communities is written to
watchlist.d/discovered.yaml (under the `counts` content policy, tagged `discovered`), so
the next crawl follows the migration. Accounts (an X or Bluesky account, a Hugging Face
author) are persons as often as not: they are never watched automatically, whatever the
counts; a person may add one by hand (`dfwatch watch add`).
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from crawler.config import Config
from crawler.discover.candidates import Candidate, candidate_rows, set_status
from crawler.discover.watchfile import DiscoveredFile
from crawler.plugins import follow_for
from crawler.records import CommunityKey

log = logging.getLogger("dfwatch.discover")

# Kinds that are communities, not persons: the only ones auto-watch may add.
COMMUNITY_KINDS = frozenset({"channel", "group", "bot", "server", "subreddit", "repo", "model", "space"})


def eligible(c: Candidate, min_posts: int, min_communities: int) -> bool:
    """Whether auto-watch may add this candidate (thresholds, community kind, a source for it)."""
    return (
        c.status == "new"
        and c.kind in COMMUNITY_KINDS
        and c.posts >= min_posts
        and c.communities >= min_communities
        and follow_for(c.platform, c.kind) is not None
    )


def auto_watch(config: Config, engine: Engine) -> list[CommunityKey]:
    """Add the eligible candidates to discovered.yaml; returns what was added (logged)."""
    settings = config.settings.discovery
    if not settings.auto_watch or config.directory is None:
        return []
    chosen = [
        c for c in candidate_rows(engine, "new") if eligible(c, settings.min_posts, settings.min_communities)
    ]
    if not chosen:
        return []
    outcome = DiscoveredFile(config).add(
        [CommunityKey(c.platform, c.kind, c.handle) for c in chosen], auto=True
    )
    for key, why in outcome.skipped:
        log.info("auto-watch skipped %s: %s", key, why)
    by_norm = {c.norm: c for c in chosen}
    for key in outcome.added:
        c = by_norm[key.norm]
        log.info(
            "auto-watch added %s posts=%d communities=%d (next crawl follows it)", key, c.posts, c.communities
        )
    set_status(engine, [k.norm for k in outcome.added], "watched", by="auto")
    set_status(engine, [k.norm for k, why in outcome.skipped if why == "already watched"], "watched")
    return outcome.added
