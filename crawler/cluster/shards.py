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
* spiders: targets grouped per site (the host they name, else the source's endpoint),
  `spider_group` per shard, so one site's pace (`download_delay`) stays in one process;
* model hubs (Hugging Face, Civitai): `hub_page` entries per shard;
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
            ("targets", p) for site in sorted(by_site) for p in _chunks(by_site[site], cluster.spider_group)
        ]
    size = cluster.hub_page if name in HUB_SOURCES else cluster.group
    parts_ = _chunks(targets, size)
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
