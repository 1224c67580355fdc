"""Scale bench: a daily crawl of 10,000 subreddits, 2,000 X accounts and 500 repositories.

Prints, side by side, for one simulated day:
- the minimum requests the APIs allow (their batch sizes: 100 subreddit names per
  /api/info, 100 posts per listing page, 100 usernames per /2/users/by, 100 tweets per search
  page, 100 releases per GitHub page) given what the simulated world actually posted;
- the naive plan (one request per community and per page of 25, as a per-item client would);
- the wall-time bound those requests imply under each platform's published rate limit;
- with --crawl, real crawls against the simulation, a simulated day apart (`--days`, 2 by
  default: a backfill, then the measured daily crawl at Reddit's real limit; 30 brings the
  deletion sweep to its steady state): requests used (the simulation's own accounting) against
  the minimum, the sweep's and the dead communities' share, wall time against the rate-limit
  bound of the requests used, X's estimated charges, peak memory;
- with --sweeps tiered,daily, the same crawls once per `[reddit] sweep` on the same world, side
  by side, and the deletions the tiered sweep missed against the daily one.

    .venv/bin/python bench/scale.py                 # the plan figures only (seconds)
    .venv/bin/python bench/scale.py --crawl         # also run `dfwatch crawl` at scale
    .venv/bin/python bench/scale.py --crawl --days 30 --sweeps tiered,daily
    .venv/bin/python bench/scale.py --subreddits 1000 --accounts 200 --repos 50 --crawl
"""

from __future__ import annotations

import argparse
import math
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crawler.sim.content import releases
from crawler.sim.reddit import Reddit
from crawler.sim.server import Simulation
from crawler.sim.world import World

try:  # absent from checkouts before the tiered sweep (the "before" side of the measure)
    from crawler.recheck import sweep_ages
except ImportError:  # pragma: no cover - bench on an older checkout
    sweep_ages = None  # type: ignore[assignment]

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


@dataclass
class Crawl:
    """One real `dfwatch crawl` against the simulation, and what the platforms saw."""

    day: int
    code: int
    seconds: float
    peak_mib: float
    requests: int
    platforms: dict[str, Any]
    cost_usd: float | None  # X's estimated charges (run_sources.cost_usd), where recorded

    def endpoint(self, platform: str, name: str) -> int:
        return int(self.platforms.get(platform, {}).get("endpoints", {}).get(name, 0))

    def status(self, platform: str, status: int) -> int:
        return int(self.platforms.get(platform, {}).get("statuses", {}).get(str(status), 0))


def _cost(db_path: Path) -> float | None:
    """The last run's X cost from the crawl's database (None before the column existed)."""
    with sqlite3.connect(db_path) as conn:
        try:
            row = conn.execute(
                "SELECT cost_usd FROM run_sources WHERE source = 'x' ORDER BY run_id DESC LIMIT 1"
            ).fetchone()
        except sqlite3.OperationalError:
            return None
    return None if row is None or row[0] is None else float(row[0])


def run_crawls(
    sim: Simulation,
    only: str,
    days: int,
    settings_extra: str = "",
    on_crawl: Callable[[int, Path], None] | None = None,
    real_limit: bool = True,
) -> list[Crawl]:
    """`days` real `dfwatch crawl`s a simulated day apart: the first backfills, the last is the
    daily crawl the minimum describes and meets Reddit's real limit. The ones in between
    bring the sweep to its steady state; Reddit's budget is lifted for them (and for the
    backfill) so they need not wait out its windows: they are not what this bench measures.
    With `real_limit` False the last crawl is spared them too (its requests are measured, its
    wall time then is work only).
    """
    from crawler.sim.demo import CLI, crawl_env, write_config

    tmp = Path(tempfile.mkdtemp(prefix="dfwatch-scale-"))
    db_path = tmp / "dfwatch.db"
    db_url = f"sqlite:///{db_path}"
    write_config(tmp / "config", sim.world, sim.url, db_url)
    # The demo's short waits suit 30 simulated days; a daily crawl at this scale spans several
    # of Reddit's 10-minute windows, so give it the production default (900 s).
    settings = tmp / "config" / "settings.toml"
    settings.write_text(
        settings.read_text().replace("max_wait_seconds = 30", "max_wait_seconds = 900") + settings_extra
    )
    out: list[Crawl] = []
    reddit = sim.platforms["reddit"]
    real_budget = reddit.limiters["oauth"].limit
    for day in range(days):
        if day:
            sim.advance(days=1)
        last = day == days - 1 and days > 1
        reddit.set_limit("oauth", real_budget if last and real_limit else 1_000_000)
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
        snap = sim.stats.snapshot()["platforms"]
        crawl = Crawl(day + 1, proc.returncode, seconds, peak_mib, sim.stats.count(), snap, _cost(db_path))
        out.append(crawl)
        kind = "backfill" if day == 0 else "daily, warm-up"
        if last:
            kind = "daily, Reddit's real limit" if real_limit else "daily, measured, Reddit's limit lifted"
        print(
            f"  crawl {day + 1} ({kind}): exit {proc.returncode}, {crawl.requests} requests in "
            f"{seconds:.0f} s, peak RSS {peak_mib:.0f} MiB",
            flush=True,
        )
        if last or day == 0:
            for platform, data in snap.items():
                print(f"    {platform:<10}{data['total']:>8} requests  {data['endpoints']}")
        if on_crawl is not None:
            on_crawl(day + 1, db_path)
    return out


