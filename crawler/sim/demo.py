"""`dfwatch demo`: the whole pipeline, offline, against the simulated platforms.

Starts the simulation on 127.0.0.1, writes a config directory whose watchlist is the
simulated world, then for each simulated day runs one real `dfwatch crawl` (praw, tweepy and
the Scrapy spiders, talking HTTP to the simulation) and moves the clock a day on. Each crawl
is its own process: Scrapy's reactor cannot restart in one process (DESIGN.md), and
`DFWATCH_NOW` (read by crawler.records.utcnow) sets that process's clock to the simulated
day, so observations land on the days the world describes. Finally `dfwatch report --format
html` writes the report, whose path is returned.

A second phase then crawls the story's 2024 chapter (crawler.sim.chapter_2024): the clock
jumps to October 2024 (a GitHub fork disabled for DMCA, its copy on Codeberg) and then to
January 2026 (Bluesky after X's image-editing scandal), crawling only the sources of that
chapter daily in each window, and writes `report-wave.html` beside the first report for
the chapter's entries (the watchlist tag `wave-2024`). Forgejo repositories and Bluesky
accounts join the watchlist (`watchlist.d/wave.yaml`) from the day they exist, as a
researcher adds a community once it appears.

The simulation is the only thing this module imports from dfwatch: the crawler is driven
through its command line, as a user would.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from crawler.errors import DfwatchError
from crawler.plugins import declared
from crawler.sim.chapter_2024 import TAG
from crawler.sim.content import TOOL_NAMES
from crawler.sim.receiver import AlertReceiver
from crawler.sim.server import Simulation
from crawler.sim.world import Entity, World

log = logging.getLogger("crawler.sim.demo")

# Three weeks before the story's bans on 7 February 2018, so 30 days show the week after
# them too: the migration, auto-watch following it, and the alerts.
DEMO_START = "2018-01-17"
DEMO_SEED = 2018
CRAWL_TIMEOUT = 600  # seconds for one simulated day's crawl; a hung crawl stops the demo
DEMO_PSEUDONYM_KEY = "dfwatch-demo-key-not-secret"  # demo data only: pseudonyms need some key
DAILY_SOURCES: tuple[str, ...] = ("reddit", "x", "github", "discord", "telegram", "mastodon")
# The second phase: the 2024 chapter, as windows of daily crawls (first day, days).
WAVE_WINDOWS: tuple[tuple[str, int], ...] = (("2024-10-08", 6), ("2026-01-06", 10))
WAVE_SOURCES: tuple[str, ...] = ("github", "forgejo", "bluesky", "telegram")
WAVE_REPORT = "report-wave.html"
# Bluesky searches need a login (optional credentials); the simulation accepts any.
WAVE_CREDENTIALS = {
    "BLUESKY_HANDLE": "dfwatch-demo.bsky.social",
    "BLUESKY_APP_PASSWORD": "demo-app-password-not-secret",
}
# Fake credentials for every source that requires some: the simulation accepts any.
DEMO_CREDENTIALS = {
    c.variable: f"demo-{c.variable.lower().replace('_', '-')}"
    for s in declared()
    for c in s.credentials
    if c.required
}
# Real credentials in the caller's environment never reach a demo crawl.
_CREDENTIAL_VARS = frozenset(c.variable for s in declared() for c in s.credentials)
CLI = [sys.executable, "-c", "from crawler.cli import main; main()"]


def demo_world(seed: int = DEMO_SEED, start: str = DEMO_START) -> World:
    """The demo's world: the story plus a few generated communities of each kind."""
    return World(
        seed=seed,
        start_date=start,
        n_subreddits=24,
        n_accounts=10,
        n_queries=6,
        n_repos=14,
        n_invites=5,
        n_channels=5,
        n_hashtags=4,
        n_groups=3,
        n_bots=3,
        n_hf_models=40,
        n_civitai_models=40,
    )


DEMO_DISCOVERY = (
    "# Follow the migration: watch the communities the watched ones link to (docs/discovery.md).\n"
    "[discovery]\nauto_watch = true\nmin_posts = 5\nmin_communities = 2\n\n"
)


