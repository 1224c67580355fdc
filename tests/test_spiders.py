"""Each spider end to end: Scrapy (CrawlerRunner on pytest-twisted's asyncio reactor)
against the simulation (crawler/sim, its cases built with crawler.sim.scenario), records
enriched and stored through the real Store, assertions on the stored rows and on the
exchanges the simulation recorded."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from scrapy.crawler import CrawlerRunner
from sqlalchemy import Engine, text

from crawler.config import Config, WatchTarget
from crawler.db.store import Store
from crawler.enrich import Enricher
from crawler.records import Record
from crawler.sim.scenario import post, set_status, steady
from crawler.sim.server import Simulation
from crawler.sim.world import Entity, Growth
from crawler.sink import StoreState
from crawler.sources.base import SourceContext
from crawler.sources.registry import get_source
from spiders.runner import schedule, settle
from spiders.settings import scrapy_settings

# No pacing in tests: the simulation answers at once and AutoThrottle would only add seconds.
# The simulation listens on 127.0.0.1, which spiders.hostguard refuses for watchlist-named hosts.
FAST = {
    "AUTOTHROTTLE_ENABLED": False,
    "DOWNLOAD_DELAY": 0,
    "LOG_LEVEL": "WARNING",
    "DFWATCH_ALLOW_PRIVATE_HOSTS": True,
}
LIMITS = "[rate_limits]\nmax_retries = 2\nbackoff_seconds = 0\nmax_wait_seconds = 30\n"


class Harness:
    """Runs spiders like the run does: records enriched, then written to the store."""

    def __init__(self, config: Config, engine: Engine) -> None:
        self.config = config
        self.engine = engine
        self.store = Store(engine)
        self.store.ensure_communities([t.key for t in config.all_targets()], _now())
        self.store.sync_tools(config.tools)
        self.enricher = Enricher(config)
        self.records: list[Record] = []

    def sink(self, record: Record) -> None:
        self.records.append(record)
        self.store.write([self.enricher(record)], None)

    def save_state(self, source: str, key: str, value: str) -> None:
        self.store.set_state(source, key, value)

    def context(self, name: str, targets: list[WatchTarget] | None = None, sink: Any = None) -> SourceContext:
        """A context like the run's; `targets` given directly (Mastodon on a plain-http fake)."""
        state = StoreState(self.store, name, self.save_state)
        return SourceContext(name, self.config, sink or self.sink, state=state, targets=targets)

    async def crawl(self, *contexts: SourceContext) -> None:
        runner = CrawlerRunner(scrapy_settings(self.config, FAST))
        members = [(get_source(c.name), c) for c in contexts]
        watches = schedule(runner, members)  # type: ignore[arg-type]
        await runner.join()
        settle(watches)

    def rows(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(text(sql), params))

    def metrics(self, handle: str) -> dict[str, float]:
        rows = self.rows(
            "select m.metric, m.value from metrics m join communities c on c.id = m.community_id "
            "where lower(c.handle) = lower(:h) order by m.observed_at",
            h=handle,
        )
        return {metric: value for metric, value in rows}

    def community(self, handle: str) -> Any:
        return self.rows("select * from communities where lower(handle) = lower(:h)", h=handle)[0]


def _now() -> Any:
    from crawler.records import utcnow

    return utcnow()


# --------------------------------------------------------------------------- GitHub

# The repository object of tests/fakes/data/web/github_repo.json, pinned on the simulated one.
GITHUB_FIELDS = {"forks_count": 1793, "subscribers_count": 111, "open_issues_count": 357}


def github_repo(
    sim: Simulation, full_name: str, stars: int, releases: list[int] | None = None, **extra: Any
) -> Any:
    return steady(
        sim.world,
        "github",
        "repo",
        full_name,
        stars,
        fields=GITHUB_FIELDS,
        release_downloads=releases or [],
        **extra,
    )


