"""Telegram bench: one real `dfwatch crawl --only telegram` of 500 bots against the simulation,
under the default pace settings (`[spiders]` download_delay 0.5 s, 2 requests per site,
AutoThrottle), against the bound those settings imply.

Scrapy spaces the requests to one site (one download slot) by the delay, whatever the
concurrency: on average one request per `download_delay` seconds (a random 0.5-1.5x jitter
around it), and AutoThrottle only raises the delay above that floor (it starts at 1 s). So
N requests to t.me take at least (N - 1) x 0.5 s. Scrapy 2.19 draws the jitter afresh each
time it looks at the slot's queue, and a wait ends only once a draw falls below the time
already waited: the expected gap is then about 0.61 s, not 0.5 s (computed here from the
same rule), which is the bound the settings really imply. Printed side by side from one
run: the requests the simulation received and the crawl recorded (run_sources.requests),
both bounds, the measured span from the first to the last request the simulation saw, the
gaps between requests, and the wall time of the whole crawl process (start-up and storing
included).

    .venv/bin/python bench/telegram.py                  # 500 bots, the default pace
    .venv/bin/python bench/telegram.py --targets 100 --kind channel   # channels without preview
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crawler.config.models import SpiderSettings
from crawler.sim.demo import CLI, crawl_env
from crawler.sim.server import Simulation
from crawler.sim.world import World

SECTIONS = {"bot": "bots", "group": "groups", "channel": "channels"}
JITTER = 0.5  # Scrapy's RANDOMIZE_DOWNLOAD_DELAY: each delay drawn from 0.5x-1.5x


def scrapy_gap(delay: float, jitter: float = JITTER, draws: int = 200_000) -> float:
    """Expected seconds between two requests to one slot under Scrapy's rule: after a send it
    waits a fresh draw; then, each time it looks again, it draws anew and sends only when
    the draw is no longer than the time since the last send (else it waits until then)."""
    rng = random.Random(0)
    lo, hi = delay * (1 - jitter), delay * (1 + jitter)
    total = 0.0
    for _ in range(draws):
        waited = rng.uniform(lo, hi)
        while (draw := rng.uniform(lo, hi)) > waited:
            waited = draw
        total += waited
    return total / draws


class Clock:
    """When the simulation received each t.me request (wraps its accounting)."""

    def __init__(self, sim: Simulation) -> None:
        self.times: list[float] = []
        self._lock = threading.Lock()
        inner = sim.stats.request

        def request(platform: str, endpoint: str) -> None:
            if platform == "telegram":
                with self._lock:
                    self.times.append(time.monotonic())
            inner(platform, endpoint)

        sim.stats.request = request  # type: ignore[method-assign]

    @property
    def span(self) -> float:
        return self.times[-1] - self.times[0] if len(self.times) > 1 else 0.0

    def gaps(self) -> str:
        """Mean and median seconds between consecutive requests, and their spread."""
        gaps = sorted(b - a for a, b in zip(self.times, self.times[1:], strict=False))
        if not gaps:
            return "n/a"
        mid = gaps[len(gaps) // 2]
        return (
            f"mean {sum(gaps) / len(gaps):.3f} s, median {mid:.3f} s, "
            f"5%-95% {gaps[len(gaps) // 20]:.3f}-{gaps[len(gaps) * 19 // 20]:.3f} s"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--targets", type=int, default=500)
    ap.add_argument("--kind", choices=sorted(SECTIONS), default="bot", help="channel: all without preview")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--no-autothrottle",
        action="store_true",
        help="the fixed 0.5 s delay alone, to see what AutoThrottle adds",
    )
    args = ap.parse_args()

    counts = {"n_bots": 0, "n_groups": 0, "n_channels": 0}
    counts[f"n_{SECTIONS[args.kind]}"] = args.targets
    world = World(
        seed=args.seed,
        start_date="2026-01-10",
        preset=None,
        n_subreddits=0,
        n_accounts=0,
        n_queries=0,
        n_repos=0,
        n_invites=0,
        n_hashtags=0,
        **counts,
    )
    for e in world.of_kind("telegram", "channel"):
        e.extra["preview"] = False  # the dearer case: /s/NAME, then the page it redirects to
    names = world.names("telegram", args.kind)
    pace = SpiderSettings(autothrottle=not args.no_autothrottle)  # else the defaults, as deployed
    tmp = Path(tempfile.mkdtemp(prefix="dfwatch-bench-telegram-"))
    config, db = tmp / "config", tmp / "dfwatch.db"
    config.mkdir()
    # No [spiders] section unless asked: the default pace, as deployed.
    settings = '[crawler]\ncontact = "https://github.com/dfwatch/dfwatch (bench)"\n'
    if args.no_autothrottle:
        settings += "[spiders]\nautothrottle = false\n"
    (config / "settings.toml").write_text(settings)
    (config / "watchlist.yaml").write_text(yaml.safe_dump({"telegram": {SECTIONS[args.kind]: names}}))
    (config / "tools.yaml").write_text(yaml.safe_dump({"tools": [{"name": "FaceFusion"}]}))

    with Simulation(world) as sim:
        clock = Clock(sim)
        env = crawl_env(sim, config, f"sqlite:///{db}")
        started = time.monotonic()
        proc = subprocess.run(
            [*CLI, "crawl", "--only", "telegram", "--config", str(config)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.monotonic() - started
        received = sim.stats.snapshot()["platforms"].get("telegram", {"total": 0, "endpoints": {}})
    if proc.returncode not in (0, 4):
        sys.stderr.write(proc.stderr[-2000:])
        raise SystemExit(f"crawl failed with exit code {proc.returncode}")
    with sqlite3.connect(db) as conn:
        (recorded,) = conn.execute("select requests from run_sources where source = 'telegram'").fetchone()
        statuses = dict(
            conn.execute(
                "select status, count(*) from communities where platform = 'telegram' group by status"
            ).fetchall()
        )

    requests = received["total"]
    bound = max(0, requests - 1) * pace.download_delay
    gap = scrapy_gap(pace.download_delay)
    scrapy_bound = max(0, requests - 1) * gap
    print(
        f"{args.targets} {SECTIONS[args.kind]}; pace: download_delay {pace.download_delay} s, "
        f"{pace.concurrent_per_domain} per site, AutoThrottle {'on' if pace.autothrottle else 'off'}"
    )
    print(
        f"  requests        sim received {requests} {received['endpoints']}, run_sources.requests {recorded}"
    )
    print(f"  requests/target {requests / args.targets:.3f} (robots.txt included)")
    print(f"  bound           {bound:.1f} s  ((requests - 1) x {pace.download_delay} s)")
    print(f"  bound (Scrapy)  {scrapy_bound:.1f} s  ((requests - 1) x {gap:.3f} s, the jitter re-drawn)")
    print(
        f"  measured span   {clock.span:.1f} s  first to last request ({clock.span / max(bound, 1e-9):.2f}x the bound)"
    )
    print(f"  between requests {clock.gaps()}")
    print(f"  span/Scrapy bound {clock.span / max(scrapy_bound, 1e-9):.2f}x")
    print(f"  crawl wall      {wall:.1f} s  whole process ({wall / max(bound, 1e-9):.2f}x the bound)")
    print(f"  stored          {statuses}")


if __name__ == "__main__":
    main()
