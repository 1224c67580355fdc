"""Benchmark: the full JSON report through dfwatch (SQL) against pandas on whole tables.

    .venv/bin/python bench/report.py                    # 5,000 communities × 365 days, 1,000,000 posts
    .venv/bin/python bench/report.py --scale 0.05       # a quick run at 5 % of that

It builds a SQLite database through the real migration, fills it with executemany, then runs
each side in its own subprocess (so ru_maxrss is that side's own peak):

  dfwatch  build_report(engine, since=30d) + render(json), exactly what `dfwatch report
           --format json` does;
  pandas   SELECT * of communities, metrics, posts, mentions, tools and status_changes
           into DataFrames, then the same figures with groupby/merge (the baseline a
           researcher would write).

Both write their numbers to JSON; the parent checks they agree for a sample of communities
and for every tool and link domain, then prints times, peak memory and the ratios.
Needs pandas (dev extra). Nothing here is imported by dfwatch.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NOW = datetime(2025, 1, 1, tzinfo=UTC)
SINCE = timedelta(days=30)
FMT = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores UTC datetimes in SQLite
TOOLS = [
    "FakeApp",
    "DeepFaceLab",
    "faceswap",
    "DeepFaceLive",
    "Roop",
    "FaceFusion",
    "SimSwap",
    "Deep-Live-Cam",
    "InsightFace",
    "Reface",
    "Avatarify",
    "First Order Motion",
    "Wav2Lip",
    "SadTalker",
    "LivePortrait",
    "GFPGAN",
    "CodeFormer",
    "inswapper",
    "ReActor",
    "FaceDancer",
]
DOMAINS = [
    "imgur.com",
    "gfycat.com",
    "i.redd.it",
    "mega.nz",
    "streamable.com",
    "youtube.com",
    "github.com",
    "catbox.moe",
    "pixeldrain.com",
    "t.me",
]
STATUSES = ["quarantined", "banned", "private", "suspended", "archived", "blocked"]


def ts(dt: datetime) -> str:
    return dt.astimezone(UTC).replace(tzinfo=None).strftime(FMT)


def generate(path: Path, communities: int, days: int, posts: int, seed: int = 7) -> None:
    from crawler.db.engine import make_engine, upgrade

    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    rnd = random.Random(seed)
    con = sqlite3.connect(path)
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA journal_mode=WAL")
    first = NOW - timedelta(days=days)
    platforms = [("reddit", "subreddit"), ("x", "account"), ("discord", "server"), ("telegram", "channel")]
    with con:
        con.executemany(
            "INSERT INTO communities (id, platform, kind, handle, status, first_seen_at) VALUES (?,?,?,?,?,?)",
            [
                (i, *platforms[i % 4], f"community_{i}", "active", ts(first))
                for i in range(1, communities + 1)
            ],
        )
        con.executemany("INSERT INTO tools (id, name) VALUES (?, ?)", list(enumerate(TOOLS, 1)))
    _runs(con, rnd, first, days)
    banned_day: dict[int, int] = {}
    changes = []
    for cid in range(1, communities + 1):
        if rnd.random() < 0.05:
            day = rnd.randrange(days // 2, days)
            banned_day[cid] = day
            changes.append(
                (
                    cid,
                    ts(first + timedelta(days=day, hours=3)),
                    "active",
                    rnd.choice(STATUSES),
                    f"HTTP {rnd.choice([403, 404, 451])}",
                )
            )
    with con:
        con.executemany(
            "INSERT INTO status_changes (community_id, observed_at, old_status, new_status, reason)"
            " VALUES (?,?,?,?,?)",
            changes,
        )
    batch: list[tuple[Any, ...]] = []
    with con:
        for cid in range(1, communities + 1):
            value = rnd.uniform(50, 5000)
            rate = rnd.uniform(-0.002, 0.02)
            hour = rnd.randrange(24)
            for d in range(days):
                value *= math.exp(rate + rnd.gauss(0, 0.01))
                v = 0.0 if cid in banned_day and d >= banned_day[cid] else float(round(value))
                batch.append((cid, "members", v, ts(first + timedelta(days=d, hours=hour)), "reddit_api"))
            if len(batch) >= 200_000:
                con.executemany(
                    "INSERT INTO metrics (community_id, metric, value, observed_at, source)"
                    " VALUES (?,?,?,?,?)",
                    batch,
                )
                batch.clear()
        con.executemany(
            "INSERT INTO metrics (community_id, metric, value, observed_at, source) VALUES (?,?,?,?,?)", batch
        )
    span = days * 86400
    with con:
        for start in range(0, posts, 200_000):
            rows, mentions = [], []
            for pid in range(start + 1, min(posts, start + 200_000) + 1):
                cid = rnd.randrange(1, communities + 1)
                created = ts(first + timedelta(seconds=rnd.randrange(span)))
                domain = rnd.choice(DOMAINS) if rnd.random() < 0.6 else None
                rows.append(
                    (
                        pid,
                        cid,
                        platforms[(cid - 1) % 4][0],
                        f"p{pid}",
                        created,
                        created,
                        created,
                        f"post title {pid}",
                        domain,
                        rnd.randrange(100),
                        "visible",
                    )
                )
                if rnd.random() < 0.3:
                    mentions.append((pid, rnd.randrange(1, len(TOOLS) + 1)))
            con.executemany(
                "INSERT INTO posts (id, community_id, platform, external_id, created_at, first_seen_at,"
                " last_seen_at, title, link_domain, score, state) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                rows,
            )
            con.executemany("INSERT INTO mentions (post_id, tool_id) VALUES (?, ?)", mentions)
    con.execute("ANALYZE")
    con.close()


RUN_SOURCES = ("reddit", "x", "github", "discord", "telegram", "forums", "mastodon", "arctic_shift")


def _runs(con: sqlite3.Connection, rnd: random.Random, first: datetime, days: int) -> None:
    """One scheduled crawl a day, every source in it: mostly ok, some partial, failed or skipped."""
    runs, sources = [], []
    for d in range(days):
        if rnd.random() < 0.03:
            continue  # a day without a crawl (the machine was down)
        run_id = len(runs) + 1
        started = first + timedelta(days=d, hours=2)
        statuses = [rnd.choices(["ok", "partial", "failed"], [90, 7, 3])[0] for _ in RUN_SOURCES]
        if d % 5 == 0:
            statuses[1] = "skipped"  # x without a bearer token on some days
        for source, st in zip(RUN_SOURCES, statuses, strict=True):
            errors = 0 if st in ("ok", "skipped") else rnd.randrange(1, 20)
            sources.append((run_id, source, st, 100, 1000, errors, 0, 0.0))
        run_status = "failed" if "failed" in statuses else "partial" if "partial" in statuses else "ok"
        runs.append(
            (
                run_id,
                ts(started),
                ts(started + timedelta(minutes=40)),
                "schedule",
                run_status,
                0,
                0,
                0,
                "0.1.0",
            )
        )
    with con:
        con.executemany(
            "INSERT INTO crawl_runs (id, started_at, finished_at, trigger, status, requests, items, errors,"
            " version) VALUES (?,?,?,?,?,?,?,?,?)",
            runs,
        )
        con.executemany(
            "INSERT INTO run_sources (run_id, source, status, requests, items, errors, retries,"
            " rate_limited_seconds) VALUES (?,?,?,?,?,?,?,?)",
            sources,
        )


# --- the two sides, each run in its own process ----------------------------------------------


def side_dfwatch(db: Path, out: Path, extras: bool = True) -> None:
    from crawler.db.engine import make_engine
    from crawler.report import build_report, render

    engine = make_engine(f"sqlite:///{db}", read_only=True)
    report = build_report(
        engine, since=SINCE, now=NOW, config_sha256=None, with_provenance=extras, with_coverage=extras
    )
    out.write_text(render(report, "json"))


def side_pandas(db: Path, out: Path) -> None:
    import numpy as np
    import pandas as pd

    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    tables = {
        t: pd.read_sql_query(f"SELECT * FROM {t}", con)
        for t in ("communities", "metrics", "posts", "mentions", "tools", "status_changes")
    }
    con.close()
    now = pd.Timestamp(NOW.replace(tzinfo=None))
    m = tables["metrics"]
    m = m[m.metric == "members"].copy()
    m["t"] = pd.to_datetime(m.observed_at, format="ISO8601")
    m = m[m.t <= now].sort_values(["community_id", "t", "id"])
    m = m.drop_duplicates(["community_id", "t"], keep="last")
    last = m.groupby("community_id").tail(1).set_index("community_id")
    res = pd.DataFrame({"members": last.value, "t_last": last.t})
    mm = m.join(res.t_last, on="community_id")
    for n in (1, 7, 30):
        earlier = mm[mm.t <= mm.t_last - pd.Timedelta(days=n)].groupby("community_id").tail(1)
        res[f"v_{n}"] = earlier.set_index("community_id").value
        res[f"delta_{n}d"] = res.members - res[f"v_{n}"]
    for n in (7, 30):
        res[f"growth_{n}d_pct"] = np.where(
            res[f"v_{n}"] > 0, 100 * res[f"delta_{n}d"] / res[f"v_{n}"], np.nan
        )
    ok = (res.v_30 > 0) & (res.members > res.v_30)
    res["doubling_days"] = np.where(
        ok, 30 * np.log(2) / np.log(res.members.where(ok) / res.v_30.where(ok)), np.nan
    )
    p = tables["posts"]
    p["t"] = pd.to_datetime(p.created_at, format="ISO8601")
    week = p[(p.t > now - pd.Timedelta(days=7)) & (p.t <= now)]
    has_posts = set(p.community_id.unique())
    counts = week.groupby("community_id").size()
    res = res.reindex(tables["communities"].id)
    res["posts_7d"] = [int(counts.get(c, 0)) if c in has_posts else None for c in res.index]
    mp = tables["mentions"].merge(p[["id", "t"]], left_on="post_id", right_on="id")
    mp = mp.merge(tables["tools"].rename(columns={"id": "tid"}), left_on="tool_id", right_on="tid")
    tools = {}
    for name, g in mp.groupby("name"):
        tools[name] = {
            "mentions_7d": int(((g.t > now - pd.Timedelta(days=7)) & (g.t <= now)).sum()),
            "mentions_prev_7d": int(
                ((g.t > now - pd.Timedelta(days=14)) & (g.t <= now - pd.Timedelta(days=7))).sum()
            ),
            "mentions_total": int((g.t <= now).sum()),
        }
    dom = week[week.link_domain.notna()].groupby("link_domain").size()
    sc = tables["status_changes"]
    sc["t"] = pd.to_datetime(sc.observed_at, format="ISO8601")
    n_changes = int(
        (
            (sc.t >= now - pd.Timedelta(SINCE))
            & (sc.t <= now)
            & ~(sc.old_status.isna() & (sc.new_status == "active"))
        ).sum()
    )
    cols = [
        "members",
        "delta_1d",
        "delta_7d",
        "delta_30d",
        "growth_7d_pct",
        "growth_30d_pct",
        "doubling_days",
        "posts_7d",
    ]
    comm = {
        str(cid): {k: (None if pd.isna(r[k]) else float(r[k])) for k in cols}
        for cid, r in res[cols].astype(object).iterrows()
    }
    out.write_text(
        json.dumps(
            {
                "communities": comm,
                "tools": tools,
                "status_changes": n_changes,
                "link_domains": {d: {"posts_7d": int(n), "share": n / dom.sum()} for d, n in dom.items()},
            }
        )
    )


def child(side: str, db: Path, out: Path) -> None:
    # Libraries are imported before the clock starts: the comparison is of the work.
    if side.startswith("dfwatch"):
        import crawler.report  # noqa: F401
    else:
        import pandas  # noqa: F401
    t0 = time.perf_counter()
    if side == "dfwatch-bare":
        side_dfwatch(db, out, extras=False)
    else:
        (side_dfwatch if side == "dfwatch" else side_pandas)(db, out)
    seconds = time.perf_counter() - t0
    maxrss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"seconds": seconds, "maxrss_mb": maxrss_mb}))


def run_side(side: str, db: Path, out: Path) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", side, "--db", str(db), "--out", str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def compare(dfw_path: Path, pd_path: Path, sample: int) -> list[str]:
    """Differences between the two sides' numbers (empty when they agree)."""
    dfw = json.loads(dfw_path.read_text())
    base = json.loads(pd_path.read_text())
    by_handle = {c["handle"]: c for c in dfw["communities"]}
    ids = sorted(base["communities"], key=int)
    rnd = random.Random(1)
    problems = []
    for cid in rnd.sample(ids, min(sample, len(ids))):
        mine, theirs = by_handle[f"community_{cid}"], base["communities"][cid]
        problems += [
            f"community_{cid} {k}: dfwatch {mine[k]} pandas {v}"
            for k, v in theirs.items()
            if not close(mine[k], v)
        ]
    for t in dfw["tools"]:
        want = base["tools"].get(t["name"], {"mentions_7d": 0, "mentions_prev_7d": 0, "mentions_total": 0})
        problems += [f"tool {t['name']} {k}: dfwatch {t[k]} pandas {v}" for k, v in want.items() if t[k] != v]
    for d in dfw["link_domains"]:
        want = base["link_domains"][d["domain"]]
        if d["posts_7d"] != want["posts_7d"] or not close(d["share"], want["share"]):
            problems.append(f"domain {d['domain']}: dfwatch {d} pandas {want}")
    if len(dfw["status_changes"]) != base["status_changes"]:
        problems.append(
            f"status changes: dfwatch {len(dfw['status_changes'])} pandas {base['status_changes']}"
        )
    return problems