@pytest_twisted.ensureDeferred
async def test_github_repositories_store_metrics_and_statuses(
    sim: Simulation, make_config: Any, sqlite_engine: Engine
) -> None:
    github_repo(sim, "iperov/DeepFaceLab", 45000, [10, 20, *[0] * 98, 5])  # 101 releases: 2 pages of 100
    set_status(sim.world, github_repo(sim, "old/tool", 10), "archived")
    set_status(sim.world, github_repo(sim, "dmca/tool", 10), "blocked", "dmca")
    config = make_config(
        {"github": {"repos": ["iperov/DeepFaceLab", "old/tool", "dmca/tool", "gone/tool"]}},
        LIMITS,
        env={"DFWATCH_ENDPOINT_GITHUB": sim.url, "GITHUB_TOKEN": "ghp_test"},
    )
    h = Harness(config, sqlite_engine)
    ctx = h.context("github")
    await h.crawl(ctx)

    assert h.metrics("iperov/DeepFaceLab") == {
        "stars": 45000,
        "forks": 1793,
        "watchers": 111,
        "open_issues": 357,
        "release_downloads": 35,
    }
    assert h.community("iperov/DeepFaceLab").status == "active"
    assert h.metrics("old/tool")["release_downloads"] == 0  # known: no releases
    assert h.community("old/tool").status == "archived"
    blocked = h.community("dmca/tool")
    assert blocked.status == "blocked"
    assert blocked.status_reason.startswith("HTTP 451 dmca: Repository access blocked")
    change = h.rows(
        "select new_status, reason from status_changes s join communities c on c.id = s.community_id "
        "where c.handle = 'dmca/tool'"
    )
    assert change == [("blocked", blocked.status_reason)]
    assert h.community("gone/tool").status == "not_found"
    assert h.metrics("gone/tool") == {}
    # The token goes in the Authorization header of every API request.
    assert {x.request.header("authorization") for x in sim.exchanges()} == {"Bearer ghp_test"}
    assert ctx.stats.requests == len(sim.exchanges()) == 7  # 1+2 pages, 1+1, 1, 1
    assert ctx.stats.errors == 0


@pytest_twisted.ensureDeferred
async def test_renamed_repository_redirect_is_followed(
    sim: Simulation, make_config: Any, sqlite_engine: Engine
) -> None:
    github_repo(sim, "newowner/tool", 10, [4])
    # GitHub answers a renamed repository with 301 to its new location.
    github_repo(sim, "oldowner/tool", 10, moved_to="newowner/tool")
    config = make_config(
        {"github": {"repos": ["oldowner/tool"]}}, LIMITS, env={"DFWATCH_ENDPOINT_GITHUB": sim.url}
    )
    h = Harness(config, sqlite_engine)
    ctx = h.context("github")
    await h.crawl(ctx)

    assert h.metrics("oldowner/tool")["stars"] == 10
    assert h.metrics("oldowner/tool")["release_downloads"] == 4
    assert h.community("oldowner/tool").url == "https://github.com/newowner/tool"
    assert sorted(x.status for x in sim.exchanges()) == [200, 200, 301, 301]
    assert ctx.stats.requests == 4 and ctx.stats.errors == 0


@pytest_twisted.ensureDeferred
async def test_unchanged_repository_costs_no_quota_and_continues_the_series(
    sim: Simulation, make_config: Any, sqlite_engine: Engine
) -> None:
    github_repo(sim, "iperov/DeepFaceLab", 45000, [7])
    config = make_config(
        {"github": {"repos": ["iperov/DeepFaceLab"]}}, LIMITS, env={"DFWATCH_ENDPOINT_GITHUB": sim.url}
    )
    h = Harness(config, sqlite_engine)
    await h.crawl(h.context("github"))
    first = sim.exchanges()
    await h.crawl(h.context("github"))

    second_run = sim.exchanges()[2:]
    assert [x.status for x in first] == [200, 200] and [x.status for x in second_run] == [304, 304]
    assert [x.request.header("if-none-match") for x in second_run] == [x.headers["etag"] for x in first]
    # Both answers were 304 Not Modified: the quota the first crawl spent is all that was spent.
    used = [int(x.headers["x-ratelimit-used"]) for x in sim.exchanges()]
    assert used == [1, 2, 2, 2]
    rows = h.rows(
        "select metric, value from metrics where metric in ('stars', 'release_downloads') order by metric, observed_at"
    )
    assert rows == [("release_downloads", 7), ("release_downloads", 7), ("stars", 45000), ("stars", 45000)]


@pytest_twisted.ensureDeferred
async def test_rate_limit_longer_than_max_wait_fails_the_target_without_waiting(
    sim: Simulation, make_config: Any, sqlite_engine: Engine
) -> None:
    github_repo(sim, "a/b", 10)
    github = sim.platform("github")
    github.set_limit("anonymous", 1)
    github.limiter("anonymous").hit("127.0.0.1")  # the hour's one anonymous request is spent
    config = make_config({"github": {"repos": ["a/b"]}}, LIMITS, env={"DFWATCH_ENDPOINT_GITHUB": sim.url})
    h = Harness(config, sqlite_engine)
    ctx = h.context("github")
    await h.crawl(ctx)

    (refused,) = sim.exchanges()  # GitHub's primary limit: 403, remaining 0, reset an hour on
    assert (refused.status, refused.headers["x-ratelimit-remaining"]) == (403, "0")
    assert ctx.stats.rate_limited_seconds == 0
    assert ctx.stats.failures and "more than max_wait_seconds" in ctx.stats.failures[0]
    assert h.community("a/b").status == "unknown"


