"""Spiders against a slow store: the writer thread against the old inline path, side by side.

500 spider targets (GitHub repositories, Discord invites, Telegram channels) served by the
simulation (crawler/sim), one real `run_crawl` per path, each in its own process (Scrapy's
reactor does not restart), every store batch slowed by `--write-delay` seconds (a wrapper
around `Store.write`, as a database under load or a 15 s retry backoff would be). For each
path: wall time, store writes, and how many requests reached the simulation while a batch
was being written. On the inline path the reactor waits in the write, so almost none do;
off the reactor the spiders keep fetching, and that number stays above zero.

    .venv/bin/python bench/spiders.py                     # 100 repos, 200 invites, 200 channels
    .venv/bin/python bench/spiders.py --repos 0 --invites 250 --channels 250 --write-delay 0.5
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MODES = ("inline", "thread")
SOURCES = ("github", "discord", "telegram")


def write_config(directory: Path, watchlist: dict[str, Any], mode: str, batch: int, db_url: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "settings.toml").write_text(
        f'[database]\nurl = "{db_url}"\n\n'
        f"[crawler]\nallow_private_hosts = true\nbatch_size = {batch}\nlock_wait_seconds = 5\n\n"
        "[rate_limits]\nmax_retries = 2\nmax_wait_seconds = 30\nbackoff_seconds = 0.2\ntimeout_seconds = 30\n\n"
        # No pacing: the simulation is local, and pacing would hide what the store costs.
        f'[spiders]\ndownload_delay = 0\nautothrottle = false\nconcurrent_per_domain = 8\nwriter = "{mode}"\n'
    )
    (directory / "watchlist.yaml").write_text(yaml.safe_dump(watchlist, sort_keys=False))
    shutil.copy(ROOT / "config" / "tools.yaml", directory / "tools.yaml")


def child(config_dir: str, delay: float, out: str) -> None:
    """One crawl in this process, with every `Store.write` slowed; write spans go to `out`."""
    from crawler.config import load_config
    from crawler.db.store import Store
    from crawler.run import run_crawl

    spans: list[tuple[float, float, int]] = []
    write = Store.write

    def slow_write(self: Store, records: Any, run_id: int | None, **kwargs: Any) -> Any:
        batch = list(records)
        started = time.time()
        time.sleep(delay)
        result = write(self, batch, run_id, **kwargs)
        spans.append((started, time.time(), len(batch)))
        return result

    Store.write = slow_write  # type: ignore[method-assign]
    result = run_crawl(load_config(config_dir), only=list(SOURCES))
    outcome = {
        name: {
            "status": o.status,
            "requests": o.stats.requests,
            "items": o.stats.items,
            "errors": o.stats.errors,
        }
        for name, o in result.sources.items()
    }
    Path(out).write_text(json.dumps({"spans": spans, "sources": outcome, "status": result.status}))


class Arrivals:
    """When each request reached the simulation (time.time(), the child's clock too)."""

    def __init__(self, sim: Any) -> None:
        self.times: list[float] = []
        self._lock = threading.Lock()
        counted = sim.stats.request

        def request(platform: str, endpoint: str) -> None:
            with self._lock:
                self.times.append(time.time())
            counted(platform, endpoint)

        sim.stats.request = request

    def take(self) -> list[float]:
        with self._lock:
            times, self.times = self.times, []
        return times


def run_mode(sim: Any, watchlist: dict[str, Any], mode: str, args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix=f"dfwatch-bench-spiders-{mode}-"))
    db_url = f"sqlite:///{tmp / 'dfwatch.db'}"
    write_config(tmp / "config", watchlist, mode, args.batch, db_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DFWATCH_")}
    env.update(sim.endpoint_env())
    env.update(
        DFWATCH_PSEUDONYM_KEY="bench-key-not-a-secret",
        GITHUB_TOKEN="bench-token",  # noqa: S106 - the simulation accepts any token
        PYTHONPATH=str(ROOT),
    )
    out = tmp / "spans.json"
    sim.arrivals.take()
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, __file__, "--child", str(tmp / "config"), str(args.write_delay), str(out)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=3600,
    )
    wall = time.monotonic() - started
    if proc.returncode != 0 or not out.exists():
        sys.stderr.write(proc.stderr[-3000:])
        raise SystemExit(f"the {mode} crawl failed (exit {proc.returncode})")
    data = json.loads(out.read_text())
    arrivals = sim.arrivals.take()
    shutil.rmtree(tmp, ignore_errors=True)
    spans = [(float(a), float(b)) for a, b, _n in data["spans"]]
    last = max(arrivals) if arrivals else 0.0
    fetching = [(a, b) for a, b in spans if a < last]  # writes that began while requests were still going
    during = [sum(1 for t in arrivals if a <= t <= b) for a, b in fetching]
    ends = [b for _a, b in spans] + arrivals
    return {
        "wall": wall,
        "crawl": (max(ends) - min(arrivals)) if arrivals else 0.0,
        "writes": len(spans),
        "records": sum(n for _a, _b, n in data["spans"]),
        "write_seconds": sum(b - a for a, b in spans),
        "requests": len(arrivals),
        "fetching_writes": len(fetching),
        "during": during,
        "sources": data["sources"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repos", type=int, default=100, help="GitHub repositories (2 requests, 2 ETags each)")
    ap.add_argument("--invites", type=int, default=200, help="Discord invites (1 request each)")
    ap.add_argument("--channels", type=int, default=200, help="Telegram channels (1 page each, with posts)")
    ap.add_argument("--batch", type=int, default=100, help="store batch size (records per write)")
    ap.add_argument("--write-delay", type=float, default=1.0, help="seconds added to every store batch write")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--child", nargs=3, metavar=("CONFIG", "DELAY", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        config_dir, delay, out = args.child
        child(config_dir, float(delay), out)
        return

    from crawler.sim import Simulation, World

    world = World(
        seed=args.seed,
        n_subreddits=0,
        n_accounts=0,
        n_queries=0,
        n_repos=args.repos,
        n_invites=args.invites,
        n_channels=args.channels,
        n_hashtags=0,
        preset=None,
    )
    watchlist = {
        "github": {"repos": world.names("github", "repo")},
        "discord": {"invites": world.names("discord", "server")},
        "telegram": {"channels": world.names("telegram", "channel")},
    }
    watchlist = {k: v for k, v in watchlist.items() if next(iter(v.values()))}
    targets = sum(len(next(iter(v.values()))) for v in watchlist.values())
    results: dict[str, dict[str, Any]] = {}
    with Simulation(world) as sim:
        # The bench measures the store, not the platforms' limits: lift them.
        sim.platforms["discord"].set_limit("global", 1_000_000)
        sim.platforms["github"].set_limit("token", 1_000_000)
        sim.arrivals = Arrivals(sim)  # type: ignore[attr-defined]
        for mode in MODES:
            results[mode] = run_mode(sim, watchlist, mode, args)

    print(
        f"{targets} spider targets ({args.repos} repos, {args.invites} invites, {args.channels} channels) "
        f"against the simulation; store batches of {args.batch} records, every write slowed by "
        f"{args.write_delay:g} s"
    )
    inline, thread = results["inline"], results["thread"]
    print(f"{'':<38}{'inline':>10}{'thread':>10}{'inline/thread':>15}")

    def row(label: str, a: float, b: float, fmt: str = "{:.1f}") -> None:
        ratio = f"{a / b:.2f}x" if b else "-"
        print(f"{label:<38}{fmt.format(a):>10}{fmt.format(b):>10}{ratio:>15}")

    row("wall time, whole process (s)", inline["wall"], thread["wall"])
    row("first request to last write (s)", inline["crawl"], thread["crawl"])
    row("store writes (batches)", inline["writes"], thread["writes"], "{:.0f}")
    row("records stored", inline["records"], thread["records"], "{:.0f}")
    row("seconds inside store writes", inline["write_seconds"], thread["write_seconds"])
    row("requests to the simulation", inline["requests"], thread["requests"], "{:.0f}")
    for mode in MODES:
        r = results[mode]
        during = r["during"]
        if during:
            print(
                f"{mode}: {r['fetching_writes']} writes began while the spiders were fetching; requests "
                f"arriving during each: min {min(during)}, mean {sum(during) / len(during):.1f}, "
                f"max {max(during)}; writes with none: {sum(1 for d in during if d == 0)}"
            )
        else:
            print(f"{mode}: no write began while the spiders were fetching")
        print(f"  {mode} sources: {json.dumps(r['sources'])}")


if __name__ == "__main__":
    main()