# --------------------------------------------------------------------------- deletions


class Deletions:
    """Which stored posts a crawl's database shows removed or deleted, after each crawl.

    The world knows every post's fate (removed or deleted, and when), so each deletion the
    store records can be dated against the day it happened upstream.
    """

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.found_on: dict[str, int] = {}  # post id -> the crawl (day) that recorded it gone
        self.crawled_at: dict[int, float] = {}
        self.last_seen: dict[str, tuple[float, float]] = {}  # id -> (created, last seen), final

    def __call__(self, day: int, db_path: Path) -> None:
        self.crawled_at[day] = self.sim.clock.timestamp()
        with sqlite3.connect(db_path) as conn:
            for (pid,) in conn.execute(
                "SELECT external_id FROM posts WHERE platform = 'reddit' AND state <> 'visible'"
            ):
                self.found_on.setdefault(pid, day)
            self.stored = [
                (pid, _epoch(created), _epoch(seen))
                for pid, created, seen in conn.execute(
                    "SELECT external_id, created_at, last_seen_at FROM posts WHERE platform = 'reddit'"
                )
            ]

    def upstream(self) -> dict[str, tuple[float, float]]:
        """Stored posts gone upstream by the last crawl: id -> (created, gone at)."""
        reddit = self.sim.platforms["reddit"]
        assert isinstance(reddit, Reddit)
        end = self.crawled_at[max(self.crawled_at)]
        out: dict[str, tuple[float, float]] = {}
        for pid, _created, _seen in self.stored:
            found = reddit._post_by_fullname(f"t3_{pid}", end)  # the bench reads the world
            if found is None:
                continue
            item = found[1]
            if item.fate != "visible" and item.fate_at is not None and item.fate_at <= end:
                out[pid] = (item.created, item.fate_at)
        return out


def _epoch(value: str | None) -> float:
    if not value:
        return float("nan")
    return datetime.fromisoformat(value).replace(tzinfo=UTC).timestamp()


def compare_deletions(tiered: Deletions, daily: Deletions, fraction: float, horizon_days: float) -> None:
    """Deletions the tiered sweep missed against the daily one on the same world, by age."""
    gone = daily.upstream()
    day_s = 86400.0
    rows: dict[str, list[int]] = {"first week": [0, 0, 0, 0], "later": [0, 0, 0, 0]}
    lags: dict[str, list[float]] = {"tiered": [], "daily": []}
    seen_tiered = {pid: (c, s) for pid, c, s in tiered.stored}
    lost = pending = 0
    for pid, (created, gone_at) in gone.items():
        bucket = "first week" if gone_at - created <= 7 * day_s else "later"
        found_d, found_t = pid in daily.found_on, pid in tiered.found_on
        row = rows[bucket]
        row[0] += 1
        row[1] += found_d
        row[2] += found_t
        if found_d and not found_t:
            row[3] += 1
            c, s = seen_tiered.get(pid, (created, created))
            next_age = (s - c) / (1 - fraction) / day_s  # when the tier makes it due again
            if next_age >= horizon_days:
                lost += 1
            else:
                pending += 1
        for name, result in (("tiered", tiered), ("daily", daily)):
            day = result.found_on.get(pid)
            if day is not None:
                lags[name].append((result.crawled_at[day] - gone_at) / day_s)
    print(f"deletions upstream among stored posts by the last crawl: {len(gone)}")
    print(f"  {'deleted':<12}{'upstream':>10}{'daily':>10}{'tiered':>10}{'missed':>10}")
    for bucket, (n, d, t, missed) in rows.items():
        print(f"  {bucket:<12}{n:>10}{d:>10}{t:>10}{missed:>10}")
    print(
        f"  missed by the tiered sweep: {pending} not due yet (found by a later crawl), {lost} never "
        f"due again within compliance_days"
    )
    for name, values in lags.items():
        if values:
            values.sort()
            print(
                f"  {name:<7} days from deletion upstream to the store: mean {sum(values) / len(values):.2f}, "
                f"median {values[len(values) // 2]:.2f}, max {values[-1]:.2f}"
            )


