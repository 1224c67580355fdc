"""The crawl layer of bench/cluster.py: a real distributed crawl on 1, 2 and 4 `dfwatch worker`s.

See bench/cluster.py's docstring for what is measured and how the bound is computed. This
module builds the simulated world and its watchlist, starts the simulation (127.0.0.1 only,
every answer slowed by `--latency` seconds: the `slow` fault on every platform), and for each
worker count runs, on a PostgreSQL database of its own (created and dropped here) and a Dramatiq
queue of its own on Redis:

* N worker processes, each `dfwatch worker --threads M` (the real CLI, as tests/test_cluster.py
  starts them), waited for until their heartbeats are in the broker;
* one `dfwatch crawl --distributed` (the real coordinator), timed from its start to its exit;
* then the workers are stopped with SIGTERM, their peak RSS read from /proc (VmHWM) just
  before, and the largest spider child's from wait4's rusage.

The single-machine plan is one `dfwatch crawl` without a broker on the same world and day, on
an empty database of its own, with the latency fault and the spiders' pace lifted (it sends the
same requests; with them, one process at one site's pace would take hours at this scale): its
requests are what a single-machine crawl sends, counted by the same simulation.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import redis
import yaml
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.sim.server import Simulation  # noqa: E402
from crawler.sim.world import Entity, Growth, World  # noqa: E402

CLI = [sys.executable, "-c", "from crawler.cli import main; main()"]
PG_ADMIN = os.environ.get("DFWATCH_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SPIDERS = ("telegram", "forums", "forgejo", "github")
API = ("reddit", "huggingface", "civitai")
# The budgets the crawler keeps per credential ([<source>] budget_* defaults, docs/operations.md):
# (limit, window seconds); the platform's own limit in the simulation may be stricter (the ledger).
BUDGETS = {"reddit": (990, 600), "github": (830, 600), "huggingface": (990, 300), "civitai": (100, 60)}
ISSUE_COMMUNITIES = 100_000  # issue 15's daily crawl
CREDENTIAL_PREFIXES = ("DFWATCH_", "REDDIT_", "GITHUB_", "X_", "HF_", "CIVITAI_", "FORGEJO_", "BLUESKY_")


# --------------------------------------------------------------------------- the world


@dataclass
class Mix:
    """How `communities` split over the sources (see `mix`)."""

    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def line(self) -> str:
        return ", ".join(f"{n:,} {k}" for k, n in self.counts.items() if n)


def mix(n: int) -> Mix:
    """10% subreddits; GitHub and Forgejo repositories, capped so one token's (one IP's)
    budget covers them in one window; 25% model pages; the rest forums and Telegram."""
    subreddits = n // 10
    github = min(400, n // 100)  # 2 requests a repo; 830 per 10 minutes per token
    forgejo = min(1000, n // 100)  # ~2 requests a repo; the simulated Codeberg allows 4,000 per 30 min per IP
    hf = n * 15 // 100
    civitai = n * 10 // 100
    forums = n * 15 // 100
    rest = n - subreddits - github - forgejo - hf - civitai - forums
    groups = rest // 5
    bots = rest // 10
    channels = rest - groups - bots
    return Mix(
        {
            "subreddits": subreddits,
            "telegram channels": channels,
            "telegram groups": groups,
            "telegram bots": bots,
            "forums": forums,
            "forgejo repos": forgejo,
            "github repos": github,
            "huggingface models": hf,
            "civitai models": civitai,
        }
    )


def build_world(m: Mix, seed: int) -> World:
    c = m.counts
    world = World(
        seed=seed,
        n_subreddits=c["subreddits"],
        n_accounts=0,
        n_queries=0,
        n_repos=c["github repos"],
        n_invites=0,
        n_channels=c["telegram channels"],
        n_hashtags=0,
        n_groups=c["telegram groups"],
        n_bots=c["telegram bots"],
        n_forgejo_repos=c["forgejo repos"],
        n_hf_models=c["huggingface models"],
        n_civitai_models=c["civitai models"],
        start_date="2026-01-10",
        preset=None,
    )
    for i in range(c["forums"]):
        r = world.rng("bench-forum", i)
        world.add(
            Entity(
                "forums",
                "forum",
                f"simforum{i}",
                world.start - timedelta(days=r.uniform(30, 2000)),
                Growth(r.uniform(10, 100), r.lognormvariate(7.0, 1.2), rate=r.uniform(0.01, 0.1)),
                extra={"engine": "phpbb" if i % 2 else "discourse"},
            )
        )
    world.clock.advance(days=1)
    return world


def watchlist(world: World, sim_url: str) -> dict[str, Any]:
    forums = [
        {"url": f"{sim_url}/forums/{e.name}", "engine": e.extra["engine"]}
        for e in world.of_kind("forums", "forum")
    ]
    doc: dict[str, Any] = {
        "reddit": {"subreddits": world.names("reddit", "subreddit")},
        "telegram": {
            "channels": world.names("telegram", "channel"),
            "groups": world.names("telegram", "group"),
            "bots": world.names("telegram", "bot"),
        },
        "forums": forums,
        "forgejo": {"repos": world.names("forgejo", "repo")},
        "github": {"repos": world.names("github", "repo")},
        "huggingface": {"models": world.names("huggingface", "model")},
        "civitai": {"models": world.names("civitai", "model")},
    }
    return doc


def write_config(
    directory: Path, world: World, sim_url: str, args: argparse.Namespace, queue: str, pace: float
) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "settings.toml").write_text(
        "[crawler]\nallow_private_hosts = true\nlock_wait_seconds = 5\n\n"
        "[rate_limits]\nmax_retries = 2\nmax_wait_seconds = 900\nbackoff_seconds = 0.5\ntimeout_seconds = 60\n\n"
        f"[spiders]\ndownload_delay = {pace}\nautothrottle = false\n"
        f"concurrent_per_domain = {args.per_domain}\n\n"
        f"[schedule]\ntimeout_minutes = {args.timeout_minutes}\n\n"
        f'[cluster]\nqueue = "{queue}"\nspider_group = {args.spider_group}\n'
    )
    (directory / "watchlist.yaml").write_text(yaml.safe_dump(watchlist(world, sim_url), sort_keys=False))
    shutil.copy(ROOT / "config" / "tools.yaml", directory / "tools.yaml")


# --------------------------------------------------------------------------- one run


@dataclass
class Run:
    label: str
    workers: int
    wall: float
    code: int
    status: str
    requests: dict[str, int]  # per platform, the simulation's count
    statuses_429: int
    ledger: dict[
        str, tuple[int, int, int, int]
    ]  # platform:limiter -> (limit, window, max in a window, exceeded)
    shards: list[tuple[str, str, str, int, str | None]] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)  # per worker, VmHWM
    child_rss_mb: float = 0.0  # the largest process a worker waited for (its spider children)
    cpu_s: float = 0.0  # user + system seconds of every process of the run (and the simulation)
    counted: int = 0  # requests the crawler's own run log counted (run_sources)
    peak_per_second: dict[str, int] = field(default_factory=dict)  # per platform, all workers together

    @property
    def total(self) -> int:
        return sum(self.requests.values())


def _env(sim: Simulation, config_dir: Path, db_url: str, broker: str | None, tag: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(CREDENTIAL_PREFIXES)}
    env.update(sim.endpoint_env())
    # Credentials of this run's own: the shared budgets in Redis (keyed by their fingerprints)
    # start empty, and no key outside this bench's is touched. The simulation accepts any.
    env.update(
        REDDIT_CLIENT_ID=f"bench-{tag}",
        REDDIT_CLIENT_SECRET=f"bench-secret-{tag}",
        GITHUB_TOKEN=f"ghp_bench{tag}",
        HF_TOKEN=f"hf_bench{tag}",
        CIVITAI_API_KEY=f"civitai-bench-{tag}",
        DFWATCH_CONFIG=str(config_dir),
        DFWATCH_DATABASE_URL=db_url,
        DFWATCH_NOW=sim.clock.iso(),
        DFWATCH_PSEUDONYM_KEY="bench-pseudonym-key-not-a-secret",
        PYTHONPATH=str(ROOT),
    )
    if broker:
        env["DFWATCH_BROKER_URL"] = broker
    return env


class Database:
    """A PostgreSQL database of the bench's own, dropped on exit."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        base = PG_ADMIN.rsplit("/", 1)[0]
        self.url = f"{base}/{name}"

    def __enter__(self) -> Database:
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        return self

    def __exit__(self, *exc: object) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        eng = create_engine(self.url)
        try:
            with eng.connect() as conn:
                return [tuple(r) for r in conn.execute(text(sql))]
        finally:
            eng.dispose()