def extras_ratio(db: Path, work: Path, repeat: int) -> None:
    """The price of coverage and provenance: the report with them against without, run
    alternately (so both sides see the same machine load), median of `repeat` runs each."""
    times: dict[str, list[float]] = {"dfwatch": [], "dfwatch-bare": []}
    for _ in range(repeat):
        for side in times:
            times[side].append(run_side(side, db, work / f"{side}-x.json")["seconds"])
    on, off = statistics.median(times["dfwatch"]), statistics.median(times["dfwatch-bare"])
    full = json.loads((work / "dfwatch-x.json").read_text())
    print(
        f"coverage+provenance: on {on:.2f} s, off {off:.2f} s (median of {repeat} alternating runs; "
        f"{len(full['coverage'])} sources, {full['provenance']['runs']['count']} runs in the window)"
    )
    print(f"ratio off/on: {off / on:.2f}× (1.0 = free; aim ≥ 0.9×)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--scale", type=float, default=1.0, help="fraction of the full size (communities and posts)"
    )
    ap.add_argument("--communities", type=int, default=5000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--posts", type=int, default=1_000_000)
    ap.add_argument("--sample", type=int, default=200, help="communities whose numbers are compared")
    ap.add_argument("--db", type=Path, help="reuse (or keep) the database at this path")
    ap.add_argument(
        "--repeat", type=int, default=3, help="runs of each dfwatch side for the coverage/provenance ratio"
    )
    ap.add_argument("--child", choices=["dfwatch", "dfwatch-bare", "pandas"], help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.db, args.out)
        return 0
    communities = max(10, int(args.communities * args.scale))
    posts = max(100, int(args.posts * args.scale))
    work = Path(tempfile.mkdtemp(prefix="dfwatch-bench-"))
    db = args.db or work / "bench.db"
    if not db.exists():
        t0 = time.perf_counter()
        generate(db, communities, args.days, posts)
        print(
            f"generated {communities:,} communities × {args.days} days = {communities * args.days:,} "
            f"metric rows, {posts:,} posts in {time.perf_counter() - t0:.1f} s ({db.stat().st_size / 2**20:.0f} MiB)"
        )
    else:
        print(f"reusing {db}")
    results = {side: run_side(side, db, work / f"{side}.json") for side in ("dfwatch", "pandas")}
    problems = compare(work / "dfwatch.json", work / "pandas.json", args.sample)
    d, p = results["dfwatch"], results["pandas"]
    print(f"{'':8} {'time (s)':>10} {'peak RSS (MiB)':>15}")
    print(f"{'dfwatch':8} {d['seconds']:>10.2f} {d['maxrss_mb']:>15.0f}")
    print(f"{'pandas':8} {p['seconds']:>10.2f} {p['maxrss_mb']:>15.0f}")
    print(
        f"ratio pandas/dfwatch: time {p['seconds'] / d['seconds']:.1f}×, "
        f"memory {p['maxrss_mb'] / d['maxrss_mb']:.1f}×"
    )
    extras_ratio(db, work, args.repeat)
    if problems:
        print(f"MISMATCH in {len(problems)} figures:", *problems[:20], sep="\n  ")
        return 1
    print(
        f"numbers agree: {min(args.sample, communities)} sampled communities, every tool, "
        "every link domain, the status-change count"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
