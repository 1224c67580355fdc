"""Shared request budgets (crawler.cluster.budget) on the real Redis, against the simulation.

Several processes share one Reddit OAuth client through Redis: the simulated Reddit counts
what that client sent in each of its windows, and no window may pass the platform's limit.
A 429 seen by one process holds back the others. Counts and orderings, never durations.
Redis is 127.0.0.1:6379; every key lives under a prefix of its own, deleted afterwards.
"""

from __future__ import annotations

import multiprocessing
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted

from crawler.config import Config, load_config
from crawler.errors import RateLimited, SourceError
from crawler.sim.ratelimit import FixedWindowLimiter
from crawler.sim.server import Simulation
from crawler.sources.base import SourceContext
from crawler.sources.budget import UNMETERED, BudgetKey, Unmetered, fingerprint
from tests.conftest import write_config

redis = pytest.importorskip("redis")

REDIS_URL = os.environ.get("DFWATCH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CLIENT_ID, CLIENT_SECRET = "budget-test-client", "s3cr3t-budget-test-value"
X_TOKEN = "AAAAbearer-token-under-test-0123456789"
# The workers' shared budget is BUDGET_LIMIT per WINDOW. A request granted in a window's last
# instant may arrive in the next one, at most one per worker (each has one in flight), so no
# window of the platform's may see more than BUDGET_LIMIT + WORKERS. The simulated Reddit's
# own limit is set above that, far enough that praw's reserve (5 left) never comes into play.
BUDGET_LIMIT, WINDOW, WORKERS, CALLS_EACH = 8, 2, 4, 6
PLATFORM_LIMIT = 20


def _redis_reason() -> str | None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return f"Redis not reachable at {REDIS_URL}: {type(exc).__name__}"
    return None


needs_redis = pytest.mark.skipif(_redis_reason() is not None, reason=_redis_reason() or "")


@pytest.fixture
def prefix() -> Iterator[str]:
    """A key prefix of this test's own; only its keys are deleted afterwards."""
    name = f"dfwatch-test:{uuid.uuid4().hex[:8]}:"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=name + "*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def sim() -> Iterator[Simulation]:
    with Simulation(seed=3, n_subreddits=12, n_accounts=4, n_repos=1) as s:
        yield s


def _config_dir(tmp_path: Path, settings: str = "") -> Path:
    return write_config(
        tmp_path / "config",
        {},
        f"[reddit]\nbudget_requests = {BUDGET_LIMIT}\nbudget_window_seconds = {WINDOW}\n" + settings,
    )


def _config(directory: str, sim_url: str) -> Config:
    env = {
        "DFWATCH_ENDPOINT_REDDIT": sim_url,
        "DFWATCH_ENDPOINT_X": sim_url,
        "REDDIT_CLIENT_ID": CLIENT_ID,
        "REDDIT_CLIENT_SECRET": CLIENT_SECRET,
        "X_BEARER_TOKEN": X_TOKEN,
        "DFWATCH_DATABASE_URL": "sqlite://",
        "DFWATCH_PSEUDONYM_KEY": "test-key-not-secret",
    }
    return load_config(directory, env=env)


def _reddit_worker(directory: str, sim_url: str, prefix: str | None, names: list[str]) -> dict[str, Any]:
    """One worker: a real praw client asking the simulated Reddit about `names`, one call each."""
    from crawler.cluster.budget import RedisBudget
    from crawler.sources.reddit_client import RedditApi, build_client

    config = _config(directory, sim_url)
    budget = RedisBudget.from_url(REDIS_URL, prefix=prefix) if prefix else None
    ctx = SourceContext("reddit", config, lambda record: None, budget=budget)
    api = RedditApi(ctx, build_client(ctx))
    failed = 0
    for name in names:
        try:
            api.get("/api/info", {"sr_name": name}, target=name)
        except RateLimited:
            failed += 1
    return {
        "requests": ctx.stats.requests,
        "retries": ctx.stats.retries,
        "failed": failed,
        "waits": dict(budget.waits) if budget else {},
        "rate_limited_seconds": ctx.stats.rate_limited_seconds,
    }


def _run_workers(n: int, *args: Any) -> list[dict[str, Any]]:
    directory, sim_url, prefix, names = args
    shards = [names[i::n] for i in range(n)]
    with multiprocessing.get_context("spawn").Pool(n) as pool:
        return pool.starmap(_reddit_worker, [(directory, sim_url, prefix, shard) for shard in shards])


def _names(sim: Simulation, count: int) -> list[str]:
    subs = [e.name for e in sim.world.of_kind("reddit", "subreddit")]
    return [subs[i % len(subs)] for i in range(count)]


@needs_redis
@pytest.mark.slow
def test_workers_sharing_a_client_never_exceed_its_window(
    sim: Simulation, prefix: str, tmp_path: Path
) -> None:
    directory = str(_config_dir(tmp_path))
    names = _names(sim, WORKERS * CALLS_EACH)
    reddit = sim.platforms["reddit"]

    # The single-process crawl of the same calls, for the request total.
    reddit.set_limit("oauth", 10_000, WINDOW)
    _reddit_worker(directory, sim.url, None, names)
    single_api = reddit.limiter("oauth").requests(CLIENT_ID)
    assert single_api == len(names)

    reddit.set_limit("oauth", PLATFORM_LIMIT, WINDOW)
    sim.stats.reset()
    results = _run_workers(WORKERS, directory, sim.url, prefix, names)
    limiter = reddit.limiter("oauth")
    windows = limiter.windows(CLIENT_ID)
    assert len(windows) >= 2  # the work needed more than one window
    assert limiter.exceeded(CLIENT_ID) == 0
    assert limiter.max_in_window(CLIENT_ID) <= BUDGET_LIMIT + WORKERS < PLATFORM_LIMIT
    assert sim.stats.status_count("reddit", 429) == 0
    assert sum(r["failed"] for r in results) == 0
    # Every call was made once: the API requests equal the single process's; each worker's
    # own count (its token grant included) adds up to what the platform received, plus the
    # attempts it retried after a dropped keep-alive connection that never reached the server.
    assert limiter.requests(CLIENT_ID) == single_api
    counted, retried = sum(r["requests"] for r in results), sum(r["retries"] for r in results)
    received = sim.stats.count("reddit")
    assert received <= counted <= received + retried
    assert sim.stats.count("reddit", "token") == WORKERS  # one token grant each, nothing else
    assert sum(r["waits"].get("window", 0) for r in results) >= 1  # the budget, not luck, held it


@needs_redis
@pytest.mark.slow
def test_a_429_seen_by_one_worker_holds_back_the_others(sim: Simulation, prefix: str, tmp_path: Path) -> None:
    from crawler.cluster.budget import RedisBudget
    from crawler.sources.reddit_client import RedditApi, budget_key, build_client

    directory = str(_config_dir(tmp_path, "[rate_limits]\nmax_retries = 0\n"))
    config = _config(directory, sim.url)
    budget = RedisBudget.from_url(REDIS_URL, prefix=prefix)
    ctx = SourceContext("reddit", config, lambda record: None, budget=budget, sleep=lambda s: None)
    api = RedditApi(ctx, build_client(ctx))
    sim.add_fault(platform="reddit", kind="rate_limit", endpoint="info", retry_after=4, times=1)
    names = _names(sim, 3)
    outcome: BaseException | None = None
    for _attempt in range(3):  # max_retries = 0, so a dropped keep-alive connection is retried here
        try:
            api.get("/api/info", {"sr_name": names[0]}, target=names[0])
        except RateLimited as exc:
            outcome = exc
            break
        except SourceError as exc:
            assert "(connection)" in str(exc)
    assert isinstance(outcome, RateLimited)
    not_before = budget.not_before(budget_key(ctx))
    assert not_before > 0
    limiter = sim.platforms["reddit"].limiter("oauth")
    assert limiter.requests(CLIENT_ID) == 0  # the 429 came before the client's budget was counted

    # The other worker runs with the default retries (only the first one had to surface its
    # 429 unretried): a keep-alive connection dropped under load is retried, not a failure.
    (other,) = _run_workers(1, str(_config_dir(tmp_path / "other")), sim.url, prefix, names)
    assert other["failed"] == 0
    assert other["waits"].get("not_before", 0) >= 1
    assert other["rate_limited_seconds"] > 0
    arrivals = limiter.arrivals[CLIENT_ID]
    assert len(arrivals) == len(names)
    assert min(arrivals) >= not_before  # nothing was sent before the shared instant


@needs_redis
def test_penalties_only_move_later_and_waits_are_bounded(prefix: str) -> None:
    from crawler.cluster.budget import RedisBudget

    slept: list[float] = []
    budget = RedisBudget.from_url(REDIS_URL, prefix=prefix, max_wait_seconds=1.0, sleep=slept.append)
    key = BudgetKey.of("reddit", CLIENT_ID, limit=5, window_seconds=60)
    budget.penalize(key, 30)
    later = budget.not_before(key)
    budget.penalize(key, 5)
    assert budget.not_before(key) == later
    with pytest.raises(RateLimited):
        budget.acquire(key)  # 30 s asked, 1 s allowed: refused without sleeping
    assert slept == []


@needs_redis
def test_window_full_is_refused_after_the_bound(prefix: str) -> None:
    from crawler.cluster.budget import RedisBudget

    slept: list[float] = []
    budget = RedisBudget.from_url(REDIS_URL, prefix=prefix, max_wait_seconds=0.0, sleep=slept.append)
    key = BudgetKey.of("x", X_TOKEN, limit=3, window_seconds=60, scope="users_by")
    assert [budget.acquire(key) < 1 for _ in range(3)] == [True] * 3
    with pytest.raises(RateLimited):
        budget.acquire(key)


@needs_redis
def test_a_wait_for_a_spent_budget_is_said_once_before_it_starts(
    prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A worker idle on a spent budget says so (once a minute, not once a poll), no secret."""
    from crawler.cluster.budget import RedisBudget

    slept: list[float] = []
    budget = RedisBudget.from_url(REDIS_URL, prefix=prefix, max_wait_seconds=5.0, sleep=slept.append)
    key = BudgetKey.of("github", "ghp_budgetlogtesttoken", limit=1, window_seconds=60)
    budget.acquire(key)
    caplog.set_level("INFO", logger="dfwatch.budget")
    with pytest.raises(RateLimited):
        budget.acquire(key)  # polls until its bound of 5 s (sleep is recorded, not slept)
    assert len(slept) > 1
    lines = [r.getMessage() for r in caplog.records if r.name == "dfwatch.budget"]
    assert lines == [
        f"budget={key} spent (1 requests per 60s, shared by every worker on this credential): waiting"
    ]
    assert "ghp_budgetlogtesttoken" not in caplog.text


@needs_redis
def test_x_requests_spend_the_tokens_budget_and_no_key_holds_the_secret(
    sim: Simulation, prefix: str, tmp_path: Path
) -> None:
    from crawler.cluster.budget import RedisBudget
    from crawler.sources.x_client import XApi

    config = _config(str(_config_dir(tmp_path)), sim.url)
    budget = RedisBudget.from_url(REDIS_URL, prefix=prefix)
    ctx = SourceContext("x", config, lambda record: None, budget=budget)
    api = XApi(ctx, X_TOKEN)
    handles = [e.name for e in sim.world.of_kind("x", "account")][:2]
    api.users(handles)
    api.close()
    keys = [k.decode() for k in redis.Redis.from_url(REDIS_URL).scan_iter(match=prefix + "*")]
    users_key = api.budgets["/2/users/by"]
    assert any(k.startswith(prefix + users_key.name + "@") for k in keys)  # one window second spent
    _reddit_worker(str(_config_dir(tmp_path)), sim.url, prefix, _names(sim, 1))
    keys = [k.decode() for k in redis.Redis.from_url(REDIS_URL).scan_iter(match=prefix + "*")]
    assert any(":reddit:" in k for k in keys)
    for secret in (X_TOKEN, CLIENT_SECRET, CLIENT_ID):
        pieces = {secret[i : i + 8] for i in range(len(secret) - 7)}
        assert not any(piece in k for k in keys for piece in pieces)


def test_fingerprint_names_a_credential_without_holding_it() -> None:
    fp = fingerprint("x", X_TOKEN)
    assert fp == fingerprint("x", X_TOKEN)  # stable across workers and runs
    assert fp != fingerprint("reddit", X_TOKEN) != fingerprint("x", X_TOKEN + "2")
    assert len(fp) == 16 and int(fp, 16) >= 0
    key = BudgetKey.of("x", X_TOKEN, limit=300, window_seconds=900, scope="users_by")
    for text in (key.name, str(key), repr(key)):
        assert not any(X_TOKEN[i : i + 6] in text for i in range(len(X_TOKEN) - 5))


def test_the_local_budget_is_a_no_op(tmp_path: Path) -> None:
    config = _config(str(_config_dir(tmp_path)), "http://127.0.0.1:9")
    ctx = SourceContext("reddit", config, lambda record: None)
    assert ctx.budget is UNMETERED and isinstance(ctx.budget, Unmetered)
    key = BudgetKey.of("reddit", CLIENT_ID, limit=1, window_seconds=600)
    for _ in range(5):  # far past the limit of 1: nothing is counted, nothing waits
        ctx.spend(key)
    ctx.penalize(key, 60)
    ctx.spend(key)
    assert ctx.stats.rate_limited_seconds == 0 and ctx.stats.requests == 0


def test_sim_limiter_reports_requests_per_key_and_window() -> None:
    now = [1000.0]
    limiter = FixedWindowLimiter(3, 10, aligned=True, time_fn=lambda: now[0])
    for t in (1000.0, 1001.0, 1002.0, 1003.0, 1011.0, 1012.0):
        now[0] = t
        limiter.hit("client-a")
    limiter.hit("client-b")
    assert [(w.start, w.sent, w.refused) for w in limiter.windows("client-a")] == [
        (1000.0, 4, 1),
        (1010.0, 2, 0),
    ]
    assert limiter.max_in_window("client-a") == 4
    assert limiter.exceeded("client-a") == 1 and limiter.exceeded("client-b") == 0
    assert limiter.requests() == 7
    limiter.reset()  # a clock jump closes windows but keeps the ledger
    assert limiter.requests("client-a") == 6
    limiter.forget()
    assert limiter.windows() == []


@needs_redis
@pytest_twisted.ensureDeferred
async def test_spider_requests_spend_the_tokens_budget(
    sim: Simulation, make_config: Any, prefix: str
) -> None:
    from scrapy.crawler import CrawlerRunner

    from crawler.cluster.budget import RedisBudget
    from crawler.sources.registry import get_source
    from spiders.runner import schedule, settle
    from spiders.settings import scrapy_settings

    token = "ghp_budget_test_token"
    repos = [e.name for e in sim.world.of_kind("github", "repo")]
    config = make_config(
        {"github": {"repos": repos}},
        "[rate_limits]\nmax_retries = 2\nbackoff_seconds = 0\n",
        env={"DFWATCH_ENDPOINT_GITHUB": sim.url, "GITHUB_TOKEN": token},
    )
    budget = RedisBudget.from_url(REDIS_URL, prefix=prefix)
    ctx = SourceContext("github", config, lambda record: None, budget=budget)
    fast = {"AUTOTHROTTLE_ENABLED": False, "DOWNLOAD_DELAY": 0, "DFWATCH_ALLOW_PRIVATE_HOSTS": True}
    runner = CrawlerRunner(scrapy_settings(config, fast))
    watches = schedule(runner, [(get_source("github"), ctx)])  # type: ignore[list-item]
    await runner.join()
    settle(watches)

    client = redis.Redis.from_url(REDIS_URL)
    key = BudgetKey.of("github", token, limit=830, window_seconds=600)
    spent = [
        k for k in client.scan_iter(match=prefix + "*") if k.decode().startswith(prefix + key.name + "@")
    ]
    received = sim.platforms["github"].limiter("token").requests(token)
    assert repos and ctx.stats.errors == 0
    assert ctx.stats.requests == received >= len(repos)  # each repository, and releases where it has them
    assert sum(int(client.get(k) or 0) for k in spent) == received  # every request sent was spent first


@needs_redis
def test_a_workers_budget_takes_its_bound_from_the_config(tmp_path: Path) -> None:
    from crawler.cluster.budget import RedisBudget

    config = _config(
        str(_config_dir(tmp_path, "[rate_limits]\nmax_wait_seconds = 42\n")), "http://127.0.0.1:9"
    )
    budget = RedisBudget.for_config(config, REDIS_URL)
    assert budget.max_wait_seconds == 42
    assert budget.client.ping()