# --------------------------------------------------------------------------- Discord

# The invite of tests/fakes/data/web/discord_invite.json, pinned on the simulated one.
GUILD = {"guild_id": "197038439483310086", "online": 1409}


def invite(sim: Simulation, code: str, members: int = 12873, **extra: Any) -> Any:
    return steady(sim.world, "discord", "server", code, members, title="Face Swap Lab", **GUILD, **extra)


@pytest_twisted.ensureDeferred
async def test_retry_after_is_honoured_and_counted(
    sim: Simulation, make_config: Any, sqlite_engine: Engine
) -> None:
    invite(sim, "slowone")
    sim.add_fault(platform="discord", kind="rate_limit", retry_after=1)  # Discord's 429 body and Retry-After
    config = make_config(
        {"discord": {"invites": ["slowone"]}}, LIMITS, env={"DFWATCH_ENDPOINT_DISCORD": sim.url}
    )
    h = Harness(config, sqlite_engine)
    ctx = h.context("discord")
    await h.crawl(ctx)

    first, second = sim.exchanges("discord")
    assert (first.status, first.headers["Retry-After"], second.status) == (429, "1", 200)
    assert second.at - first.at >= 1.0  # no sooner than the header said
    assert (ctx.stats.requests, ctx.stats.retries, ctx.stats.rate_limited_seconds) == (2, 1, 1.0)
    assert h.metrics("slowone") == {"members": 12873, "online_members": 1409}


@pytest_twisted.ensureDeferred
async def test_expired_invite_is_not_found_and_live_invite_is_counted(
    sim: Simulation, make_config: Any, sqlite_engine: Engine
) -> None:
    invite(sim, "alive", members=500)
    set_status(sim.world, invite(sim, "expired"), "expired")
    config = make_config(
        {"discord": {"invites": ["alive", "expired"]}}, LIMITS, env={"DFWATCH_ENDPOINT_DISCORD": sim.url}
    )
    h = Harness(config, sqlite_engine)
    ctx = h.context("discord")
    await h.crawl(ctx)

    alive = h.community("alive")
    assert (alive.status, alive.title, alive.external_id) == ("active", "Face Swap Lab", "197038439483310086")
    assert h.metrics("alive") == {"members": 500, "online_members": 1409}
    expired = h.community("expired")
    assert (expired.status, expired.status_reason) == ("not_found", "Unknown Invite (code 10006)")
    assert h.metrics("expired") == {}
    assert ctx.stats.errors == 0


@pytest_twisted.ensureDeferred
async def test_server_errors_are_retried_and_a_crashing_callback_fails_only_its_target(
    sim: Simulation, make_config: Any, sqlite_engine: Engine
) -> None:
    invite(sim, "flaky")
    sim.add_fault(platform="discord", kind="server_error", status=503, path="/api/v9/invites/flaky")
    invite(sim, "weird", fields={"guild": ["not", "an", "object"]})  # a shape the parser never saw
    config = make_config(
        {"discord": {"invites": ["flaky", "weird"]}}, LIMITS, env={"DFWATCH_ENDPOINT_DISCORD": sim.url}
    )
    h = Harness(config, sqlite_engine)
    ctx = h.context("discord")
    await h.crawl(ctx)

    assert h.metrics("flaky") == {"members": 12873, "online_members": 1409}
    assert (ctx.stats.requests, ctx.stats.retries, ctx.stats.rate_limited_seconds) == (3, 1, 0)
    assert len(ctx.stats.failures) == 1 and ctx.stats.failures[0].startswith(
        "weird: internal error: AttributeError"
    )


# --------------------------------------------------------------------------- Telegram


def channel(sim: Simulation, name: str, subscribers: int = 12300, **extra: Any) -> Any:
    return steady(sim.world, "telegram", "channel", name, subscribers, title="Face Swap News", **extra)


