"""The Hugging Face source (huggingface_hub): models, spaces, authors and searches on the Hub.

One crawl, in four parts, each target failing alone:

* authors: every public model and space of the author, listed (`list_models(author=...,
  expand=[...])`, pages of the Hub's size, at most `[huggingface] max_pages`): how many, and
  their downloads (30 days and all time) and likes summed;
* models and spaces by id, batched where the Hub allows: the watched repos of one owner come
  from that owner's listing (the author's, if watched, else one listed for them, which stops
  as soon as every watched repo is seen and reads at most one page fewer than the repos it
  stands in for);
  a watched repo the listing does not show (disabled, deleted, private) costs one
  `model_info` call, which says which (403 disabled: `blocked`; 404: `not_found`);
* searches: `list_models(search=...)`: how many public models match and their downloads; the
  models found become the query's posts (ids only, see crawler.sources.hubs).

The transport in crawler.sources.huggingface_client counts, paces and retries every request
and lets none leave for anything but the configured Hub API.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

from crawler.config import WatchTarget
from crawler.errors import SourceError
from crawler.records import CommunityObservation, Record
from crawler.sources import huggingface_parse as parse
from crawler.sources.base import Source, SourceContext
from crawler.sources.hubs import hit_posts, search_observation, tally_hits, texts_allowed
from crawler.sources.huggingface_client import Gone, HubClient, Listing


class HuggingFaceSource(Source):
    """Models, spaces, authors and searches on the Hugging Face Hub."""

    name = "huggingface"
    answered: int = 0  # answers received this crawl; none at all means the source failed

    def crawl(self, ctx: SourceContext) -> Iterator[Record]:
        by_kind: dict[str, list[WatchTarget]] = defaultdict(list)
        for t in ctx.targets:
            by_kind[t.key.kind].append(t)
        self.answered = 0
        with HubClient(ctx, ctx.config.credential("HF_TOKEN")) as hub:
            listings: dict[str, dict[str, Listing]] = {}  # owner (lower) -> kind -> listing
            yield from self._authors(ctx, hub, by_kind["author"], listings)
            for kind in ("model", "space"):
                yield from self._repos(ctx, hub, kind, by_kind[kind], listings)
            yield from self._searches(ctx, hub, by_kind["query"])
            if hub.transport.refused:
                ctx.log.warning(
                    "source=huggingface refused %d request(s) outside the Hub API", len(hub.transport.refused)
                )
        if self.answered == 0 and ctx.stats.failures:
            raise SourceError(
                "no Hub request succeeded: " + "; ".join(ctx.stats.failures[:3]), target="huggingface"
            )

    # -- authors ------------------------------------------------------------------------
    def _authors(
        self,
        ctx: SourceContext,
        hub: HubClient,
        targets: Sequence[WatchTarget],
        listings: dict[str, dict[str, Listing]],
    ) -> Iterator[Record]:
        max_pages = ctx.settings.max_pages
        for t in targets:
            try:
                models = hub.listing("model", max_pages, author=t.key.handle)
                spaces = hub.listing("space", max_pages, author=t.key.handle)
            except SourceError as exc:
                ctx.fail_target(f"huggingface author {t.key.handle}", _bare(exc))
                continue
            self.answered += 1
            listings[t.key.handle.lower()] = {"model": models, "space": spaces}
            complete = models.complete and spaces.complete
            tally = parse.author_tally(models.items, spaces.items)
            yield CommunityObservation(
                key=t.key,
                observed_at=ctx.now(),
                source=parse.SOURCE,
                status="active" if models.items or spaces.items else None,  # an empty listing says nothing
                metrics=tally.metrics(spaces=True) if complete else {},
            )
            if not complete:
                _cut(ctx, f"huggingface author {t.key.handle}", max_pages)

    # -- models and spaces ----------------------------------------------------------------
    def _repos(
        self,
        ctx: SourceContext,
        hub: HubClient,
        kind: str,
        targets: Sequence[WatchTarget],
        listings: dict[str, dict[str, Listing]],
    ) -> Iterator[Record]:
        by_owner: dict[str, list[WatchTarget]] = defaultdict(list)
        for t in targets:
            by_owner[t.key.handle.partition("/")[0].lower()].append(t)
        web = hub.endpoint + ("/spaces" if kind == "space" else "")
        for owner, group in by_owner.items():
            found: dict[str, Any] = {}
            listing = listings.get(owner, {}).get(kind)
            if listing is None and len(group) > 1:
                listing = self._owner_listing(ctx, hub, kind, owner, group)
            if listing is not None:
                found = {str(getattr(i, "id", "")).lower(): i for i in listing.items}
            for t in group:
                info = found.get(t.key.handle.lower())
                where = f"huggingface {kind} {t.key.handle}"
                if info is None:
                    try:
                        info = hub.repo(kind, t.key.handle)
                    except SourceError as exc:
                        ctx.fail_target(where, _bare(exc))
                        continue
                self.answered += 1
                if isinstance(info, Gone):
                    yield parse.gone_observation(t.key, ctx.now(), info.status, info.reason)
                    continue
                try:
                    policy = ctx.config.policy_for(t.key, nsfw=parse.is_nsfw(info))
                    yield parse.repo_observation(
                        info, t.key, ctx.now(), texts=texts_allowed(policy), web_url=web
                    )
                except SourceError as exc:
                    ctx.fail_target(where, _bare(exc))

    def _owner_listing(
        self, ctx: SourceContext, hub: HubClient, kind: str, owner: str, group: Sequence[WatchTarget]
    ) -> Listing | None:
        """The owner's listing, as a batch: it ends once every watched repo is seen, and reads at
        most one page fewer than the repos it stands in for. An owner with fewer than 1,000
        public repos costs one call for all of them; the worst case (a big organisation whose
        first pages show none of them) costs n - 1 pages more than asking for each."""
        wanted = {t.key.handle.lower() for t in group}

        def seen_all(item: Any) -> bool:
            wanted.discard(str(getattr(item, "id", "")).lower())
            return not wanted

        pages = min(ctx.settings.max_pages, len(group) - 1)
        try:
            listing = hub.listing(kind, pages, stop=seen_all, author=owner)
        except SourceError as exc:  # the repos are asked for one by one instead
            ctx.log.warning("source=huggingface owner=%s listing failed (%s); asking per repo", owner, exc)
            return None
        self.answered += 1
        return listing

    # -- searches ---------------------------------------------------------------------
    def _searches(
        self, ctx: SourceContext, hub: HubClient, targets: Sequence[WatchTarget]
    ) -> Iterator[Record]:
        max_pages = ctx.settings.max_pages
        for t in targets:
            where = f"huggingface search {t.key.handle!r}"
            try:
                listing = hub.listing("model", max_pages, search=t.key.handle)
            except SourceError as exc:
                ctx.fail_target(where, _bare(exc))
                continue
            self.answered += 1
            hits = [parse.hit(i) for i in listing.items]
            yield search_observation(
                t.key, ctx.now(), parse.SOURCE, tally_hits(hits) if listing.complete else None
            )
            yield from hit_posts(t.key, hits)
            if not listing.complete:
                _cut(ctx, where, max_pages)


def _cut(ctx: SourceContext, where: str, max_pages: int) -> None:
    """A listing stopped at its page bound: its ids are stored, its counts are not (they would
    be a lower bound posing as a total)."""
    ctx.fail_target(
        where,
        f"stopped after max_pages={max_pages} with more pages left; counts not recorded (raise max_pages)",
    )


def _bare(exc: SourceError) -> str:
    text = str(exc)
    prefix = f"{exc.target}: " if exc.target else ""
    return text[len(prefix) :] if prefix and text.startswith(prefix) else text
