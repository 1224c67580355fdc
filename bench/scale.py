"""Scale bench: a daily crawl of 10,000 subreddits, 2,000 X accounts and 500 repositories.

Prints, side by side, for one simulated day:
- the minimum requests the APIs allow (their batch sizes: 100 subreddit names per
  /api/info, 100 posts per listing page, 100 usernames per /2/users/by, 100 tweets per search
  page, 100 releases per GitHub page) given what the simulated world actually posted;
- the naive plan (one request per community and per page of 25, as a per-item client would);
- the wall-time bound those requests imply under each platform's published rate limit;
- with --crawl, the real crawl against the simulation: requests it used (from the
  simulation's own accounting), wall time and the crawl process's peak memory, and the ratios.

    .venv/bin/python bench/scale.py                 # the plan figures only (seconds)
    .venv/bin/python bench/scale.py --crawl         # also run `dfwatch crawl` at scale
    .venv/bin/python bench/scale.py --subreddits 1000 --accounts 200 --repos 50 --crawl
"""

from __future__ import annotations

import argparse
import math
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crawler.sim.content import releases
from crawler.sim.server import Simulation
from crawler.sim.world import World

# Published limits: (requests, window seconds). Sources in crawler/sim/{reddit,x,github}.py.
LIMITS = {
    "reddit": (600, 600),
    "x_users_by": (300, 900),
    "x_counts": (300, 900),
    "x_search": (450, 900),
    "github": (5000, 3600),
}
MULTI_NAMES = 100  # subreddit names per /r/a+b+.../new listing (keeps the URL well under 8 KB)


@dataclass
class Plan:
    reddit: int
    x_users: int
    x_counts: int
    x_search: int
    github: int

    @property
    def total(self) -> int:
        return self.reddit + self.x_users + self.x_counts + self.x_search + self.github

    def bound_seconds(self) -> float:
        """Least wall time the rate limits allow: full windows spent waiting, per platform, in parallel."""

        def waits(n: int, key: str) -> float:
            limit, window = LIMITS[key]
            return max(0, math.ceil(n / limit) - 1) * window

        return max(
            waits(self.reddit, "reddit"),
            waits(self.x_users, "x_users_by"),
            waits(self.x_counts, "x_counts"),
            waits(self.x_search, "x_search"),
            waits(self.github, "github"),
        )


def day_volumes(world: World) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """Posts per subreddit and tweets per query in the last day, releases per repo (all time)."""
    now = world.now()
    since = now - timedelta(days=1)
    posts = {e.name: len(world.items_between(e, since, now)) for e in world.of_kind("reddit", "subreddit")}
    tweets = {e.name: len(world.items_between(e, since, now)) for e in world.of_kind("x", "query")}
    rels = {e.name: len(releases(world, e)) for e in world.of_kind("github", "repo")}
    return posts, tweets, rels


def minimum_plan(world: World) -> Plan:
    posts, tweets, rels = day_volumes(world)
    names = list(posts)
    listing_pages = 0
    for i in range(0, len(names), MULTI_NAMES):
        listing_pages += max(1, math.ceil(sum(posts[n] for n in names[i : i + MULTI_NAMES]) / 100))
    reddit = 1 + math.ceil(len(names) / 100) + listing_pages  # token + /api/info batches + multi listings
    accounts = len(world.of_kind("x", "account"))
    x_search = sum(max(1, math.ceil(n / 100)) for n in tweets.values())
    github = sum(1 + max(1, math.ceil(n / 100)) for n in rels.values())  # repo + release pages
    return Plan(reddit, math.ceil(accounts / 100), len(tweets), x_search, github)


def naive_plan(world: World) -> Plan:
    """One request per community, 25 items a page (the APIs' defaults), no batching, no ETags."""
    posts, tweets, rels = day_volumes(world)
    reddit = 1 + sum(1 + max(1, math.ceil(n / 25)) for n in posts.values())  # about + /new pages of 25
    x_search = sum(max(1, math.ceil(n / 10)) for n in tweets.values())  # search default max_results=10
    github = sum(1 + max(1, math.ceil(n / 30)) + n for n in rels.values())  # + one assets call per release
    return Plan(reddit, len(world.of_kind("x", "account")), len(tweets), x_search, github)