class Arrivals:
    """When each platform's requests reached the simulation (whole seconds), to hold the spiders'
    pace against what one site received from all workers together."""

    def __init__(self, sim: Simulation) -> None:
        self.per_second: dict[str, Counter[int]] = {}
        self._lock = threading.Lock()
        counted = sim.stats.request

        def request(platform: str, endpoint: str) -> None:
            second = int(time.time())
            with self._lock:
                self.per_second.setdefault(platform, Counter())[second] += 1
            counted(platform, endpoint)

        sim.stats.request = request  # type: ignore[method-assign]

    def take(self) -> dict[str, int]:
        """The most requests each platform received in one second, since the last take."""
        with self._lock:
            peaks = {p: max(c.values(), default=0) for p, c in self.per_second.items()}
            self.per_second = {}
        return peaks


def _reset(sim: Simulation) -> None:
    """Counters and rate-limit windows back to zero between runs (each run is the same day)."""
    sim.stats.reset()
    for platform in sim.platforms.values():
        for limiter in platform.limiters.values():
            limiter.reset()
            limiter.forget()


def _collect(sim: Simulation) -> tuple[dict[str, int], int, dict[str, tuple[int, int, int, int]]]:
    snap = sim.stats.snapshot()["platforms"]
    requests = {p: int(d["total"]) for p, d in snap.items()}
    too_many = sum(int(d["statuses"].get("429", 0)) for d in snap.values())
    ledger = {}
    for name, platform in sim.platforms.items():
        for lname, limiter in platform.limiters.items():
            if limiter.requests():
                ledger[f"{name}:{lname}"] = (
                    limiter.limit,
                    int(limiter.window),
                    limiter.max_in_window(),
                    limiter.exceeded(),
                )
    return requests, too_many, ledger


