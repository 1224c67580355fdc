"""Model-hub bench: 2,000 watched models and 20 searches on each hub, against the simulation.

Prints, side by side, per hub (Hugging Face through huggingface_hub, Civitai through requests):
- the requests the crawl used (the simulation's own accounting, held against the run log),
- the naive plan: one call per watched model (and the same search pages),
- the minimum the page sizes allow: one listing page per 1,000 models of each owner (Hub) or
  one request per 100 ids (Civitai), one call for each watched model no listing can show
  (disabled, taken down, deleted: only a per-model call says which), and the search pages;
- wall time against the rate-limit bound: full windows the platform's budget forces the crawl
  to wait (Hub: 500 calls per 5 minutes without a token; Civitai publishes none, the
  simulation's edge limit stands in), for the crawl and for the naive plan.

Waits run on a virtual clock (the crawl's `sleep` moves it; the simulated limits read it), so a
crawl that must wait 20 minutes takes seconds; wall time is real seconds plus waited seconds.

    .venv/bin/python bench/hubs.py
    .venv/bin/python bench/hubs.py --models 500 --searches 5
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from itertools import combinations
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml

from crawler.config import load_config
from crawler.run import run_crawl
from crawler.sim import Simulation, World
from crawler.sim import civitai as sim_civitai
from crawler.sim import hubs_world as hw
from crawler.sim import huggingface as sim_hf

NOW = datetime(2025, 6, 20, 12, tzinfo=UTC)
LIMITS = {  # (requests, window seconds)
    "huggingface": (sim_hf.LIMITS["anonymous"], sim_hf.WINDOW),
    "civitai": (sim_civitai.EDGE_LIMIT, sim_civitai.EDGE_WINDOW),
}


class VirtualClock:
    """Real time plus every second the crawl was told to wait."""

    def __init__(self) -> None:
        self.waited = 0.0

    def time(self) -> float:
        return time.time() + self.waited

    def sleep(self, seconds: float) -> None:
        self.waited += seconds


def bound(requests: int, platform: str) -> float:
    limit, window = LIMITS[platform]
    return max(0, math.ceil(requests / limit) - 1) * window


def queries(n: int) -> list[str]:
    pairs = [" ".join(p) for p in combinations(hw.WORDS, 2)]
    return [*hw.WORDS, *pairs][:n]


def minimum(world: World, platform: str, watched: list[str], searches: list[str]) -> int:
    """The fewest requests the page sizes allow (see the module docstring)."""
    models = [e for e in world.of_kind(platform, "model")]
    by_name = {e.name.lower(): e for e in models}
    unseen = sum(1 for n in watched if not hw.listed(world, by_name[n.lower()]))
    if platform == "huggingface":
        owners: dict[str, int] = {}
        for e in models:
            if hw.listed(world, e):
                owner = hw.hub_traits(e).owner.lower()
                owners[owner] = owners.get(owner, 0) + 1
        watched_owners = {n.split("/")[0].lower() for n in watched}
        listings = sum(max(1, math.ceil(owners.get(o, 0) / sim_hf.PAGE)) for o in watched_owners)
        pages = [
            sum(1 for e in models if hw.listed(world, e) and q.lower() in e.name.lower()) for q in searches
        ]
        return listings + unseen + sum(max(1, math.ceil(p / sim_hf.PAGE)) for p in pages)
    pages = [sum(1 for e in models if hw.listed(world, e) and hw.matches(e, q)) for q in searches]
    return (
        math.ceil(len(watched) / 100) + unseen + sum(max(1, math.ceil(p / sim_civitai.PAGE)) for p in pages)
    )


def crawl(
    sim: Simulation, clock: VirtualClock, platform: str, section: dict[str, Any], tmp: Path
) -> tuple[int, float, str]:
    d = tmp / platform
    d.mkdir(parents=True)
    (d / "settings.toml").write_text(
        "[crawler]\nallow_private_hosts = true\n[rate_limits]\nmax_wait_seconds = 900\n"
    )
    (d / "watchlist.yaml").write_text(yaml.safe_dump({platform: section}))
    env = {
        "DFWATCH_DATABASE_URL": f"sqlite:///{d / 'dfwatch.db'}",
        "DFWATCH_PSEUDONYM_KEY": "bench-key-not-secret-0123456789",
        f"DFWATCH_ENDPOINT_{platform.upper()}": sim.url,
    }
    config = load_config(d, env=env)
    sim.stats.reset()
    waited0, started = clock.waited, time.monotonic()
    result = run_crawl(config, only=[platform], sleep=clock.sleep)
    wall = time.monotonic() - started + clock.waited - waited0
    return sim.stats.count(platform), wall, result.status


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=int, default=2000, help="watched models on each hub")
    ap.add_argument("--searches", type=int, default=20, help="searches on each hub")
    args = ap.parse_args()
    os.environ["DFWATCH_NOW"] = NOW.isoformat()
    clock = VirtualClock()
    extra = args.models + args.models // 4  # models nobody watches, on the same owners
    world = World(seed=11, n_hf_models=extra, n_civitai_models=extra)
    world.clock.set(NOW)
    searches = queries(args.searches)
    rows = []
    with Simulation(world, time_fn=clock.time) as sim, tempfile.TemporaryDirectory() as tmp:
        for platform in ("huggingface", "civitai"):
            generated = [e for e in world.of_kind(platform, "model") if e.created <= NOW][: args.models]
            watched = [e.name for e in generated]
            section = {"models": watched, "searches": searches}
            used, wall, status = crawl(sim, clock, platform, section, Path(tmp))
            # The naive plan's search pages are the crawl's own: searches cannot be batched.
            searches_only, _, _ = crawl(sim, clock, platform, {"searches": searches}, Path(tmp) / "searches")
            naive = len(watched) + searches_only
            least = minimum(world, platform, watched, searches)
            rows.append(
                (
                    platform,
                    len(watched),
                    used,
                    naive,
                    least,
                    wall,
                    bound(used, platform),
                    bound(naive, platform),
                    status,
                )
            )
    print(
        f"{'hub':<12} {'models':>6} {'requests':>9} {'naive':>7} {'minimum':>8} {'naive/used':>10} {'used/min':>8} "
        f"{'wall s':>8} {'bound s':>8} {'naive bound s':>13}  status"
    )
    for platform, n, used, naive, least, wall, b, nb, status in rows:
        print(
            f"{platform:<12} {n:>6} {used:>9} {naive:>7} {least:>8} {naive / used:>10.1f} {used / least:>8.2f} "
            f"{wall:>8.0f} {b:>8.0f} {nb:>13.0f}  {status}"
        )


if __name__ == "__main__":
    main()