def run_crawls(sim: Simulation, only: str) -> list[tuple[int, float, float, int]]:
    """Two real `dfwatch crawl`s a simulated day apart: the first backfills, the second is the
    daily crawl the minimum describes. Each: (exit code, seconds, peak MiB so far, requests)."""
    from crawler.sim.demo import CLI, crawl_env, write_config

    tmp = Path(tempfile.mkdtemp(prefix="dfwatch-scale-"))
    db_url = f"sqlite:///{tmp / 'dfwatch.db'}"
    write_config(tmp / "config", sim.world, sim.url, db_url)
    # The demo's short waits suit 30 simulated days; a daily crawl at this scale spans several
    # of Reddit's 10-minute windows, so give it the production default (900 s).
    settings = tmp / "config" / "settings.toml"
    settings.write_text(settings.read_text().replace("max_wait_seconds = 30", "max_wait_seconds = 900"))
    out = []
    reddit = sim.platforms["reddit"]
    real_budget = reddit.limiters["oauth"].limit
    for day in range(2):
        if day:
            sim.advance(days=1)
            reddit.set_limit("oauth", real_budget)  # the daily crawl meets Reddit's real limit
        else:
            # The backfill pages a week back for every subreddit; it only seeds the cursors
            # and is not what this bench measures, so it need not wait out Reddit's windows.
            reddit.set_limit("oauth", 1_000_000)
        env = crawl_env(sim, tmp / "config", db_url)
        # 5,000 requests an hour, as a real deployment would have; the simulation accepts any token.
        env["GITHUB_TOKEN"] = "bench-token"  # noqa: S105 - not a secret
        sim.stats.reset()
        started = time.monotonic()
        proc = subprocess.run(
            [*CLI, "crawl", "--only", only, "--config", str(tmp / "config")],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.monotonic() - started
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
        if proc.returncode not in (0, 4):
            sys.stderr.write(proc.stderr[-2000:])
        out.append((proc.returncode, seconds, peak_mib, sim.stats.count()))
        snap = sim.stats.snapshot()["platforms"]
        print(
            f"crawl {day + 1} ({'backfill' if day == 0 else 'daily'}): exit {proc.returncode}, "
            f"{out[-1][3]} requests in {seconds:.0f} s, peak RSS {peak_mib:.0f} MiB"
        )
        for platform, data in snap.items():
            print(f"  {platform:<10}{data['total']:>8} requests  {data['endpoints']}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--subreddits", type=int, default=10_000)
    ap.add_argument("--accounts", type=int, default=2_000)
    ap.add_argument("--repos", type=int, default=500)
    ap.add_argument("--queries", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start", default="2026-01-10")
    ap.add_argument("--crawl", action="store_true", help="also run the real crawl against the simulation")
    ap.add_argument("--only", default="reddit,x,github")
    args = ap.parse_args()

    t0 = time.monotonic()
    world = World(
        seed=args.seed,
        n_subreddits=args.subreddits,
        n_accounts=args.accounts,
        n_repos=args.repos,
        n_queries=args.queries,
        n_invites=0,
        n_channels=0,
        n_hashtags=0,
        start_date=args.start,
        preset=None,
    )
    world.clock.advance(days=1)
    minimum, naive = minimum_plan(world), naive_plan(world)
    posts, tweets, _ = day_volumes(world)
    print(
        f"world: {args.subreddits} subreddits ({sum(posts.values())} posts in the day), {args.accounts} X accounts, "
        f"{args.queries} queries ({sum(tweets.values())} tweets), {args.repos} repos; built in "
        f"{time.monotonic() - t0:.1f} s"
    )
    print(f"{'':<22}{'minimum':>10}{'naive':>10}{'naive/min':>11}")
    for field in ("reddit", "x_users", "x_counts", "x_search", "github", "total"):
        lo, hi = getattr(minimum, field), getattr(naive, field)
        print(f"{field:<22}{lo:>10}{hi:>10}{hi / max(lo, 1):>10.1f}x")
    print(f"{'rate-limit bound (s)':<22}{minimum.bound_seconds():>10.0f}{naive.bound_seconds():>10.0f}")
    if not args.crawl:
        return
    with Simulation(world) as sim:
        _, (_code, seconds, _peak, used) = run_crawls(sim, args.only)
        minimum, naive = minimum_plan(world), naive_plan(world)  # the daily crawl's day
        print(
            f"daily crawl: used/minimum {used / max(minimum.total, 1):.2f}x  naive/used "
            f"{naive.total / max(used, 1):.1f}x  wall {seconds:.0f} s"
        )
        reddit_used = sim.stats.count("reddit")
        limit, window = LIMITS["reddit"]
        windows = math.ceil(reddit_used / limit)
        print(
            f"rate limits: reddit {reddit_used} requests = {windows} windows of {limit}; the crawl must "
            f"wait for {windows - 1} window reset(s), each up to {window:.0f} s away "
            f"(minimum plan: {minimum.bound_seconds():.0f} s of waiting)"
        )


if __name__ == "__main__":
    main()
