"""The planner of a distributed crawl: one crawl cut into shards, each a part of one source.

A shard is what a worker runs: one source over some of its targets. How a source is cut
follows the unit its platform already batches in, so a shard costs what the same targets
cost in a single-machine crawl:

* Reddit: blocks of `[cluster] reddit_block` (100) names in the order the source itself
  batches them (sorted, case-folded), so a shard is one `/api/info` call and one combined
  `/new` listing, and its listing state has the same key as on one machine. The deletion
  sweep runs once per crawl (`Source.has_finale`): in a `finale` shard, enqueued after
  every other Reddit shard of the run is done;
* X: accounts in batches of `x_batch` (100, one `/2/users/by` call), queries in groups;
  with `[x] max_cost_usd_per_run` set, X runs as one shard (a run's cap is one meter);
* spiders: targets grouped per site (the host they name, else the source's endpoint); a
  site is never split, so its pace (`download_delay`, `concurrent_per_domain`) is kept by
  one process: two shards of one site running at once would each keep it, together
  doubling it. Small sites are packed together up to `spider_group` targets a shard;
* model hubs (Hugging Face, Civitai): whole owners (a Hugging Face owner's watched models
  come from one listing) packed up to `hub_page` entries a shard (Civitai asks 100 ids a
  request, so the default page is 100);
* a source whose state spans all its targets (`Source.shard_whole`: Bluesky's record of
  missing accounts, read once and written once a crawl): one shard;
* every other source: groups of `group` entries.

Cursors and listing states are kept per target (or per Reddit block), so shards of one
source may finish in any order.

A shard's message names the run, the source, the shard's number, its steps and its
targets as community keys (platform, kind, handle), and a fingerprint of the config
(`config_fingerprint`), and nothing else: no credential, no database or broker URL. A
worker rebuilds the targets from its own watchlist, and refuses a shard planned from
another config.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from crawler.config import Config, WatchTarget
from crawler.plugins import spec
from crawler.sources.base import Source, Steps

__all__ = ["Shard", "config_fingerprint", "plan_shards", "shard_targets"]

HUB_SOURCES = frozenset({"huggingface", "civitai"})
Key = tuple[str, str, str]  # (platform, kind, handle) as the watchlist writes it


@dataclass(frozen=True)
class Shard:
    """One unit of work on the queue (see the module docstring)."""

    run_id: int
    source: str
    index: int  # from 1 within the source
    steps: Steps
    targets: tuple[Key, ...]
    fingerprint: str

    def message(self) -> dict[str, Any]:
        """The JSON-safe body of the queue message: nothing secret."""
        return {
            "run_id": self.run_id,
            "source": self.source,
            "shard": self.index,
            "steps": self.steps,
            "targets": [list(t) for t in self.targets],
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_message(cls, body: dict[str, Any]) -> Shard:
        return cls(
            run_id=int(body["run_id"]),
            source=str(body["source"]),
            index=int(body["shard"]),
            steps=body["steps"],
            targets=tuple((str(p), str(k), str(h)) for p, k, h in body["targets"]),
            fingerprint=str(body["fingerprint"]),
        )

    def __str__(self) -> str:
        return f"{self.source}#{self.index}"


def config_fingerprint(config: Config) -> str:
    """A SHA-256 over what decides what a shard does: settings, watchlist, tools.

    Leaves out `[database]` and `[cluster]` (each machine may name the same server its
    own way) and the environment (credentials, endpoints): a worker whose watchlist or
    settings differ from the planner's would crawl something else under the same shard.
    """
    settings = config.settings.model_dump(mode="json", exclude={"database", "cluster"})
    doc = {
        "settings": settings,
        "watchlist": config.watchlist.model_dump(mode="json"),
        "tools": [t.model_dump(mode="json") for t in config.tools],
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _key(t: WatchTarget) -> Key:
    return (t.key.platform, t.key.kind, t.key.handle)


def _chunks(items: Sequence[WatchTarget], size: int) -> list[list[WatchTarget]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def _site(config: Config, name: str, target: WatchTarget) -> str:
    """The site a spider target is fetched from: the host it names, else its source's endpoint."""
    if target.hosts:
        return target.hosts[0].lower()
    declared = spec(name).endpoints
    if declared:
        return urlsplit(config.endpoint(declared[0].name)).hostname or name
    return name