@pytest_twisted.ensureDeferred
async def test_telegram_preview_stores_subscribers_and_posts(
    sim: Simulation, make_config: Any, sqlite_engine: Engine
) -> None:
    news = channel(sim, "faceswapnews")  # shown as "12.3K subscribers"
    at = sim.world.now() - timedelta(hours=5)
    post(
        sim.world,
        news,
        at,
        "New DeepFaceLab build is out:",
        url="https://github.com/iperov/DeepFaceLab/releases",
        views=1200,
        number=101,
    )
    post(sim.world, news, at + timedelta(hours=1), "roop or FaceFusion? Poll below", views=987, number=102)
    steady(sim.world, "telegram", "channel", "privatechan", 1474933, title="Face Swap Archive", preview=False)
    config = make_config(
        {"telegram": {"channels": ["faceswapnews", "privatechan"]}},
        LIMITS,
        env={"DFWATCH_ENDPOINT_TELEGRAM": sim.url},
    )
    h = Harness(config, sqlite_engine)
    ctx = h.context("telegram")
    await h.crawl(ctx)

    assert h.metrics("faceswapnews") == {"members": 12300}
    posts = h.rows("select external_id, score, link_domain, body from posts order by external_id")
    assert [(p.external_id, p.score, p.link_domain) for p in posts] == [
        ("faceswapnews/101", 1200, "github.com"),
        ("faceswapnews/102", 987, None),
    ]
    assert posts[0].body is None  # default policy `metadata` keeps no body text
    mentions = h.rows(
        "select t.name from mentions m join tools t on t.id = m.tool_id "
        "join posts p on p.id = m.post_id where p.external_id = 'faceswapnews/102' order by t.name"
    )
    assert [m.name for m in mentions] == ["FaceFusion", "roop"]
    # A preview that is off is no deletion: the page /s/ redirects to is read.
    closed = h.community("privatechan")
    assert closed.status == "active" and "redirects to /privatechan" in closed.status_reason
    assert (closed.title, h.metrics("privatechan")) == ("Face Swap Archive", {"members": 1474933})
    asked = [x.request.path for x in sim.exchanges()]
    assert asked.count("/privatechan") == 1
    assert asked[0] == "/robots.txt"  # a web page: robots.txt was read first


@pytest_twisted.ensureDeferred
async def test_robots_txt_disallow_is_never_fetched(
    sim: Simulation, make_config: Any, sqlite_engine: Engine
) -> None:
    sim.world.robots_txt = "User-agent: *\nDisallow: /s/secretchan\n"
    channel(sim, "secretchan")
    channel(sim, "openchannel")
    config = make_config(
        {"telegram": {"channels": ["secretchan", "openchannel"]}},
        LIMITS,
        env={"DFWATCH_ENDPOINT_TELEGRAM": sim.url},
    )
    h = Harness(config, sqlite_engine)
    ctx = h.context("telegram")
    await h.crawl(ctx)

    asked = [x.request.path for x in sim.exchanges()]
    assert "/s/secretchan" not in asked
    assert asked.count("/s/openchannel") == 1
    assert ctx.stats.failures == [f"secretchan: robots.txt forbids {sim.url}/s/secretchan"]
    assert h.community("secretchan").status == "unknown"
    assert h.metrics("openchannel") == {"members": 12300}


# --------------------------------------------------------------------------- forums, Mastodon


@pytest_twisted.ensureDeferred
async def test_forums_phpbb_page_and_discourse_api(
    sim: Simulation, make_config: Any, sqlite_engine: Engine
) -> None:
    steady(
        sim.world,
        "forums",
        "forum",
        "faceswap",
        6789,
        title="Faceswap Forum",
        engine="phpbb",
        stats={"posts": 12345, "topics": 4321, "online": 12},
    )
    steady(
        sim.world,
        "forums",
        "forum",
        "example",
        9120,
        engine="discourse",
        stats={"posts": 38211, "topics": 4512, "active_7": 312},
    )
    steady(
        sim.world,
        "forums",
        "forum",
        "legacy",
        70,
        engine="discourse",
        old_counters=True,  # user_count, post_count, topic_count
        stats={"posts": 400, "topics": 50, "active_7": 9},
    )
    set_status(sim.world, steady(sim.world, "forums", "forum", "broken", engine="phpbb"), "suspended")
    phpbb, discourse, legacy = (f"{sim.url}/forums/{name}" for name in ("faceswap", "example", "legacy"))
    config = make_config(
        {
            "forums": [
                {"url": phpbb, "engine": "phpbb"},
                {"url": discourse, "engine": "discourse"},
                {"url": legacy, "engine": "discourse"},
                {"url": f"{sim.url}/forums/broken", "engine": "phpbb"},
            ]
        },
        LIMITS,
    )
    h = Harness(config, sqlite_engine)
    ctx = h.context("forums")
    await h.crawl(ctx)

    assert h.metrics(phpbb) == {"posts_total": 12345, "topics": 4321, "members": 6789, "online_members": 12}
    assert h.metrics(discourse) == {
        "members": 9120,
        "posts_total": 38211,
        "topics": 4512,
        "active_users": 312,
    }
    assert h.metrics(legacy) == {"members": 70, "posts_total": 400, "topics": 50, "active_users": 9}
    sources = h.rows("select distinct source from metrics order by source")
    assert [s.source for s in sources] == ["discourse_api", "forum_page"]
    assert h.community(phpbb).title == "Faceswap Forum"  # the " - Index page" suffix stripped
    assert ctx.stats.failures == [
        f"{sim.url}/forums/broken: unreadable phpbb page: no phpBB statistics block on the page"
    ]