def _hwm_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _wait_ready(client: redis.Redis, queue: str, n: int, procs: list[subprocess.Popen[bytes]]) -> None:
    """Until every worker's heartbeat is in the broker (Dramatiq writes it as it first asks)."""
    from crawler.cluster.broker import namespace_of

    key = f"{namespace_of(queue)}:__heartbeats__"
    for _ in range(1200):
        if client.zcard(key) >= n:
            return
        if any(p.poll() is not None for p in procs):
            raise SystemExit("a worker exited before it took a shard (see its log)")
        time.sleep(0.1)
    raise SystemExit(f"the {n} workers did not reach the broker within 120 s")


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run_plan(sim: Simulation, config_dir: Path, tag: str, log_dir: Path) -> Run:
    """The single-machine crawl: `dfwatch crawl`, no broker, the latency lifted."""
    with Database(f"dfwatch_bench_{tag}_plan") as db:
        _reset(sim)
        env = _env(sim, config_dir, db.url, None, f"{tag}-plan")
        cpu0, started = _cpu(), time.monotonic()
        with (log_dir / "plan.log").open("wb") as out:
            code = subprocess.run([*CLI, "crawl"], env=env, stdout=out, stderr=out, check=False).returncode
        wall = time.monotonic() - started
        requests, too_many, ledger = _collect(sim)
        ((status,),) = db.rows("select status from crawl_runs order by id desc limit 1") or [("none",)]
        counted = sum(int(r[0] or 0) for r in db.rows("select requests from run_sources"))
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return Run(
        "plan", 0, wall, code, status, requests, too_many, ledger, rss_mb=[peak], cpu_s=_cpu() - cpu0,
        counted=counted,
    )  # fmt: skip


