"""Requests a daily Reddit crawl costs: dfwatch's plan against the naive one, side by side.

Against the fake Reddit API (tests/fakes/reddit.py, real praw): 1,000 watched subreddits
with 30 days of history at 50 posts a day, stored by an earlier crawl; then a day passes with
50 new posts and the daily crawl runs. The naive plan asks `/about` and `/new` once per
subreddit: 2,000 requests (and does not re-check stored posts for deletions at all).

    .venv/bin/python bench/reddit_requests.py [--subreddits 1000] [--new-posts 50]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.config import load_config  # noqa: E402
from crawler.run import run_crawl  # noqa: E402
from tests.fakes.reddit import FakeReddit  # noqa: E402

DAY = 86400.0


def write_config(directory: Path, names: list[str], lookback_days: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "settings.toml").write_text(f"[reddit]\nlookback_days = {lookback_days}\n")
    (directory / "watchlist.yaml").write_text(yaml.safe_dump({"reddit": {"subreddits": names}}))
    shutil.copy(ROOT / "config" / "tools.yaml", directory / "tools.yaml")
    return directory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subreddits", type=int, default=1000)
    parser.add_argument("--new-posts", type=int, default=50)
    parser.add_argument("--history-days", type=int, default=30)
    args = parser.parse_args()
    rng = random.Random(2018)  # the same subreddits get the same posts on every run
    names = [f"sub{i:04d}" for i in range(args.subreddits)]
    now = time.time()

    with tempfile.TemporaryDirectory() as tmp, FakeReddit() as fake:
        for i, name in enumerate(names):
            fake.add_subreddit(name, subscribers=100 + i)
        for _ in range(args.new_posts * args.history_days):  # the history an earlier crawl stored
            fake.add_post(rng.choice(names), now - DAY - rng.random() * (args.history_days - 1) * DAY)
        env = {
            "DFWATCH_DATABASE_URL": f"sqlite:///{tmp}/bench.db",
            "DFWATCH_PSEUDONYM_KEY": "bench-key-not-a-secret",
            "DFWATCH_ENDPOINT_REDDIT": fake.url,
            "REDDIT_CLIENT_ID": fake.client_id,
            "REDDIT_CLIENT_SECRET": fake.client_secret,
        }
        waits: list[float] = []
        seed = load_config(write_config(Path(tmp) / "seed", names, args.history_days), env=env)
        run_crawl(seed, only=["reddit"], sleep=waits.append)

        for _ in range(args.new_posts):  # a day later
            fake.add_post(rng.choice(names), now + rng.random() * 3600)
        fake.reset_counts()
        daily = load_config(write_config(Path(tmp) / "daily", names, 7), env=env)
        result = run_crawl(daily, only=["reddit"], sleep=waits.append)

    stats = result.sources["reddit"].stats
    naive = 2 * args.subreddits
    sweep = fake.counts["info_id"]
    print(
        f"daily crawl of {args.subreddits} subreddits with {args.new_posts} new posts "
        f"({args.new_posts * args.history_days} stored posts re-checked for deletions)"
    )
    print(f"  naive plan (one /about and one /new per subreddit): {naive} requests")
    print(
        f"  dfwatch: {stats.requests} requests (server saw {fake.total_requests}): "
        f"token {fake.counts['token']}, /api/info?sr_name {fake.counts['info_sr_name']}, "
        f"/about {fake.counts['about']}, combined /new {fake.counts['listing']}, "
        f"compliance sweep /api/info?id {sweep}"
    )
    print(
        f"  ratio naive / dfwatch: {naive / stats.requests:.1f}x "
        f"({naive / (stats.requests - sweep):.1f}x for the same work, without the sweep)"
    )
    print(f"  run status {result.status}, items {stats.items}, rate-limit waits {sum(waits):.1f}s")


if __name__ == "__main__":
    main()