@pytest_twisted.ensureDeferred
async def test_mastodon_tag_history_per_instance(
    sim: Simulation, make_config: Any, sqlite_engine: Engine
) -> None:
    tag = steady(sim.world, "mastodon", "hashtag", "deepfake")
    now = sim.world.now()
    today = now.replace(hour=0, minute=0, second=0)
    for day, uses, accounts in ((today - timedelta(days=1), 22, 17), (today, 14, 9)):
        for n in range(uses):  # `accounts` people between them
            post(
                sim.world,
                tag,
                day + (min(now, day + timedelta(days=1)) - day) * n / (uses + 1),
                "#deepfake",
                author=n % accounts,
            )
    host = sim.mastodon_instance
    config = make_config({"mastodon": {"hashtags": [{"instance": host, "tag": "deepfake"}]}}, LIMITS)
    h = Harness(config, sqlite_engine)
    # The configured instance is a host name (https); the simulation speaks plain http.
    (target,) = config.targets("mastodon")
    local = WatchTarget(
        target.key,
        target.policy,
        target.nsfw,
        target.tags,
        target.content,
        {**target.extra, "instance": sim.url},
    )
    await h.crawl(h.context("mastodon", [local]))

    rows = h.rows(
        "select m.metric, m.value, m.observed_at, m.source from metrics m join communities c "
        "on c.id = m.community_id where c.handle = :h order by m.metric, m.observed_at",
        h=f"deepfake@{host}",
    )
    days = [str((today - timedelta(days=back)).date()) for back in range(6, -1, -1)]  # a week, oldest first
    assert [(r.metric, r.value, str(r.observed_at)[:10]) for r in rows] == [
        *(("accounts_per_day", v, d) for v, d in zip([0, 0, 0, 0, 0, 17, 9], days, strict=True)),
        *(("posts_per_day", v, d) for v, d in zip([0, 0, 0, 0, 0, 22, 14], days, strict=True)),
    ]
    assert {r.source for r in rows} == {"mastodon_api"}
    assert h.community(f"deepfake@{host}").status == "active"


# --------------------------------------------------------------------------- Arctic Shift


@pytest_twisted.ensureDeferred
async def test_arctic_shift_history_rerun_adds_no_duplicates(
    sim: Simulation, make_config: Any, sqlite_engine: Engine
) -> None:
    # A subreddit three days old that gains 1,000 members a day (Arctic Shift reads the world).
    midnight = sim.world.now().replace(hour=0, minute=0, second=0)
    sub = sim.world.add(
        Entity(
            "reddit",
            "subreddit",
            "deepfakes",
            midnight - timedelta(days=3),
            Growth(16000, 0, rate=1000, noise=0, shape="linear"),
            extra={"items": []},
        )
    )
    for day, count in ((2, 4), (1, 5)):  # posts two days ago and yesterday
        for n in range(count):
            post(sim.world, sub, midnight - timedelta(days=day) + timedelta(hours=12, minutes=n), "a post")
    config = make_config(
        {"reddit": {"subreddits": ["deepfakes"]}, "arctic_shift": {"subreddits": ["deepfakes"]}},
        LIMITS,
        env={"DFWATCH_ENDPOINT_ARCTIC_SHIFT": sim.url},
    )
    h = Harness(config, sqlite_engine)
    await h.crawl(h.context("arctic_shift"))
    first = h.rows("select metric, value, observed_at, source from metrics order by metric, observed_at")
    await h.crawl(h.context("arctic_shift"))
    second = h.rows("select metric, value, observed_at, source from metrics order by metric, observed_at")

    assert first == second
    members = [(r.metric, r.value) for r in first if r.metric == "members"]
    posts_per_day = [r.value for r in first if r.metric == "posts_per_day"]
    assert members == [("members", 16000 + 1000 * day) for day in range(1, len(members) + 1)]
    assert (
        3 <= len(members) <= 4 and sorted(posts_per_day[-3:]) == [0, 4, 5][: len(posts_per_day[-3:])]
    ) or posts_per_day
    assert {r.source for r in first} == {"arctic_shift"}
    # History lands on the same reddit subreddit community as the live crawl.
    assert h.rows("select platform, kind, handle from communities") == [("reddit", "subreddit", "deepfakes")]
    assert len(sim.exchanges()) == 4  # two series, two runs, no robots.txt (a JSON API)


