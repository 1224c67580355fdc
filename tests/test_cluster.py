"""The distributed crawl (crawler.cluster): settings, shards, workers on the real Redis and PostgreSQL.

Tests that need Redis (127.0.0.1:6379) or PostgreSQL (127.0.0.1:5432) skip with the reason
where they are absent; each uses a queue and key prefix of its own and a PostgreSQL schema
of its own, dropped afterwards. Counts and orderings, never durations.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from crawler.db.engine import make_engine
from crawler.errors import ConfigError
from tests.conftest import PG_URL, pg_skip_reason, write_config


def test_a_broker_with_sqlite_is_refused_in_one_sentence(make_config: Any) -> None:
    with pytest.raises(ConfigError, match=r"cluster.broker: a broker .* needs a PostgreSQL database"):
        make_config({}, env={"DFWATCH_BROKER_URL": "redis://127.0.0.1:6379/0"})


def test_the_broker_comes_from_the_environment_before_the_settings(make_config: Any) -> None:
    pg = "postgresql+psycopg://u@127.0.0.1:5432/db"
    config = make_config({}, '[cluster]\nbroker = "redis://a:6379/0"\n', db_url=pg)
    assert config.broker_url == "redis://a:6379/0"
    config = make_config(
        {},
        '[cluster]\nbroker = "redis://a:6379/0"\n',
        env={"DFWATCH_BROKER_URL": "redis://b:6379/1"},
        db_url=pg,
    )
    assert config.broker_url == "redis://b:6379/1"
    assert make_config({}).broker_url is None  # the default: every crawl on this machine


def test_a_broker_that_is_no_redis_url_is_refused_without_echoing_it(make_config: Any) -> None:
    with pytest.raises(ConfigError) as info:
        make_config({}, '[cluster]\nbroker = "amqp://user:hunter2@mq/"\n')
    assert "hunter2" not in str(info.value)
    assert "cluster.broker" in str(info.value)


@pytest.mark.filterwarnings("ignore:.*expression-based index")  # SQLite cannot reflect lower(handle) indexes
def test_the_migrations_and_the_models_agree(sqlite_engine: Any) -> None:
    """The whole schema, run_shards included: what the migrations build is what the models say."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from crawler.db.models import Base

    with sqlite_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []


# --------------------------------------------------------------------------- the planner

SECRETS = {
    "REDDIT_CLIENT_ID": "cluster-test-client-id",
    "REDDIT_CLIENT_SECRET": "cluster-test-client-secret-value",
    "X_BEARER_TOKEN": "AAAA-cluster-test-bearer-token-0123456789",
    "GITHUB_TOKEN": "ghp_clustertesttoken0123456789",
    "DFWATCH_PSEUDONYM_KEY": "cluster-test-pseudonym-key",
}


def test_reddit_shards_are_the_batch_unit_and_the_sweep_runs_once(make_config: Any) -> None:
    import json

    from crawler.cluster.shards import plan_shards, shard_targets
    from crawler.run import plan

    names = [f"Sub{i:03d}" for i in range(250)]
    watchlist = {
        "reddit": {"subreddits": names},
        "x": {"accounts": [f"acct{i}" for i in range(150)], "queries": ["deepfake"]},
        "github": {"repos": [f"owner{i}/repo" for i in range(7)]},
        "forums": [
            {"url": "https://forum.one.example", "engine": "phpbb"},
            {"url": "https://forum.two.example", "engine": "phpbb"},
        ],
    }
    pg = "postgresql+psycopg://dbuser:dbpassword@db.example:5432/dfwatch"
    config = make_config(
        watchlist,
        "[cluster]\nspider_group = 5\n",
        env={**SECRETS, "DFWATCH_BROKER_URL": "redis://:brokerpass@redis.example:6379/0"},
        db_url=pg,
    )
    runnable, _skipped = plan(config, ["reddit", "x", "github", "forums"])
    shards = plan_shards(config, 7, runnable)
    reddit = [s for s in shards if s.source == "reddit"]
    assert [(s.steps, len(s.targets)) for s in reddit] == [
        ("targets", 100),
        ("targets", 100),
        ("targets", 50),
        ("finale", 0),
    ]
    assert [h for s in reddit for _p, _k, h in s.targets] == sorted(names, key=str.lower)
    x = [s for s in shards if s.source == "x"]
    assert [len(s.targets) for s in x] == [100, 50, 1]
    github = [s for s in shards if s.source == "github"]
    assert [len(s.targets) for s in github] == [7]  # one site is never split (its pace), past spider_group
    forums = [s for s in shards if s.source == "forums"]  # two small sites, packed into one shard
    assert [[h for _p, _k, h in s.targets] for s in forums] == [
        ["https://forum.one.example", "https://forum.two.example"]
    ]
    assert {s.run_id for s in shards} == {7} and len({s.fingerprint for s in shards}) == 1
    # A worker rebuilds the targets from its own watchlist.
    assert [t.key.handle for t in shard_targets(config, reddit[0])] == [h for _p, _k, h in reddit[0].targets]

    wire = json.dumps([s.message() for s in shards])
    for secret in [*SECRETS.values(), "dbpassword", "brokerpass", pg]:
        assert secret not in wire
    assert set(shards[0].message()) == {"run_id", "source", "shard", "steps", "targets", "fingerprint"}


