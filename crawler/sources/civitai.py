"""The Civitai source: models by id and searches, through the public REST API (v1).

* models: batched, 100 ids a request (`/api/v1/models?ids=1,2,...&nsfw=true&limit=100`), per
  endpoint; a watched id the batch does not show (taken down, deleted, or on another site)
  costs one `/api/v1/models/{id}`, which says which: `mode` TakenDown (`blocked`), Archived
  (`archived`), or 404 (`not_found`, in Civitai's words). The model's own `nsfw` flag sets its
  content policy (NSFW: `counts`, no name kept), and so does `poi` (Civitai's mark for a model
  of a real person): a likeness model's name names its subject.
* searches: `/api/v1/models?query=...&nsfw=true&limit=100`, cursor paging (`metadata.nextCursor`)
  to the end or `[civitai] max_pages`: how many models match and their downloads; the models
  found become the query's posts (ids only, crawler.sources.hubs).

Without `nsfw=true` Civitai answers with safe-for-work models only, and the NSFW ones are the
ones this research needs to count.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

from crawler.config import WatchTarget
from crawler.errors import SourceError
from crawler.records import Record
from crawler.sources import civitai_parse as parse
from crawler.sources.base import Source, SourceContext
from crawler.sources.civitai_client import API, CivitaiApi, NotFound
from crawler.sources.hubs import Hit, hit_posts, search_observation, tally_hits, texts_allowed

IDS_PER_REQUEST = 100  # `limit` is at most 100, so a batch of 100 ids fits one page


class CivitaiSource(Source):
    """Civitai models by id, and searches with NSFW results included."""

    name = "civitai"
    answered: int = 0

    def crawl(self, ctx: SourceContext) -> Iterator[Record]:
        api = CivitaiApi(ctx, ctx.config.credential("CIVITAI_API_KEY"))
        self.answered = 0
        default = ctx.config.endpoint("civitai")
        models: dict[str, list[WatchTarget]] = defaultdict(list)
        searches: list[WatchTarget] = []
        for t in ctx.targets:
            if t.key.kind == "model":
                models[t.extra.get("endpoint") or default].append(t)
            else:
                searches.append(t)
        try:
            for base, group in models.items():
                yield from self._models(ctx, api, base, group)
            for t in searches:
                yield from self._search(ctx, api, t.extra.get("endpoint") or default, t)
        finally:
            api.close()
        if self.answered == 0 and ctx.stats.failures:
            raise SourceError(
                "no Civitai request succeeded: " + "; ".join(ctx.stats.failures[:3]), target="civitai"
            )

    # -- models -------------------------------------------------------------------------
    def _models(
        self, ctx: SourceContext, api: CivitaiApi, base: str, targets: Sequence[WatchTarget]
    ) -> Iterator[Record]:
        for i in range(0, len(targets), IDS_PER_REQUEST):
            batch = targets[i : i + IDS_PER_REQUEST]
            span = batch[0].key.handle + (f"..{batch[-1].key.handle}" if len(batch) > 1 else "")
            found: dict[str, dict[str, Any]] = {}
            try:
                body = api.get(
                    base,
                    API,
                    {"ids": ",".join(t.key.handle for t in batch), "nsfw": "true", "limit": IDS_PER_REQUEST},
                    f"civitai models {span}",
                )
                if isinstance(body, NotFound):
                    raise SourceError("HTTP 404 for a listing", target=f"civitai models {span}")
                items, _ = parse.page(body, f"civitai models {span}")
                found = {str(item["id"]): item for item in items}
                self.answered += 1
            except SourceError as exc:  # the batch's models are asked for one by one instead
                ctx.log.warning("source=civitai batch=%s failed (%s); asking per model", span, exc)
            for t in batch:
                yield from self._model(ctx, api, base, t, found.get(t.key.handle))

    def _model(
        self, ctx: SourceContext, api: CivitaiApi, base: str, t: WatchTarget, item: dict[str, Any] | None
    ) -> Iterator[Record]:
        where = f"civitai model {t.key.handle}"
        try:
            if item is None:
                answer = api.get(base, f"{API}/{t.key.handle}", {}, where)
                if isinstance(answer, NotFound):
                    self.answered += 1
                    yield parse.gone_observation(t.key, ctx.now(), answer.body)
                    return
                item = answer
            self.answered += 1
            policy = ctx.config.policy_for(t.key, nsfw=parse.sensitive(item))
            yield parse.model_observation(item, t.key, ctx.now(), texts=texts_allowed(policy), web_url=base)
        except SourceError as exc:
            ctx.fail_target(where, _bare(exc))

    # -- searches -------------------------------------------------------------------------
    def _search(self, ctx: SourceContext, api: CivitaiApi, base: str, t: WatchTarget) -> Iterator[Record]:
        query = str(t.extra.get("query") or t.key.handle)
        where = f"civitai search {t.key.handle!r}"
        max_pages = ctx.settings.max_pages
        hits: list[Hit] = []
        cursor: str | None = None
        complete = False
        try:
            for _ in range(max_pages):
                params: dict[str, str | int] = {"query": query, "nsfw": "true", "limit": IDS_PER_REQUEST}
                if cursor:
                    params["cursor"] = cursor
                body = api.get(base, API, params, where)
                if isinstance(body, NotFound):
                    raise SourceError("HTTP 404 for a search", target=where)
                items, cursor = parse.page(body, where)
                hits.extend(parse.hit(item) for item in items)
                if cursor is None:
                    complete = True
                    break
        except SourceError as exc:
            ctx.fail_target(where, _bare(exc))
            return  # a search cut short by an error stores nothing: its ids would read as gone
        self.answered += 1
        yield search_observation(t.key, ctx.now(), parse.SOURCE, tally_hits(hits) if complete else None)
        yield from hit_posts(t.key, hits)
        if not complete:
            ctx.fail_target(
                where,
                f"stopped after max_pages={max_pages} with more pages left; counts not recorded (raise max_pages)",
            )


def _bare(exc: SourceError) -> str:
    text = str(exc)
    prefix = f"{exc.target}: " if exc.target else ""
    return text[len(prefix) :] if prefix and text.startswith(prefix) else text
