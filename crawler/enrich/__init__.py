"""Enrichment: turn what a source saw into what may be stored. Pure: records in, records out.

For each `Post`: find tool mentions (from title, body, flair and the linked URL, before any
text is dropped) and the communities it links to (t.me/..., discord.gg/..., r/...: the
evidence of "Following the migration"), reduce the linked URL to its domain, replace the author by a keyed
pseudonym, and apply the community's content policy (NSFW communities default to
`counts`). Other records pass through unchanged; community observations are remembered for
their `nsfw` flag, so posts of a community the platform marks NSFW get the NSFW policy even
when the watchlist does not say so. Sources yield observations before posts.

No database, no network: the run (and the spiders' pipeline) call `Enricher(config)(record)`.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from crawler.config import Config
from crawler.enrich.community_links import community_links
from crawler.enrich.links import link_domain
from crawler.enrich.mentions import MentionMatcher
from crawler.enrich.policy import apply_policy
from crawler.enrich.pseudonym import PseudonymKey, open_key, pseudonymise
from crawler.records import CommunityKey, CommunityObservation, Post, Record

__all__ = [
    "Enricher",
    "MentionMatcher",
    "apply_policy",
    "community_links",
    "link_domain",
    "load_key",
    "pseudonymise",
]

log = logging.getLogger("dfwatch.enrich")


class Enricher:
    """Callable that enriches one record at a time; keeps only the NSFW flags it has seen.

    The pseudonym key is loaded (or the key file created) here, so a bad key file stops the
    crawl before any request is sent. `read_links=False` skips community links (bench/enrich.py
    measures their cost against it).
    """

    def __init__(self, config: Config, *, read_links: bool = True) -> None:
        self.config = config
        self.read_links = read_links
        self.key: PseudonymKey = open_key(config.env, config.pseudonym_key_file)
        self._key = self.key.key
        self.mentions = MentionMatcher(config.tools)
        self._nsfw: dict[tuple[str, str, str], bool] = {}
        # config.policy_for walks the whole watchlist; the answer per community is fixed.
        self._policies: dict[tuple[tuple[str, str, str], bool], str] = {}

    def __repr__(self) -> str:  # never show the key
        return f"Enricher(tools={len(self.config.tools)}, nsfw_seen={len(self._nsfw)})"

    def __call__(self, record: Record) -> Record:
        if isinstance(record, Post):
            return self.enrich_post(record)
        if isinstance(record, CommunityObservation) and record.nsfw is not None:
            self._nsfw[record.key.norm] = record.nsfw
        return record

    def policy(self, post: Post) -> str:
        """The post's content policy: its entry's, else NSFW (platform or post), else default."""
        nsfw = self._nsfw.get(post.key.norm, False) or bool(post.nsfw)
        cache_key = (post.key.norm, nsfw)
        policy = self._policies.get(cache_key)
        if policy is None:
            policy = self._policies[cache_key] = self.config.policy_for(post.key, nsfw=nsfw)
            log.debug("community=%s nsfw=%s policy=%s", post.key, nsfw, policy)
        return policy

    def enrich_post(self, post: Post) -> Post:
        """The storable form of a post. An already enriched post is returned as it is."""
        if post.enriched:
            return post
        mentions = self.mentions.find(post.title, post.body, post.flair, post.link_url)
        links = post.links
        if self.read_links:
            links = _other_communities(post, community_links(post.title, post.body, post.link_url))
        domain = link_domain(post.link_url) if post.link_url else link_domain(post.link_domain)
        policy = self.policy(post)
        enriched = replace(
            post,
            author=pseudonymise(self._key, post.key.platform, post.author),
            link_domain=domain,
            mentions=tuple(sorted(set(post.mentions) | set(mentions))),
            links=links,
            enriched=True,
        )
        return apply_policy(enriched, policy)


def _other_communities(post: Post, found: tuple[CommunityKey, ...]) -> tuple[CommunityKey, ...]:
    """The post's links, once each; a community linking to itself is no evidence of anything."""
    seen = {post.key.norm}
    out: list[CommunityKey] = []
    for key in (*post.links, *found):
        if key.norm not in seen:
            seen.add(key.norm)
            out.append(key)
    return tuple(out)