def _pack(groups: Sequence[list[WatchTarget]], size: int) -> list[list[WatchTarget]]:
    """Whole groups packed in order into parts of at most `size` targets; a group larger
    than `size` is a part of its own (it is never split)."""
    parts: list[list[WatchTarget]] = []
    current: list[WatchTarget] = []
    for group in groups:
        if current and len(current) + len(group) > size:
            parts.append(current)
            current = []
        current = current + group
        if len(current) >= size:
            parts.append(current)
            current = []
    if current:
        parts.append(current)
    return parts


def _owner(target: WatchTarget) -> str:
    """A hub entry's owner ("owner/name" models and spaces); other entries stand alone."""
    handle = target.key.handle.lower()
    return handle.partition("/")[0] if target.key.kind in ("model", "space") and "/" in handle else handle


def _cut(config: Config, name: str, source: Source) -> list[tuple[Steps, list[WatchTarget]]]:
    """A source's targets as (steps, targets) parts, in the order they are enqueued."""
    cluster = config.settings.cluster
    targets = config.targets(name)
    if not targets:
        return []
    if source.shard_whole:
        return [("all", targets)]
    if name == "reddit":
        ordered = sorted(targets, key=lambda t: t.key.handle.lower())  # as the source batches them
        blocks = _chunks(ordered, cluster.reddit_block)
        if len(blocks) == 1 or not source.has_finale:
            return [("all", ordered)] if len(blocks) == 1 else [("targets", b) for b in blocks]
        return [*(("targets", b) for b in blocks), ("finale", [])]
    if name == "x":
        if getattr(config.source_settings("x"), "max_cost_usd_per_run", None) is not None:
            return [("all", targets)]
        accounts = [t for t in targets if t.key.kind == "account"]
        others = [t for t in targets if t.key.kind != "account"]
        parts = _chunks(accounts, cluster.x_batch) + _chunks(others, cluster.group)
        return [("targets", p) for p in parts]
    if source.group == "scrapy":
        by_site: dict[str, list[WatchTarget]] = {}
        for t in targets:
            by_site.setdefault(_site(config, name, t), []).append(t)
        return [
            ("targets", p) for p in _pack([by_site[site] for site in sorted(by_site)], cluster.spider_group)
        ]
    if name in HUB_SOURCES:
        by_owner: dict[str, list[WatchTarget]] = {}
        for t in targets:
            by_owner.setdefault(f"{t.key.kind}:{_owner(t)}", []).append(t)
        parts_ = _pack(list(by_owner.values()), cluster.hub_page)
    else:
        parts_ = _chunks(targets, cluster.group)
    if source.has_finale and len(parts_) > 1:
        return [*(("targets", p) for p in parts_), ("finale", [])]
    return [("all" if len(parts_) == 1 else "targets", p) for p in parts_]


def plan_shards(config: Config, run_id: int, runnable: Sequence[tuple[str, Source]]) -> list[Shard]:
    """Every shard of one crawl of the `runnable` sources (see the module docstring)."""
    fingerprint = config_fingerprint(config)
    shards: list[Shard] = []
    for name, source in runnable:
        for i, (steps, part) in enumerate(_cut(config, name, source), 1):
            shards.append(Shard(run_id, name, i, steps, tuple(_key(t) for t in part), fingerprint))
    return shards


def shard_targets(config: Config, shard: Shard) -> list[WatchTarget]:
    """The worker's own watchlist entries that a shard names, in the shard's order.

    Raises KeyError naming a key the watchlist does not have (a config that drifted).
    """
    mine = {t.key.norm: t for t in config.targets(shard.source)}
    out = []
    for platform, kind, handle in shard.targets:
        norm = (platform, kind, handle.lower())
        if norm not in mine:
            raise KeyError(f"{platform}:{kind}:{handle}")
        out.append(mine[norm])
    return out
