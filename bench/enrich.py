"""Enrichment throughput with community-link reading on against off, side by side in one run.

Builds N raw posts shaped like a crawl's (titles naming tools, some bodies, a linked URL on
a quarter of them, a link to a Telegram channel, Discord server or subreddit in one post of
twenty), then enriches each block of posts twice with the same `Enricher` settings: once
with link reading off, once on (the order alternates from block to block, so both see the
same caches and the same machine). Prints posts/s for both and the ratio on/off.

    .venv/bin/python bench/enrich.py                 # 1,000,000 posts
    .venv/bin/python bench/enrich.py --posts 200000
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crawler.config import load_config
from crawler.enrich import Enricher
from crawler.records import CommunityKey, Post

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2018, 1, 1, tzinfo=UTC)
COMMUNITIES = [CommunityKey("reddit", "subreddit", f"community{i}") for i in range(50)]
TITLES = (
    "FakeApp results after three days of training",
    "Trying DeepFaceLab on a GTX 1060",
    "Which GPU for training?",
    "Guide: installing faceswap on Windows",
    "Weekly discussion thread",
)
BODIES = (
    None,
    "Details in the comments. I used the default settings and 2,000 frames of each face, "
    "trained for about 60 hours; the merge step still shows a seam at the chin.",
    "Thoughts?",
)
LINKS = (
    None,
    None,
    None,
    "https://imgur.com/a/abc123",
    "https://www.youtube.com/watch?v=x",
    "https://mega.nz/file/x",
)
MIGRATION = (" — we moved to t.me/new_home", " join https://discord.gg/AbCd12", " new sub: r/DeepFakesSFW")


def block(start: int, n: int) -> list[Post]:
    out = []
    for i in range(start, start + n):
        title = TITLES[i % len(TITLES)] + (MIGRATION[i % 3] if i % 20 == 0 else "")
        out.append(
            Post(
                COMMUNITIES[i % len(COMMUNITIES)],
                f"p{i:09d}",
                created_at=T0 + timedelta(seconds=i),
                author=f"user{i % 9973}",
                title=title,
                body=BODIES[i % len(BODIES)],
                url=f"https://www.reddit.com/r/x/comments/{i:x}/slug/",
                link_url=LINKS[i % len(LINKS)],
                score=i % 500,
                num_comments=i % 40,
                flair="Question" if i % 7 == 0 else None,
            )
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=1_000_000)
    ap.add_argument("--block", type=int, default=50_000)
    args = ap.parse_args()
    config = load_config(ROOT / "config", env={"DFWATCH_PSEUDONYM_KEY": "bench-key-not-secret-0123456789"})
    off, on = Enricher(config, read_links=False), Enricher(config, read_links=True)
    timing = {"off": 0.0, "on": 0.0}
    links = 0
    for b, start in enumerate(range(0, args.posts, args.block)):
        posts = block(start, min(args.block, args.posts - start))
        order = (("off", off), ("on", on)) if b % 2 == 0 else (("on", on), ("off", off))
        for name, enricher in order:
            t = time.perf_counter()
            out = [enricher.enrich_post(p) for p in posts]
            timing[name] += time.perf_counter() - t
            if name == "on":
                links += sum(len(p.links) for p in out)
    n = args.posts
    print(f"posts: {n:,}; community links found with reading on: {links:,}")
    print(f"{'links off':>12} {n / timing['off']:>10,.0f} posts/s")
    print(f"{'links on':>12} {n / timing['on']:>10,.0f} posts/s")
    print(f"{'ratio on/off':>12} {timing['off'] / timing['on']:>10.2f}x")


if __name__ == "__main__":
    main()