def write_config(config_dir: Path, world: World, sim_url: str, db_url: str) -> None:
    """settings.toml, watchlist.yaml and tools.yaml describing the simulated world."""
    config_dir.mkdir(parents=True, exist_ok=True)
    report = config_dir.parent / "report.html"
    (config_dir / "settings.toml").write_text(
        "# Written by `dfwatch demo`: every endpoint is the local simulation.\n"
        f'[database]\nurl = "{db_url}"\n\n'
        '[crawler]\ncontact = "https://github.com/dfwatch/dfwatch (demo)"\nlock_wait_seconds = 5\n'
        "# Every simulated platform, Mastodon instances included, lives on 127.0.0.1.\n"
        "allow_private_hosts = true\n\n"
        "[rate_limits]\nmax_retries = 2\nmax_wait_seconds = 30\nbackoff_seconds = 0.2\ntimeout_seconds = 10\n\n"
        "# The simulation is local and keeps its own rate limits: no need to pace the spiders.\n"
        "[spiders]\ndownload_delay = 0\nautothrottle = false\nconcurrent_per_domain = 4\n\n"
        + DEMO_DISCOVERY
        + "# Alerts go to the demo's local json:// receiver (DFWATCH_ALERT_URLS).\n"
        + f"[alerts]\ngrowth_pct_1d = 35\nreport_path = {json.dumps(str(report))}\n"
    )
    banned_2018 = {"deepfakes", "FakeApp", "GIFFakes", "fakeapprequests"}
    subreddits: list[object] = []
    for e in world.of_kind("reddit", "subreddit"):
        if e.extra.get("unlisted"):
            continue  # left for discovery to find
        entry: dict[str, object] = {"name": e.name}
        if e.name in banned_2018:
            entry.update(content="counts", tags=["banned-2018"])
        subreddits.append(entry if len(entry) > 1 else e.name)
    watchlist: dict[str, object] = {
        "reddit": {"subreddits": subreddits},
        "x": {"accounts": world.names("x", "account"), "queries": world.names("x", "query")},
        "github": {"repos": [_tagged(e) for e in world.of_kind("github", "repo")]},
        "discord": {"invites": world.names("discord", "server")},
        # The 2024 chapter's Telegram communities join in the second phase (write_wave_watchlist).
        "telegram": {
            "channels": _early(world, "channel"),
            "groups": _early(world, "group"),
            "bots": _early(world, "bot"),
        },
        "arctic_shift": {"subreddits": sorted(banned_2018)},
    }
    # An instance may be an http(s) URL, so the simulation stands in for one.
    watchlist["mastodon"] = {
        "hashtags": [{"instance": sim_url, "tag": t} for t in world.names("mastodon", "hashtag")]
    }
    (config_dir / "watchlist.yaml").write_text(
        "# Written by `dfwatch demo` from the simulated world.\n" + yaml.safe_dump(watchlist, sort_keys=False)
    )
    repo_tools = Path(__file__).resolve().parents[2] / "config" / "tools.yaml"
    if repo_tools.exists():
        shutil.copyfile(repo_tools, config_dir / "tools.yaml")
    else:  # an installed package has no config/: name the simulated tools plainly
        tools = [{"name": name, "category": "tool"} for name in TOOL_NAMES]
        (config_dir / "tools.yaml").write_text(yaml.safe_dump({"tools": tools}, sort_keys=False))


def _tagged(e: Entity) -> object:
    """A watchlist entry: the name, with the entity's tags when it has some."""
    tags = e.extra.get("tags")
    return {"name": e.name, "tags": list(tags)} if tags else e.name


def _early(world: World, kind: str) -> list[str]:
    """Telegram names for the first phase's watchlist: all but the 2024 chapter's."""
    wave = {e.name for e in world.of_kind("telegram", kind) if TAG in (e.extra.get("tags") or ())}
    return [n for n in world.names("telegram", kind) if n not in wave]