def run_distributed(
    sim: Simulation, config_dir: Path, n: int, args: argparse.Namespace, tag: str, queue: str, log_dir: Path
) -> Run:
    client = redis.Redis.from_url(args.redis)
    with Database(f"dfwatch_bench_{tag}_w{n}") as db:
        _reset(sim)
        env = _env(sim, config_dir, db.url, args.redis, f"{tag}-w{n}")
        cpu0 = _cpu()
        procs: list[subprocess.Popen[bytes]] = []
        logs = []
        try:
            for i in range(n):
                out = (log_dir / f"w{n}-worker{i}.log").open("wb")
                logs.append(out)
                procs.append(
                    subprocess.Popen(
                        [*CLI, "worker", "--threads", str(args.threads)],
                        env=env,
                        cwd=ROOT,
                        stdout=out,
                        stderr=out,
                    )
                )
            _wait_ready(client, queue, n, procs)
            started = time.monotonic()
            with (log_dir / f"w{n}-crawl.log").open("wb") as out:
                code = subprocess.run(
                    [*CLI, "crawl", "--distributed"], env=env, cwd=ROOT, stdout=out, stderr=out, check=False
                ).returncode
            wall = time.monotonic() - started
            rss = [_hwm_mb(p.pid) for p in procs]
        finally:
            child_peak = 0.0
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in procs:
                deadline = time.monotonic() + 120
                while True:
                    pid, _status, usage = os.wait4(p.pid, os.WNOHANG)
                    if pid:
                        p.returncode = 0
                        child_peak = max(child_peak, usage.ru_maxrss / 1024)
                        break
                    if time.monotonic() > deadline:
                        p.kill()
                    time.sleep(0.1)
            for out in logs:
                out.close()
            from crawler.cluster.broker import namespace_of

            keys = list(client.scan_iter(match=namespace_of(queue) + "*"))
            if keys:
                client.delete(*keys)
        requests, too_many, ledger = _collect(sim)
        ((status,),) = db.rows("select status from crawl_runs order by id desc limit 1") or [("none",)]
        shards = [
            (str(s), str(st), str(status_), int(r or 0), w)
            for s, st, status_, r, w in db.rows(
                "select source, steps, status, requests, worker from run_shards order by source, shard"
            )
        ]
        counted = sum(int(r[0] or 0) for r in db.rows("select requests from run_sources"))
    return Run(
        f"{n} worker{'s' if n > 1 else ''}", n, wall, code, status, requests, too_many, ledger, shards, rss,
        child_peak, _cpu() - cpu0, counted,
    )  # fmt: skip


# --------------------------------------------------------------------------- the bound


def bound(run: Run, args: argparse.Namespace) -> tuple[float, str]:
    """The least wall time the rate limits, the pace and the latency allow N workers of M threads.

    * rate limits: R requests on one credential under a budget of `limit` per `window` need
      (ceil(R / limit) - 1) whole windows, whatever the workers (R: what the run sent);
    * pace and latency: a spider shard of r requests takes at least r * max(download_delay,
      latency / concurrent_per_domain) (one site per shard, Scrapy's slot), an API shard r * latency
      (its client sends one request at a time); N * M shards run at once, so all of them need
      at least their sum / (N * M), and never less than the longest one.
    """
    rate = 0.0
    why = "pace/latency"
    for platform, (limit, window) in BUDGETS.items():
        r = run.requests.get(platform, 0)  # what this run sent on the credential (may exceed the plan)
        t = max(0, math.ceil(r / limit) - 1) * window
        if t > rate:
            rate, why = t, f"{platform} budget"
    per = max(args.pace, args.latency / args.per_domain)
    times = [r * (per if source in SPIDERS else args.latency) for source, _st, _s, r, _w in run.shards]
    slots = run.workers * args.threads
    work = sum(times) / slots if times else 0.0
    longest = max(times, default=0.0)
    best = max(rate, work, longest)
    if best == longest and longest > work and longest > rate:
        why = "longest shard"
    elif best == work and work >= rate:
        why = "pace/latency"
    return best, why