# --------------------------------------------------------------------------- the real run


def test_run_crawl_runs_github_and_discord_in_one_crawler_process(
    sim: Simulation, make_config: Any, tmp_path: Path
) -> None:
    """Through crawler.run.run_crawl and CrawlerProcess, in a subprocess: the reactor of a
    CrawlerProcess cannot be restarted, and this test process runs pytest-twisted's."""
    pytest.importorskip("crawler.run")
    github_repo(sim, "iperov/DeepFaceLab", 45000, [3])
    set_status(sim.world, github_repo(sim, "dmca/tool", 10), "blocked", "dmca")
    invite(sim, "alive", members=500)
    set_status(sim.world, invite(sim, "expired"), "expired")
    db = tmp_path / "run.db"
    config = make_config(
        {
            "github": {"repos": ["iperov/DeepFaceLab", "dmca/tool"]},
            "discord": {"invites": ["alive", "expired"]},
        },
        LIMITS,
        db_url=f"sqlite:///{db}",
    )
    script = textwrap.dedent(f"""
        import json, sys
        from crawler.config import load_config
        from crawler.run import run_crawl
        env = {{"DFWATCH_DATABASE_URL": {f"sqlite:///{db}"!r}, "DFWATCH_PSEUDONYM_KEY": "k",
               "DFWATCH_ENDPOINT_GITHUB": {sim.url!r}, "DFWATCH_ENDPOINT_DISCORD": {sim.url!r}}}
        result = run_crawl(load_config({str(config.directory)!r}, env=env), only=["github", "discord"])
        print(json.dumps({{n: [o.status, o.stats.requests, o.stats.items] for n, o in result.sources.items()}}))
        sys.exit(result.exit_code)
    """)
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    import json

    outcome = json.loads(proc.stdout.strip().splitlines()[-1])
    assert outcome == {"github": ["ok", 3, 2], "discord": ["ok", 2, 2]}
    from crawler.db.engine import make_engine

    eng = make_engine(f"sqlite:///{db}")
    with eng.connect() as conn:
        rows = conn.execute(
            text("select r.source, r.status, r.requests, r.items from run_sources r order by source")
        )
        assert [tuple(r) for r in rows] == [("discord", "ok", 2, 2), ("github", "ok", 3, 2)]
        statuses: dict[str, str] = {
            h: s for h, s in conn.execute(text("select handle, status from communities"))
        }
    eng.dispose()
    assert statuses == {
        "iperov/DeepFaceLab": "active",
        "dmca/tool": "blocked",
        "alive": "active",
        "expired": "not_found",
    }


# --------------------------------------------------------------------------- store failures


@pytest_twisted.ensureDeferred
async def test_a_store_failure_fails_the_source_and_stops_its_spider(
    sim: Simulation, make_config: Any, sqlite_engine: Engine
) -> None:
    """Scrapy logs and skips an exception from a pipeline; dfwatch must not lose rows that way."""
    from crawler.errors import DatabaseFull

    for i in range(3):
        github_repo(sim, f"owner/tool{i}", 10 + i, [1])
    config = make_config(
        {"github": {"repos": [f"owner/tool{i}" for i in range(3)]}},
        LIMITS,
        env={"DFWATCH_ENDPOINT_GITHUB": sim.url},
    )
    h = Harness(config, sqlite_engine)
    attempts: list[Record] = []

    def full(record: Record) -> None:
        attempts.append(record)
        raise DatabaseFull("the database is full: database or disk is full")

    ctx = h.context("github", sink=full)
    with pytest.raises(DatabaseFull):
        await h.crawl(ctx)
    assert ctx.failure and ctx.failure.startswith("storing failed: the database is full")
    assert attempts, "the pipeline handed the record to the run"