def write_wave_watchlist(config_dir: Path, world: World, now: datetime) -> None:
    """watchlist.d/wave.yaml: the Forgejo repositories, Bluesky accounts and searches, and the
    chapter's Telegram bot and channels that exist by `now` (a community is added once it
    appears, not watched before it exists; the successor bot is left for discovery)."""
    entries: dict[str, dict[str, list[object]]] = {
        "forgejo": {"repos": [_tagged(e) for e in world.of_kind("forgejo", "repo") if e.created <= now]},
        "bluesky": {
            "accounts": [_tagged(e) for e in world.of_kind("bluesky", "account") if e.created <= now],
            "searches": [_tagged(e) for e in world.of_kind("bluesky", "query")],
        },
        "telegram": {
            kind + "s": [
                _tagged(e)
                for e in world.of_kind("telegram", kind)
                if TAG in (e.extra.get("tags") or ()) and e.created <= now
            ]
            for kind in ("channel", "bot")
        },
    }
    directory = config_dir / "watchlist.d"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "wave.yaml").write_text(
        "# Written by `dfwatch demo` (second phase): what exists by the simulated day.\n"
        + yaml.safe_dump(entries, sort_keys=False)
    )


def crawl_env(sim: Simulation, config_dir: Path, db_url: str, alert_url: str | None = None) -> dict[str, str]:
    """The environment of one crawl: endpoints, demo credentials, the simulated now, alerts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DFWATCH_") and k not in _CREDENTIAL_VARS}
    env.update(sim.endpoint_env())
    env.update(
        DFWATCH_CONFIG=str(config_dir),
        DFWATCH_DATABASE_URL=db_url,
        DFWATCH_NOW=sim.clock.iso(),
        DFWATCH_PSEUDONYM_KEY=DEMO_PSEUDONYM_KEY,
        **DEMO_CREDENTIALS,
        **WAVE_CREDENTIALS,
    )
    if alert_url:
        env["DFWATCH_ALERT_URLS"] = alert_url
    return env


def run_demo(
    days: int = 30,
    out_dir: Path = Path("data/demo"),
    *,
    seed: int = DEMO_SEED,
    on_day: Callable[[int, int, str], None] | None = None,
    wave: bool = True,
    hub_days: int = 42,
    on_alert: Callable[[str, dict[str, Any]], None] | None = None,
) -> Path:
    """Crawl `days` simulated days into out_dir/dfwatch.db and write out_dir/report.html.

    With `wave` (the default) the second phase follows and writes out_dir/report-wave.html.
    Unless `hub_days` is 0, the 2025 chapter (crawler.sim.demo_hubs) runs between the wave's
    October 2024 and January 2026 windows: `hub_days` days of the model hubs from May 2025,
    reported in out_dir/report-2025.html.

    `on_day(day, exit_code, sim_now)` is told after each crawl (for progress display);
    `on_alert(sim_now, message)` gets each alert the local json:// receiver took.
    Raises DfwatchError when a crawl fails outright (exit 1 or 2) or hangs.
    """
    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    db_path = out_dir / "dfwatch.db"
    for stale in (db_path, out_dir / "dfwatch.db-wal", out_dir / "dfwatch.db-shm"):
        stale.unlink(missing_ok=True)  # the demo always starts from an empty database
    db_url = f"sqlite:///{db_path}"
    config_dir = out_dir / "config"
    report_path = out_dir / "report.html"
    with Simulation(demo_world(seed)) as sim, AlertReceiver() as alerts:
        write_config(config_dir, sim.world, sim.url, db_url)
        log.info("demo start sim=%s days=%d from=%s out=%s", sim.url, days, sim.clock.iso(), out_dir)
        for day in range(days):
            started = time.monotonic()
            # Arctic Shift history changes slowly: weekly, as the default schedule has it.
            sources = DAILY_SOURCES + (("arctic_shift",) if day % 7 == 0 else ())
            code = _run(
                [*CLI, "crawl", "--only", ",".join(sources), "--config", str(config_dir)],
                crawl_env(sim, config_dir, db_url, alerts.url),
                f"crawl of simulated {sim.clock.iso()}",
            )
            for message in alerts.take():
                log.info("demo alert sim_now=%s title=%s", sim.clock.iso(), message.get("title"))
                if on_alert is not None:
                    on_alert(sim.clock.iso(), message)
            log.info(
                "demo day=%d sim_now=%s exit=%d seconds=%.1f requests=%d",
                day + 1,
                sim.clock.iso(),
                code,
                time.monotonic() - started,
                sim.stats.count(),
            )
            if code not in (0, 4):  # 4: partial (some targets failed) is part of the story
                raise DfwatchError(f"demo crawl of simulated {sim.clock.iso()} failed with exit code {code}")
            if on_day is not None:
                on_day(day + 1, code, sim.clock.iso())
            if day + 1 < days:
                sim.advance(days=1)
        # The report is read an hour after the last crawl: its clock (DFWATCH_NOW) would otherwise
        # stand before that crawl's observations, which carry the seconds the crawl took.
        sim.advance(hours=1)
        env = crawl_env(sim, config_dir, db_url)
        code = _run(
            [
                *CLI,
                "report",
                "--config",
                str(config_dir),
                "--since",
                f"{days}d",
                "--format",
                "html",
                "--out",
                str(report_path),
            ],
            env,
            "report",
        )
        if code != 0:
            raise DfwatchError(f"demo report failed with exit code {code}")

        def hubs() -> None:
            if hub_days:
                from crawler.sim.demo_hubs import run_hub_chapter

                chapter = run_hub_chapter(
                    sim, config_dir, db_url, out_dir, days=hub_days, run=_run, env_for=crawl_env, cli=CLI
                )
                log.info("demo 2025 chapter report=%s", chapter)

        if wave:
            _wave(sim, config_dir, db_url, out_dir / WAVE_REPORT, days, on_day, between=hubs)
        else:
            hubs()
        log.info("demo done report=%s requests=%d", report_path, sim.stats.count())
    return report_path


def _wave(
    sim: Simulation,
    config_dir: Path,
    db_url: str,
    report_path: Path,
    day: int,
    on_day: Callable[[int, int, str], None] | None,
    between: Callable[[], None] | None = None,
) -> None:
    """The second phase: the 2024 chapter's windows, then its report (see the module docstring).

    `between` runs after the first window (the 2025 model-hub chapter fits in the gap)."""
    first = _noon(WAVE_WINDOWS[0][0])
    for window, (start, n_days) in enumerate(WAVE_WINDOWS):
        if window == 1 and between is not None:
            between()
        jump = (_noon(start) - sim.clock.now()).total_seconds() / 86400
        sim.advance(days=max(0.0, jump))  # a jump of months: every rate-limit window has passed
        for i in range(n_days):
            day += 1
            write_wave_watchlist(config_dir, sim.world, sim.clock.now())
            code = _run(
                [*CLI, "crawl", "--only", ",".join(WAVE_SOURCES), "--config", str(config_dir)],
                crawl_env(sim, config_dir, db_url),
                f"crawl of simulated {sim.clock.iso()}",
            )
            log.info(
                "demo wave day=%d sim_now=%s exit=%d requests=%d",
                day,
                sim.clock.iso(),
                code,
                sim.stats.count(),
            )
            if code not in (0, 4):
                raise DfwatchError(f"demo crawl of simulated {sim.clock.iso()} failed with exit code {code}")
            if on_day is not None:
                on_day(day, code, sim.clock.iso())
            if i + 1 < n_days:
                sim.advance(days=1)
    # The report is read an hour after the last crawl: its clock (DFWATCH_NOW) would otherwise
    # stand before that crawl's observations, which carry the seconds the crawl took.
    sim.advance(hours=1)
    span = (sim.clock.now() - first).days + 1
    code = _run(
        [
            *CLI,
            "report",
            "--config",
            str(config_dir),
            "--since",
            f"{span}d",
            "--tag",
            TAG,
            "--format",
            "html",
            "--out",
            str(report_path),
        ],
        crawl_env(sim, config_dir, db_url),
        "wave report",
    )
    if code != 0:
        raise DfwatchError(f"demo wave report failed with exit code {code}")


def _noon(day: str) -> datetime:
    return datetime.fromisoformat(day + "T12:00:00").replace(tzinfo=UTC)


def _run(argv: list[str], env: dict[str, str], what: str) -> int:
    """Run one dfwatch command to completion; its output goes to our log, not our stdout."""
    try:
        proc = subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=CRAWL_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        raise DfwatchError(f"demo {what} did not finish within {CRAWL_TIMEOUT} s") from None
    for line in (proc.stdout + proc.stderr).splitlines()[-20:] if proc.returncode not in (0, 4) else ():
        log.error("demo %s: %s", what, line)
    return proc.returncode
