"""Store throughput against plain sqlite3.executemany, side by side in one run.

Writes N posts (each naming one or two tools) and N metric points through `Store.write`
into a fresh SQLite file, then the same rows through `sqlite3.executemany` in a single
transaction into another fresh file with the same schema (the baseline: the fastest a
Python program can put these rows into SQLite). Prints rows/s for both and the ratio, and
the peak RSS sampled as the store goes, to show memory stays flat while rows stream.

    .venv/bin/python bench/store.py                       # 1,000,000 posts + 1,000,000 metrics
    .venv/bin/python bench/store.py --posts 100000 --metrics 100000
"""

from __future__ import annotations

import argparse
import resource
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crawler.config import Tool
from crawler.config.models import CrawlerSettings
from crawler.db.engine import make_engine, upgrade
from crawler.db.store import Store
from crawler.records import CommunityKey, MetricPoint, Post, Record

T0 = datetime(2018, 1, 1, tzinfo=UTC)
TOOLS = ["FakeApp", "DeepFaceLab", "faceswap", "Roop", "FaceFusion"]
COMMUNITIES = [CommunityKey("reddit", "subreddit", f"community{i}") for i in range(50)]
METRIC_NAMES = ["members", "online_members", "posts_per_day"]


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def post_fields(i: int) -> tuple[CommunityKey, str, datetime, str, int, int, tuple[str, ...]]:
    key = COMMUNITIES[i % len(COMMUNITIES)]
    mentions = (TOOLS[i % 5],) if i % 3 else (TOOLS[i % 5], TOOLS[(i + 1) % 5])
    return (
        key,
        f"p{i:09d}",
        T0 + timedelta(seconds=i),
        f"Post {i} about {mentions[0]}",
        i % 500,
        i % 40,
        mentions,
    )


def posts(n: int) -> Iterator[Post]:
    for i in range(n):
        key, ext, created, title, score, comments, mentions = post_fields(i)
        yield Post(
            key,
            ext,
            created_at=created,
            author=f"{i % 9973:064x}",
            title=title,
            url=f"https://reddit.com/r/{key.handle}/comments/{ext}",
            link_domain="github.com",
            score=score,
            num_comments=comments,
            state="visible",
            mentions=mentions,
            enriched=True,
        )