def test_a_single_reddit_block_is_one_whole_shard(make_config: Any) -> None:
    from crawler.cluster.shards import plan_shards
    from crawler.run import plan

    config = make_config({"reddit": {"subreddits": ["aa", "bb"]}}, env=SECRETS)
    runnable, _ = plan(config, ["reddit"])
    assert [(s.steps, len(s.targets)) for s in plan_shards(config, 1, runnable)] == [("all", 2)]


def test_the_fingerprint_follows_the_watchlist_not_the_machine(make_config: Any) -> None:
    from crawler.cluster.shards import config_fingerprint

    a = make_config({"reddit": {"subreddits": ["aa"]}}, env=SECRETS)
    b = make_config({"reddit": {"subreddits": ["aa"]}}, "[database]\nurl = 'sqlite:///elsewhere.db'\n")
    c = make_config({"reddit": {"subreddits": ["aa", "bb"]}}, env=SECRETS)
    assert config_fingerprint(a) == config_fingerprint(b) != config_fingerprint(c)


# --------------------------------------------------------------------------- on Redis and PostgreSQL

REDIS_URL = os.environ.get("DFWATCH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-c", "from crawler.cli import main; main()"]
# Credentials of this test run's own, so the shared budgets in Redis (keyed by their
# fingerprints) start empty; with a token the GitHub budget is the token's, not the IP's 10.
_RUN = uuid.uuid4().hex[:8]
CREDS = {
    "REDDIT_CLIENT_ID": f"cluster-test-client-{_RUN}",
    "REDDIT_CLIENT_SECRET": "cluster-test-secret-value",
    "GITHUB_TOKEN": f"ghp_clustertest{_RUN}",
}


def _redis_reason() -> str | None:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        return f"Redis not reachable at {REDIS_URL}: {type(exc).__name__}"
    return None


def _cluster_reason() -> str | None:
    return _redis_reason() or pg_skip_reason()


needs_cluster = pytest.mark.skipif(_cluster_reason() is not None, reason=_cluster_reason() or "")


@contextmanager
def _pg_schema() -> Iterator[str]:
    """A database URL whose every connection lives in a new PostgreSQL schema, dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def queue() -> Iterator[str]:
    """A queue of this test's own; its Redis keys (the broker's namespace) are deleted afterwards."""
    import redis

    from crawler.cluster.broker import namespace_of

    name = f"test-{uuid.uuid4().hex[:8]}"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=namespace_of(name) + "*"))
    if keys:
        client.delete(*keys)


def _rows(url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    eng = make_engine(url)
    try:
        with eng.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]
    finally:
        eng.dispose()


def _world_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """What a crawl stored, without surrogate ids, run ids and the crawl's own clock."""
    queries = {
        "communities": "select platform, kind, lower(handle), external_id, title, url, nsfw, created_at, "
        "status, status_reason from communities c",
        "metrics": "select c.platform, c.kind, lower(c.handle), m.metric, m.value, m.source from metrics m "
        "join communities c on c.id = m.community_id",
        "posts": "select c.platform, c.kind, lower(c.handle), p.external_id, p.created_at, p.author, p.title, "
        "p.body, p.url, p.link_domain, p.score, p.num_comments, p.nsfw, p.flair, p.state from posts p "
        "join communities c on c.id = p.community_id",
        "status_changes": "select c.platform, c.kind, lower(c.handle), s.old_status, s.new_status, s.reason "
        "from status_changes s join communities c on c.id = s.community_id",
        "mentions": "select p.external_id, t.name from mentions m join posts p on p.id = m.post_id "
        "join tools t on t.id = m.tool_id",
    }
    return {name: sorted(_rows(url, sql), key=repr) for name, sql in queries.items()}