# --------------------------------------------------------------------------- main


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(prog="bench/cluster.py --layer crawl", description=__doc__)
    ap.add_argument(
        "--communities",
        type=int,
        default=10_000,
        help="the issue's 100,000 do not finish here (see the docstring)",
    )
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--threads", type=int, default=4, help="threads per worker (dfwatch worker --threads)")
    ap.add_argument("--latency", type=float, default=0.2, help="seconds before every simulated answer")
    ap.add_argument("--pace", type=float, default=0.05, help="[spiders] download_delay (s)")
    ap.add_argument("--per-domain", type=int, default=4, help="[spiders] concurrent_per_domain")
    ap.add_argument("--spider-group", type=int, default=500, help="[cluster] spider_group")
    ap.add_argument("--timeout-minutes", type=float, default=120, help="[schedule] timeout_minutes")
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--keep-logs", action="store_true", help="keep the workers' and crawls' logs")
    ap.add_argument("--no-plan", action="store_true", help="skip the single-machine crawl (requests vs plan)")
    ap.add_argument("--redis", default=os.environ.get("DFWATCH_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
    args = ap.parse_args(argv)
    try:
        redis.Redis.from_url(args.redis, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        sys.exit(f"Redis not reachable at {args.redis}: {type(exc).__name__}")
    counts = [int(w) for w in args.workers.split(",")]
    m = mix(args.communities)
    tag = uuid.uuid4().hex[:8]
    queue = f"bench-{tag}"
    t0 = time.monotonic()
    world = build_world(m, args.seed)
    built = time.monotonic() - t0
    tmp = Path(tempfile.mkdtemp(prefix="dfwatch-bench-cluster-"))
    log_dir = tmp / "logs"
    log_dir.mkdir()
    print(
        f"a simulated daily crawl of {m.total:,} communities ({m.line()}); world built in {built:.0f} s",
        flush=True,
    )
    print(
        f"I/O-bound by simulation: every answer of every platform waits {args.latency:g} s (the simulation's "
        f"`slow` fault), since this machine has {os.cpu_count()} cores; spiders paced at download_delay "
        f"{args.pace:g} s, {args.per_domain} per site; workers of {args.threads} threads; spider_group "
        f"{args.spider_group}; every run on an empty PostgreSQL database of its own, the same simulated day",
        flush=True,
    )
    runs: list[Run] = []
    plan: Run | None = None
    try:
        with Simulation(world) as sim:
            config_dir = tmp / "config"
            write_config(config_dir, world, sim.url, args, queue, args.pace)
            arrivals = Arrivals(sim)
            if not args.no_plan:
                # The same crawl, sooner: no latency, no pace (the requests do not depend on them).
                plan_dir = tmp / "config-plan"
                write_config(plan_dir, world, sim.url, args, queue, 0.0)
                arrivals.take()
                plan = run_plan(sim, plan_dir, tag, log_dir)
                plan.peak_per_second = arrivals.take()
                print(
                    f"single-machine plan (dfwatch crawl, no broker; latency and pace lifted): {plan.total:,} requests, "
                    f"{plan.wall:.0f} s, exit {plan.code} ({plan.status})",
                    flush=True,
                )
            sim.add_fault(platform="*", kind="slow", delay=args.latency, times=None)
            for n in counts:
                arrivals.take()
                r = run_distributed(sim, config_dir, n, args, tag, queue, log_dir)
                r.peak_per_second = arrivals.take()
                runs.append(r)
                print(
                    f"  {r.label}: {r.wall:.0f} s, exit {r.code} ({r.status}), {r.total:,} requests, "
                    f"{len(r.shards)} shards",
                    flush=True,
                )
    finally:
        client = redis.Redis.from_url(args.redis)
        _cleanup_budgets(client, tag, counts)
        keep = args.keep_logs or any(r.code != 0 for r in runs) or (plan is not None and plan.code != 0)
        if keep:
            print(f"logs kept in {log_dir}", flush=True)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    report(runs, plan, args, time.monotonic() - t0)


def _cleanup_budgets(client: redis.Redis, tag: str, counts: list[int]) -> None:
    """Delete the shared budgets of this bench's own credentials (keyed by their fingerprints)."""
    from crawler.cluster.budget import DEFAULT_PREFIX
    from crawler.sources.budget import fingerprint

    creds = []
    for n in counts:
        t = f"{tag}-w{n}"
        creds += [
            ("reddit", f"bench-{t}"),
            ("github", f"ghp_bench{t}"),
            ("huggingface", f"hf_bench{t}"),
            ("civitai", f"civitai-bench-{t}"),
        ]
    for platform, cred in creds:
        keys = list(client.scan_iter(match=f"{DEFAULT_PREFIX}{platform}:{fingerprint(platform, cred)}*"))
        if keys:
            client.delete(*keys)


def report(runs: list[Run], plan: Run | None, args: argparse.Namespace, seconds: float) -> None:
    if not runs:
        return
    print()
    base = runs[0].wall
    bounds = [bound(r, args) for r in runs]
    b1 = bounds[0][0]
    width = max(20, *(len("/".join(f"{x:.0f}" for x in r.rss_mb)) + 2 for r in runs))
    print(f"{'':<46}" + "".join(f"{r.label:>{width}}" for r in runs))

    def row(label: str, cells: list[str]) -> None:
        print(f"{label:<46}" + "".join(f"{c:>{width}}" for c in cells))

    row("wall time (s)", [f"{r.wall:.1f}" for r in runs])
    row("bound (s)", [f"{b:.1f}" for b, _ in bounds])
    row("  bound set by", [why for _, why in bounds])
    row("wall / bound", [f"{r.wall / b:.2f}" if b else "-" for r, (b, _) in zip(runs, bounds, strict=True)])
    row("speedup over 1 worker", [f"{base / r.wall:.2f}" for r in runs])
    row("speedup the bound allows", [f"{b1 / b:.2f}" if b else "-" for b, _ in bounds])
    row("run status (exit)", [f"{r.status} ({r.code})" for r in runs])
    row(
        "shards (failed)", [f"{len(r.shards)} ({sum(1 for s in r.shards if s[2] == 'failed')})" for r in runs]
    )
    row(
        "workers that ran shards",
        [str(len({s[4] for s in r.shards if s[4]})) for r in runs],
    )
    row("requests the simulation received", [f"{r.total:,}" for r in runs])
    if plan is not None:
        row("  single-machine plan", [f"{plan.total:,}" for _ in runs])
        row("  difference", [f"{r.total - plan.total:+,}" for r in runs])
        platforms = sorted({p for r in [*runs, plan] for p in r.requests})
        for p in platforms:
            row(
                f"    {p} (plan {plan.requests.get(p, 0):,})",
                [f"{r.requests.get(p, 0) - plan.requests.get(p, 0):+,}" for r in runs],
            )
    row("requests the run log counted", [f"{r.counted:,}" for r in runs])
    row("peak RSS per worker (MB)", ["/".join(f"{x:.0f}" for x in r.rss_mb) for r in runs])
    row("largest spider child RSS (MB)", [f"{r.child_rss_mb:.0f}" for r in runs])
    row("CPU seconds (all processes)", [f"{r.cpu_s:.0f}" for r in runs])
    row("CPU busy (of 2 cores)", [f"{r.cpu_s / r.wall / (os.cpu_count() or 1):.0%}" for r in runs])
    pace = min(1 / args.pace if args.pace else math.inf, args.per_domain / args.latency)
    for p in SPIDERS:
        row(
            f"{p}: most requests in 1 s (pace {pace:.0f}/s)",
            [str(r.peak_per_second.get(p, 0)) for r in runs],
        )
    row("429 answers", [str(r.statuses_429) for r in runs])
    limiters = sorted({k for r in runs for k in r.ledger})
    for k in limiters:
        lim = next(r.ledger[k] for r in runs if k in r.ledger)
        row(
            f"{k} max/window (limit {lim[0]}/{lim[1]}s)",
            [str(r.ledger[k][2]) if k in r.ledger else "-" for r in runs],
        )
    row("windows exceeded (must be 0)", [str(sum(v[3] for v in r.ledger.values())) for r in runs])
    if plan is not None:
        print(
            f"plan: {plan.total:,} requests in {plan.wall:.0f} s (no latency, no pace), run log {plan.counted:,}, "
            f"{plan.status}, peak RSS {plan.rss_mb[0]:.0f} MB, 429s {plan.statuses_429}, windows exceeded "
            f"{sum(v[3] for v in plan.ledger.values())}"
        )
    print(f"bench took {seconds / 60:.1f} min")
    if args.communities < ISSUE_COMMUNITIES:
        print(
            f"measured at {args.communities:,} communities, not the issue's {ISSUE_COMMUNITIES:,}: on this "
            f"{os.cpu_count()}-core machine the full crawl does not finish in reasonable time (bench/cluster.py)"
        )
