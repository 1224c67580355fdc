"""Requests a Bluesky crawl of N accounts costs: dfwatch's plan against the minimum, side by side.

Against the simulation (crawler/sim/bluesky.py, the real atproto SDK through `run_crawl`):
N generated accounts, some of which the world takes down or deactivates. The minimum is
⌈N / 25⌉ getProfiles calls (25 actors a call, the lexicon's maximum); an account the batch
leaves out costs one getProfile to learn why, once, and then only every
`recheck_missing_days`. The naive plan asks getProfile once per account.

    .venv/bin/python bench/bluesky_requests.py [--accounts 1000] [--days 3]
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.config import load_config  # noqa: E402
from crawler.run import run_crawl  # noqa: E402
from crawler.sim import Simulation  # noqa: E402

EMPTY = {
    "n_subreddits": 0,
    "n_accounts": 0,
    "n_queries": 0,
    "n_repos": 0,
    "n_invites": 0,
    "n_channels": 0,
    "n_hashtags": 0,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--days", type=int, default=3, help="daily crawls after the first")
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory() as tmp,
        Simulation(seed=2026, preset=None, n_bluesky_accounts=args.accounts, **EMPTY) as sim,
    ):
        # Past the generated events (within 60 days of the start): takedowns have happened.
        sim.clock.set(sim.world.start + timedelta(days=90))
        names = sim.world.names("bluesky", "account")
        config_dir = Path(tmp) / "config"
        config_dir.mkdir()
        (config_dir / "settings.toml").write_text("[crawler]\nallow_private_hosts = true\n")
        (config_dir / "watchlist.yaml").write_text(yaml.safe_dump({"bluesky": {"accounts": names}}))
        shutil.copy(ROOT / "config" / "tools.yaml", config_dir / "tools.yaml")
        env = {
            **sim.endpoint_env(),
            "DFWATCH_DATABASE_URL": f"sqlite:///{tmp}/bench.db",
            "DFWATCH_PSEUDONYM_KEY": "bench-key-not-a-secret",
        }
        config = load_config(config_dir, env=env)
        crawls = []
        for day in range(args.days + 1):
            sim.stats.reset()
            result = run_crawl(config, only=["bluesky"], sleep=lambda _s: None)
            stats = result.sources["bluesky"].stats
            snapshot = sim.stats.snapshot()["platforms"].get("bluesky", {"endpoints": {}})["endpoints"]
            crawls.append(
                (day, stats.requests, snapshot.get("getProfiles", 0), snapshot.get("getProfile", 0))
            )
            sim.advance(days=1)
        absent = sum(1 for n in names if sim.world.status(sim.world.get("bluesky", "account", n)) != "active")  # type: ignore[arg-type]

    minimum = math.ceil(args.accounts / 25)
    print(f"Bluesky crawl of {args.accounts} accounts ({absent} taken down, deactivated or not yet created)")
    print(f"  minimum (getProfiles, 25 actors a call):    {minimum:5d} calls")
    print(f"  naive (one getProfile per account):         {args.accounts:5d} calls")
    for day, sent, batches, singles in crawls:
        label = "first crawl" if day == 0 else f"daily crawl {day}"
        print(
            f"  dfwatch, {label:<14}                     {sent:5d} calls "
            f"({batches} getProfiles + {singles} getProfile)  = {sent / minimum:.2f}x the minimum"
        )


if __name__ == "__main__":
    main()