def _cluster_config(tmp_path: Path, sim: Any, queue: str, settings: str = "") -> Path:
    world = sim.world
    watchlist = {
        "reddit": {"subreddits": world.names("reddit", "subreddit")},
        "github": {"repos": world.names("github", "repo")},
    }
    return write_config(
        tmp_path / "config",
        watchlist,
        "[rate_limits]\nmax_retries = 1\nbackoff_seconds = 0\nmax_wait_seconds = 30\n"
        "[spiders]\ndownload_delay = 0\nautothrottle = false\n"
        f'[cluster]\nqueue = "{queue}"\nreddit_block = 100\nspider_group = 4\nheartbeat_seconds = 3\n'
        "max_retries = 1\n" + settings,
    )


def _env(sim: Any, config_dir: Path, db_url: str, broker: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DFWATCH_", "REDDIT_", "GITHUB_", "X_"))}
    env.update(sim.endpoint_env())
    env.update(
        CREDS,
        DFWATCH_CONFIG=str(config_dir),
        DFWATCH_DATABASE_URL=db_url,
        DFWATCH_NOW=sim.clock.iso(),
        DFWATCH_PSEUDONYM_KEY="cluster-test-pseudonym-key",
    )
    if broker:
        env["DFWATCH_BROKER_URL"] = broker
    return env


def _cli(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT, check=False
    )


@contextmanager
def _workers(env: dict[str, str], n: int, log_dir: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`n` worker processes (`dfwatch worker --threads 1`), stopped with SIGTERM afterwards."""
    log_dir.mkdir(parents=True, exist_ok=True)
    procs = []
    for i in range(n):
        out = (log_dir / f"worker{i}.log").open("wb")
        procs.append(
            subprocess.Popen([*CLI, "worker", "--threads", "1"], env=env, cwd=ROOT, stdout=out, stderr=out)
        )
    try:
        yield procs
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _sweep_requests(sim: Any) -> int:
    """Requests of Reddit's deletion sweep (/api/info?id=...), not its metadata batches."""
    return sum(1 for x in sim.exchanges("reddit", "info") if x.request.arg("id"))


@needs_cluster
@pytest.mark.slow
def test_a_distributed_crawl_on_three_workers_equals_a_single_machine_crawl(
    tmp_path: Path, queue: str
) -> None:
    from crawler.sim.server import Simulation

    with Simulation(seed=3, n_subreddits=110, n_accounts=0, n_repos=4, record=True) as sim, _pg_schema() as one, \
            _pg_schema() as many:  # fmt: skip
        config_dir = _cluster_config(tmp_path, sim, queue)
        sweeps = []
        for day in (1, 2):
            single_env = _env(sim, config_dir, one, None)
            sim.log.clear()
            done = _cli(single_env, "crawl")
            assert done.returncode == 0, done.stderr[-3000:]
            single_sweep = _sweep_requests(sim)

            env = _env(sim, config_dir, many, REDIS_URL)
            sim.log.clear()
            with _workers(env, 3, tmp_path / f"day{day}"):
                done = _cli(env, "crawl", "--distributed")
            assert done.returncode == 0, done.stderr[-3000:]
            assert _sweep_requests(sim) == single_sweep  # the sweep ran once, and asked the same
            assert sim.stats.status_count("reddit", 429) == 0  # three workers, one client: within its limit
            sweeps.append(single_sweep)
            assert _world_rows(many) == _world_rows(one)
            # The same requests as one machine, but a token grant per Reddit shard that sent any
            # (praw asks for its token on its first request) instead of one.
            # Less the retries: an attempt on a dropped keep-alive connection is counted, never received.
            sql = "select source, requests - retries from run_sources where run_id = (select max(id) from crawl_runs)"
            single, dist = dict(_rows(one, sql)), dict(_rows(many, sql))
            reddit_shards = _rows(many, "select count(*) from run_shards where source = 'reddit' and requests > 0 "
                                  "and run_id = (select max(id) from crawl_runs)")[0][0]  # fmt: skip
            assert dist == {**single, "reddit": single["reddit"] + reddit_shards - 1}
            sim.advance(days=1)
        assert sweeps[1] > 0  # the second day's sweep had stored posts to ask about

        run_id = _rows(many, "select max(id) from crawl_runs")[0][0]
        shards = _rows(
            many, "select source, steps, status, attempts, requests, items from run_shards where run_id = :r "
            "order by source, shard",
            r=run_id,
        )  # fmt: skip
        subs = len(sim.world.names("reddit", "subreddit"))
        assert [(s, st) for s, st, *_ in shards] == [
            ("github", "targets"),  # one site: one shard
            *[("reddit", "targets")] * -(-subs // 100),
            ("reddit", "finale"),
        ]
        assert {status for _s, _st, status, *_ in shards} == {"ok"}
        assert (
            len({w for (w,) in _rows(many, "select worker from run_shards where run_id = :r", r=run_id)}) >= 2
        )
        sums = _rows(
            many, "select source, status, requests, items from run_sources where run_id = :r order by source", r=run_id
        )  # fmt: skip
        for source, status, requests, items in sums:
            mine = [s for s in shards if s[0] == source]
            assert (status, requests, items) == ("ok", sum(s[4] for s in mine), sum(s[5] for s in mine))
        assert _rows(many, "select status, trigger from crawl_runs where id = :r", r=run_id) == [
            ("ok", "manual")
        ]


@needs_cluster
def test_broker_unreachable_is_exit_1_and_leaves_no_run(tmp_path: Path, queue: str) -> None:
    from crawler.sim.server import Simulation

    with Simulation(seed=3, n_subreddits=3, n_accounts=0, n_repos=1) as sim, _pg_schema() as url:
        config_dir = _cluster_config(tmp_path, sim, queue)
        env = _env(sim, config_dir, url, "redis://:brokerpass@127.0.0.1:1/0")
        done = _cli(env, "crawl", "--distributed", timeout=60)
        assert done.returncode == 1
        assert done.stderr.startswith("dfwatch: the broker at redis://127.0.0.1:1/0 is not reachable")
        assert "nothing was enqueued" in done.stderr and "brokerpass" not in done.stderr
        assert sim.stats.count() == 0  # not one request to a platform
        tables = _rows(url, "select table_name from information_schema.tables where table_name = 'crawl_runs' "
                       "and table_schema = current_schema()")  # fmt: skip
        assert tables == [] or _rows(url, "select count(*) from crawl_runs") == [(0,)]


def _set_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    """The environment a worker thread of this process loads its config with."""
    for name in list(os.environ):
        if name.startswith(("DFWATCH_", "REDDIT_", "GITHUB_", "X_")):
            monkeypatch.delenv(name)
    for name, value in env.items():
        if name.startswith(("DFWATCH_", "REDDIT_", "GITHUB_")):
            monkeypatch.setenv(name, value)


@contextmanager
def _worker_thread(config: Any, threads: int = 2) -> Iterator[None]:
    """A Dramatiq worker in a thread of this process (so a test can patch what it runs)."""
    import threading

    from crawler.cluster.worker import serve

    stop = threading.Event()
    thread = threading.Thread(
        target=serve,
        args=(config, str(config.directory)),
        kwargs={"threads": threads, "stop": stop},
        daemon=True,
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=60)


@needs_cluster
@pytest.mark.slow
def test_a_poison_shard_fails_its_targets_after_bounded_retries_and_the_rest_is_stored(
    tmp_path: Path, queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crawler.cluster import actors
    from crawler.cluster.coordinator import run_distributed
    from crawler.config import load_config
    from crawler.sim.server import Simulation

    with Simulation(seed=3, n_subreddits=12, n_accounts=0, n_repos=1) as sim, _pg_schema() as url:
        config_dir = write_config(
            tmp_path / "config",
            {"reddit": {"subreddits": sim.world.names("reddit", "subreddit")}},
            "[rate_limits]\nmax_retries = 1\nbackoff_seconds = 0\nmax_wait_seconds = 30\n"
            f'[cluster]\nqueue = "{queue}"\nreddit_block = 5\nmax_retries = 2\n',
        )
        _set_env(monkeypatch, _env(sim, config_dir, url, REDIS_URL))
        config = load_config(config_dir)
        attempts: list[str] = []
        real = actors.execute_shard

        def crashing(config: Any, engine: Any, shard: Any, **kw: Any) -> str:
            attempts.append(str(shard))
            if shard.index == 2:  # the second block of names crashes its worker's run every time
                raise RuntimeError("poison")
            return real(config, engine, shard, **kw)

        monkeypatch.setattr(actors, "execute_shard", crashing)
        with _worker_thread(config):
            result = run_distributed(config, poll_seconds=0.2)

        assert (result.status, result.exit_code) == ("partial", 4)
        assert attempts.count("reddit#2") == 3  # the first run and max_retries = 2 redeliveries
        shards = _rows(
            url, "select shard, steps, status, attempts, error_summary from run_shards order by shard"
        )
        assert [(n, steps, status) for n, steps, status, _a, _e in shards] == [
            (1, "targets", "ok"),
            (2, "targets", "failed"),
            (3, "targets", "ok"),
            (4, "finale", "ok"),
        ]
        poison = shards[1]
        block = sorted(sim.world.names("reddit", "subreddit"), key=str.lower)[5:10]
        assert poison[3] == 3
        assert poison[4].startswith(f"reddit#2 (5 targets: {', '.join(block)}): crashed on all 3 attempts")
        ((status, summary),) = _rows(
            url, "select status, error_summary from run_sources where source = 'reddit'"
        )
        assert status == "partial" and summary.startswith("failed shards: reddit#2 (5 targets: ")
        # The other blocks' subreddits are stored; the poison block's have their rows only.
        observed = {
            h
            for (h,) in _rows(
                url,
                "select distinct lower(c.handle) from metrics m join communities c on c.id = m.community_id",
            )
        }
        assert observed and not observed & {b.lower() for b in block}
        assert _rows(url, "select count(*) from communities") == [(12,)]


@needs_cluster
@pytest.mark.slow
def test_a_worker_killed_mid_shard_is_replaced_and_nothing_is_lost_or_doubled(
    tmp_path: Path, queue: str
) -> None:
    import time

    from crawler.sim.server import Simulation

    with Simulation(seed=3, n_subreddits=12, n_accounts=0, n_repos=1) as sim, _pg_schema() as one, \
            _pg_schema() as many:  # fmt: skip
        config_dir = write_config(
            tmp_path / "config",
            {"reddit": {"subreddits": sim.world.names("reddit", "subreddit")}},
            "[rate_limits]\nmax_retries = 1\nbackoff_seconds = 0\nmax_wait_seconds = 30\n"
            f'[cluster]\nqueue = "{queue}"\nreddit_block = 5\nheartbeat_seconds = 2\n',
        )
        done = _cli(_env(sim, config_dir, one, None), "crawl")
        assert done.returncode == 0, done.stderr[-3000:]

        # Every listing page answers slowly, so a shard is still running when its worker dies.
        sim.add_fault(platform="reddit", kind="slow", endpoint="new", times=None, delay=1.5)
        env = _env(sim, config_dir, many, REDIS_URL)
        with _workers(env, 2, tmp_path / "workers") as workers:
            crawl = subprocess.Popen(
                [*CLI, "crawl", "--distributed"],
                env=env,
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            victim = None
            for _ in range(600):  # at most a minute: a shard is running
                time.sleep(0.1)
                try:
                    running = _rows(many, "select worker from run_shards where status = 'running'")
                except ProgrammingError:
                    continue  # the schema is being created
                if running:
                    pid = int(running[0][0].rsplit(":", 1)[1])
                    victim = next(w for w in workers if w.pid == pid)
                    break
            assert victim is not None
            victim.kill()  # kill -9 mid-shard
            victim.wait()
            _out, err = crawl.communicate(timeout=300)
        assert crawl.returncode == 0, err[-3000:].decode()
        shards = _rows(many, "select shard, status, attempts from run_shards order by shard")
        assert {status for _n, status, _a in shards} == {"ok"}
        assert max(a for _n, _s, a in shards) == 2  # the killed one was run again, by the other worker
        assert _world_rows(many) == _world_rows(one)  # nothing lost, nothing doubled


def test_the_scheduler_plans_a_distributed_crawl_when_a_broker_is_set(
    make_config: Any, tmp_path: Path
) -> None:
    from crawler.schedule.child import Supervisor

    pg = "postgresql+psycopg://u@127.0.0.1:5432/db"
    seen: list[list[str]] = []
    for broker in (None, "redis://127.0.0.1:6379/0"):
        env = {"DFWATCH_BROKER_URL": broker} if broker else {}
        config = make_config({"reddit": {"subreddits": ["aa"]}}, env=env, db_url=pg)
        supervisor = Supervisor(config, engine=None, cli_command=["dfwatch"])  # type: ignore[arg-type]
        supervisor._spawn = lambda argv, label: seen.append(argv)  # type: ignore[method-assign]
        assert supervisor.run_crawl(str(tmp_path), ["reddit"]) is None
    assert "--distributed" not in seen[0]
    assert seen[1][-1] == "--distributed"


@needs_cluster
@pytest.mark.slow
def test_a_shard_longer_than_the_heartbeat_timeout_is_not_given_to_another_worker(
    tmp_path: Path, queue: str
) -> None:
    from crawler.sim.server import Simulation

    with Simulation(seed=3, n_subreddits=12, n_accounts=0, n_repos=1) as sim, _pg_schema() as url:
        config_dir = write_config(
            tmp_path / "config",
            {"reddit": {"subreddits": sim.world.names("reddit", "subreddit")}},
            "[rate_limits]\nmax_retries = 1\nbackoff_seconds = 0\nmax_wait_seconds = 30\n"
            f'[cluster]\nqueue = "{queue}"\nreddit_block = 5\nheartbeat_seconds = 1\n',
        )
        # Each listing page takes 4 s: a shard outlives the heartbeat timeout several times over,
        # while the worker's one thread holds a second shard prefetched (its main queue's consumer
        # then stops polling; the delay queue's consumer, same broker id, keeps the heartbeat).
        sim.add_fault(platform="reddit", kind="slow", endpoint="new", times=None, delay=4)
        env = _env(sim, config_dir, url, REDIS_URL)
        with _workers(env, 2, tmp_path / "workers"):
            done = _cli(env, "crawl", "--distributed")
        assert done.returncode == 0, done.stderr[-3000:]
        assert _rows(url, "select status, attempts from run_shards order by shard") == [("ok", 1)] * 4


def _reddit_cluster(tmp_path: Path, sim: Any, queue: str, settings: str = "") -> Path:
    return write_config(
        tmp_path / "config",
        {"reddit": {"subreddits": sim.world.names("reddit", "subreddit")}},
        "[rate_limits]\nmax_retries = 1\nbackoff_seconds = 0\nmax_wait_seconds = 30\n"
        f'[cluster]\nqueue = "{queue}"\nreddit_block = 5\n' + settings,
    )


@needs_cluster
def test_a_worker_with_another_config_fails_the_shards_and_says_why(
    tmp_path: Path, queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crawler.cluster import actors
    from crawler.cluster.coordinator import run_distributed
    from crawler.config import load_config
    from crawler.sim.server import Simulation

    with Simulation(seed=3, n_subreddits=12, n_accounts=0, n_repos=1) as sim, _pg_schema() as url:
        config_dir = _reddit_cluster(tmp_path, sim, queue)
        _set_env(monkeypatch, _env(sim, config_dir, url, REDIS_URL))
        config = load_config(config_dir)
        monkeypatch.setattr(actors, "config_fingerprint", lambda _config: "another watchlist")
        with _worker_thread(config):
            result = run_distributed(config, poll_seconds=0.2)
        assert (result.status, result.exit_code) == ("failed", 1)
        shards = _rows(url, "select status, attempts, error_summary from run_shards order by shard")
        assert [(s, a) for s, a, _e in shards] == [("failed", 1)] * 4
        assert all("differs from the one the crawl was planned with" in e for _s, _a, e in shards)
        assert sim.stats.count("reddit") == 0  # nothing was crawled


@needs_cluster
def test_shards_nobody_runs_fail_at_the_timeout_and_the_run_closes(
    tmp_path: Path, queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crawler.cluster.coordinator import run_distributed
    from crawler.config import load_config
    from crawler.sim.server import Simulation

    with Simulation(seed=3, n_subreddits=12, n_accounts=0, n_repos=1) as sim, _pg_schema() as url:
        config_dir = _reddit_cluster(tmp_path, sim, queue, "[schedule]\ntimeout_minutes = 0.01\n")
        _set_env(monkeypatch, _env(sim, config_dir, url, REDIS_URL))
        result = run_distributed(load_config(config_dir), poll_seconds=0.05)  # no worker at all
        assert (result.status, result.exit_code) == ("failed", 1)
        shards = _rows(url, "select status, error_summary from run_shards order by shard")
        assert {s for s, _e in shards} == {"failed"}
        assert all(e == "not finished within [schedule] timeout_minutes = 0.01" for _s, e in shards)
        assert _rows(url, "select status from crawl_runs") == [("failed",)]
        assert _rows(url, "select count(*) from run_locks") == [(0,)]  # the lock is released


@needs_cluster
@pytest.mark.slow
def test_sigterm_lets_the_worker_finish_its_shard_and_hand_back_the_rest(tmp_path: Path, queue: str) -> None:
    import time

    from crawler.sim.server import Simulation

    with Simulation(seed=3, n_subreddits=12, n_accounts=0, n_repos=1) as sim, _pg_schema() as url:
        config_dir = _reddit_cluster(tmp_path, sim, queue, "heartbeat_seconds = 2\n")
        sim.add_fault(platform="reddit", kind="slow", endpoint="new", times=None, delay=2)
        env = _env(sim, config_dir, url, REDIS_URL)
        crawl = subprocess.Popen(
            [*CLI, "crawl", "--distributed"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        with _workers(env, 1, tmp_path / "first") as (first,):
            running: list[tuple[Any, ...]] = []
            for _ in range(600):  # at most a minute: its first shard is running
                time.sleep(0.1)
                try:
                    running = _rows(url, "select shard from run_shards where status = 'running'")
                except ProgrammingError:
                    continue  # the schema is being created
                if running:
                    break
            assert running
            first.send_signal(signal.SIGTERM)
            assert first.wait(timeout=120) == 0  # it finished the shard it held, then stopped
        (held,) = running[0]
        assert _rows(url, "select status, attempts from run_shards where shard = :s", s=held) == [("ok", 1)]
        with _workers(env, 1, tmp_path / "second"):  # the shards it handed back are taken again
            _out, err = crawl.communicate(timeout=300)
        assert crawl.returncode == 0, err[-3000:].decode()
        assert _rows(url, "select status, attempts from run_shards order by shard") == [("ok", 1)] * 4


def test_hub_shards_keep_an_owner_whole_and_civitai_in_its_100_id_batches(make_config: Any) -> None:
    """A Hugging Face owner's watched models come from one listing: split across shards, each
    shard listed the owner again (bench/cluster.py: 1,231 requests where one machine sent 180)."""
    from crawler.cluster.shards import plan_shards
    from crawler.run import plan

    models = [f"owner{o}/model{m}" for o in range(3) for m in range(40)]  # 3 owners × 40
    watchlist = {
        "huggingface": {"models": [{"name": n} for n in models]},
        "civitai": {"models": [{"name": str(i)} for i in range(1, 251)]},
    }
    config = make_config(watchlist, env=SECRETS)
    runnable, _ = plan(config, ["huggingface", "civitai"])
    shards = plan_shards(config, 1, runnable)
    hub = [s for s in shards if s.source == "huggingface"]
    owners = [{h.partition("/")[0] for _p, _k, h in s.targets} for s in hub]
    assert [len(s.targets) for s in hub] == [80, 40]  # whole owners, packed up to 100
    assert all(not (a & b) for i, a in enumerate(owners) for b in owners[i + 1 :])  # no owner in two
    assert [len(s.targets) for s in shards if s.source == "civitai"] == [100, 100, 50]


def test_x_with_a_run_cap_is_one_shard_and_bluesky_always_is(make_config: Any) -> None:
    from crawler.cluster.shards import plan_shards
    from crawler.run import plan

    watchlist = {
        "x": {"accounts": [f"acct{i}" for i in range(150)]},
        "bluesky": {"accounts": [f"a{i}.bsky.social" for i in range(80)]},
    }
    config = make_config(watchlist, "[x]\nmax_cost_usd_per_run = 5.0\n", env=SECRETS)
    runnable, _ = plan(config, ["x", "bluesky"])
    assert [(s.source, s.steps, len(s.targets)) for s in plan_shards(config, 1, runnable)] == [
        ("x", "all", 150),
        ("bluesky", "all", 80),
    ]


def test_a_failed_shard_names_its_targets_boundedly() -> None:
    from crawler.cluster.actors import describe_targets
    from crawler.cluster.shards import Shard

    keys = tuple(("reddit", "subreddit", f"s{i:02d}") for i in range(12))
    text_ = describe_targets(Shard(1, "reddit", 3, "targets", keys, "f"))
    assert text_ == "reddit#3 (12 targets: s00, s01, s02, s03, s04, s05, s06, s07, s08, s09, and 2 more)"
    assert describe_targets(Shard(1, "reddit", 4, "finale", (), "f")) == "reddit#4 (finale)"