# --------------------------------------------------------------------------- report


def summarize(name: str, world: World, crawl: Crawl) -> dict[str, float]:
    minimum = minimum_plan(world)  # the measured crawl's day
    names = len(world.of_kind("reddit", "subreddit"))
    reddit_used = crawl.endpoint("reddit", "info") + crawl.endpoint("reddit", "about")
    reddit_used += crawl.endpoint("reddit", "new") + crawl.endpoint("reddit", "token")
    sweep = crawl.endpoint("reddit", "info") - math.ceil(names / 100)
    dead = crawl.endpoint("reddit", "about") + crawl.status("github", 404)
    used_plan = Plan(
        crawl.platforms.get("reddit", {}).get("total", 0),
        crawl.endpoint("x", "users_by"),
        crawl.endpoint("x", "counts_recent"),
        crawl.endpoint("x", "search_recent"),
        crawl.platforms.get("github", {}).get("total", 0),
    )
    return {
        "requests": crawl.requests,
        "minimum": minimum.total,
        "used/minimum": crawl.requests / max(minimum.total, 1),
        "reddit": reddit_used,
        "sweep (/api/info?id=)": sweep,
        "dead communities": dead,
        "wall (s)": crawl.seconds,
        "bound, minimum (s)": minimum.bound_seconds(),
        "bound, used (s)": used_plan.bound_seconds(),
        # Only meaningful where the requests need more than one window (else the bound is 0 s).
        "wall/bound used": crawl.seconds / used_plan.bound_seconds()
        if used_plan.bound_seconds()
        else float("nan"),
        "x cost (USD)": crawl.cost_usd if crawl.cost_usd is not None else float("nan"),
    }


def print_side_by_side(results: dict[str, dict[str, float]]) -> None:
    names = list(results)
    print(f"{'':<24}" + "".join(f"{n:>14}" for n in names))
    for field in results[names[0]]:
        cells = []
        for n in names:
            v = results[n][field]
            cells.append(f"{v:>14.2f}" if (isinstance(v, float) and abs(v) < 100) else f"{v:>14.0f}")
        print(f"{field:<24}" + "".join(cells))


def build_world(args: argparse.Namespace) -> World:
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
    return world


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
    ap.add_argument(
        "--days", type=int, default=2, help="simulated days crawled; the last one is measured (default 2)"
    )
    ap.add_argument(
        "--lift-limit",
        action="store_true",
        help="spare the measured crawl Reddit's real limit too (requests measured, wall time is work only)",
    )
    ap.add_argument(
        "--sweeps",
        default="default",
        help="comma-separated [reddit] sweep settings to run side by side on the same world "
        "(tiered, daily; `default` writes none, for checkouts from before the setting)",
    )
    args = ap.parse_args()

    t0 = time.monotonic()
    world = build_world(args)
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
    if sweep_ages is not None:
        fraction = 0.25
        ages = sweep_ages(fraction, timedelta(days=30))
        print(
            f"tiered sweep (fraction {fraction}): a post is re-checked at the ages of {ages} days, "
            f"{len(ages)} times in 30 days; the daily sweep re-checks it 29 times"
        )
        per_day = sum(posts.values())
        print(f"the sweep in steady state at {per_day} posts a day (model: checks a post x posts / 100):")
        for f in (0.25, 0.5, 1.0):
            n = len(sweep_ages(f, timedelta(days=30)))
            print(
                f"  sweep_fraction {f:<5}{n:>4} checks a post ~{math.ceil(per_day * n / 100):>6} requests a day"
            )
        print(f"  sweep = daily       29 checks a post ~{math.ceil(per_day * 29 / 100):>6} requests a day")
    if not args.crawl:
        return
    results: dict[str, dict[str, float]] = {}
    deletions: dict[str, Deletions] = {}
    fraction = 0.25
    for sweep in [s.strip() for s in args.sweeps.split(",") if s.strip()]:
        extra = "" if sweep == "default" else f'\n[reddit]\nsweep = "{sweep}"\n'
        print(f"sweep = {sweep}: {args.days} crawls, a simulated day apart")
        mode_world = world if len(results) == 0 else build_world(args)  # the same world, afresh
        with Simulation(mode_world) as sim:
            tracker = Deletions(sim)
            crawls = run_crawls(
                sim, args.only, args.days, extra, on_crawl=tracker, real_limit=not args.lift_limit
            )
            results[sweep] = summarize(sweep, mode_world, crawls[-1])
            deletions[sweep] = tracker
    print(f"the measured daily crawl (day {args.days}), side by side:")
    print_side_by_side(results)
    if "tiered" in deletions and "daily" in deletions:
        compare_deletions(deletions["tiered"], deletions["daily"], fraction, 30.0)


if __name__ == "__main__":
    main()