def metric_fields(i: int) -> tuple[CommunityKey, str, float, datetime]:
    return (
        COMMUNITIES[i % len(COMMUNITIES)],
        METRIC_NAMES[(i // len(COMMUNITIES)) % 3],
        float(i),
        T0 + timedelta(minutes=i // (len(COMMUNITIES) * 3)),
    )


def metrics(n: int) -> Iterator[MetricPoint]:
    for i in range(n):
        key, name, value, when = metric_fields(i)
        yield MetricPoint(key, name, value, when, "bench")


def sampled(records: Iterator[Record], every: int, samples: dict[int, float]) -> Iterator[Record]:
    """Pass records through, noting the peak RSS every `every` records."""
    n = 0
    for n, r in enumerate(records, 1):
        if n % every == 0:
            samples[n] = maxrss_mb()
        yield r
    samples[n] = maxrss_mb()


def run_store(path: Path, n_posts: int, n_metrics: int, batch: int) -> tuple[float, float, dict[int, float]]:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    store = Store(engine, batch_size=batch)
    store.sync_tools([Tool(name=t) for t in TOOLS])
    store.ensure_communities(COMMUNITIES, T0)
    samples: dict[int, float] = {}
    now = datetime.now(UTC)
    t = time.perf_counter()
    store.write(sampled(posts(n_posts), 100_000, samples), None, now=now)
    t_posts = time.perf_counter() - t
    t = time.perf_counter()
    store.write(metrics(n_metrics), None, now=now)
    t_metrics = time.perf_counter() - t
    engine.dispose()
    return t_posts, t_metrics, samples


def sqlite_time(dt: datetime) -> str:
    return dt.astimezone(UTC).replace(tzinfo=None).isoformat(" ")


def run_baseline(path: Path, n_posts: int, n_metrics: int) -> tuple[float, float]:
    engine = make_engine(f"sqlite:///{path}")  # the same schema, indexes and pragmas
    upgrade(engine)
    engine.dispose()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO tools (name) VALUES (?)", [(t,) for t in TOOLS])
    now = sqlite_time(datetime.now(UTC))
    conn.executemany(
        "INSERT INTO communities (platform, kind, handle, status, first_seen_at) VALUES (?, ?, ?, 'unknown', ?)",
        [(k.platform, k.kind, k.handle, now) for k in COMMUNITIES],
    )
    cids = {h: i for i, h in conn.execute("SELECT id, handle FROM communities")}
    tids = {n: i for i, n in conn.execute("SELECT id, name FROM tools")}

    def post_rows() -> Iterator[tuple[object, ...]]:
        for i in range(n_posts):
            key, ext, created, title, score, comments, _ = post_fields(i)
            yield (
                cids[key.handle],
                "reddit",
                ext,
                sqlite_time(created),
                now,
                now,
                f"{i % 9973:064x}",
                title,
                f"https://reddit.com/r/{key.handle}/comments/{ext}",
                "github.com",
                score,
                comments,
                "visible",
            )

    def mention_rows() -> Iterator[tuple[object, ...]]:
        for i in range(n_posts):
            _, ext, *_, mentions = post_fields(i)
            for m in mentions:
                yield (tids[m], ext)

    def metric_rows() -> Iterator[tuple[object, ...]]:
        for i in range(n_metrics):
            key, name, value, when = metric_fields(i)
            yield (cids[key.handle], name, value, sqlite_time(when), "bench")

    t = time.perf_counter()
    conn.executemany(
        "INSERT INTO posts (community_id, platform, external_id, created_at, first_seen_at, last_seen_at, author, "
        "title, url, link_domain, score, num_comments, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        post_rows(),
    )
    conn.executemany(
        "INSERT INTO mentions (post_id, tool_id) SELECT id, ? FROM posts WHERE platform = 'reddit' AND external_id = ?",
        mention_rows(),
    )
    t_posts = time.perf_counter() - t
    t = time.perf_counter()
    conn.executemany(
        "INSERT INTO metrics (community_id, metric, value, observed_at, source) VALUES (?, ?, ?, ?, ?)",
        metric_rows(),
    )
    conn.execute("COMMIT")
    t_metrics = time.perf_counter() - t
    conn.close()
    return t_posts, t_metrics


def count(path: Path, table: str) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=1_000_000)
    ap.add_argument("--metrics", type=int, default=1_000_000)
    ap.add_argument(
        "--batch",
        type=int,
        default=CrawlerSettings().batch_size,
        help="Store batch size (records per transaction; default: the crawl's own)",
    )
    ap.add_argument(
        "--dir", type=Path, default=None, help="where the two scratch databases go (default: a temp dir)"
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="dfwatch-bench-", dir=args.dir) as tmp:
        ours, base = Path(tmp) / "store.db", Path(tmp) / "baseline.db"
        rss_start = maxrss_mb()
        s_posts, s_metrics, samples = run_store(ours, args.posts, args.metrics, args.batch)
        b_posts, b_metrics = run_baseline(base, args.posts, args.metrics)
        for table in ("posts", "mentions", "metrics"):
            a, b = count(ours, table), count(base, table)
            assert a == b, f"{table}: store wrote {a} rows, baseline {b}"
        mentions = count(ours, "mentions")
    print(
        f"rows: {args.posts:,} posts (+{mentions:,} mentions), {args.metrics:,} metrics; batch {args.batch}"
    )
    print(f"{'':10} {'Store.write':>14} {'executemany':>14} {'ratio':>7}")
    lines: tuple[tuple[str, int, float, float], ...] = (
        ("posts", args.posts, s_posts, b_posts),
        ("metrics", args.metrics, s_metrics, b_metrics),
        ("total", args.posts + args.metrics, s_posts + s_metrics, b_posts + b_metrics),
    )
    for label, n, ours_s, base_s in lines:
        print(f"{label:10} {n / ours_s:>10,.0f} r/s {n / base_s:>10,.0f} r/s {base_s / ours_s:>6.2f}x")
    marks = ", ".join(f"{k:,}: {v:.0f} MB" for k, v in sorted(samples.items()))
    print(f"peak RSS while streaming posts (start {rss_start:.0f} MB): {marks}")


if __name__ == "__main__":
    main()
