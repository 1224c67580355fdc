"""The Forgejo source: its watchlist entries, its pure parser, and the spider through a real
Scrapy crawl against the simulation's Forgejo (crawler/sim/forgejo.py), whose shapes the
answers in tests/data/forgejo/ pin (tests/test_sim_wave.py holds the two against each other)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_twisted
from pydantic import ValidationError
from sqlalchemy import Engine

from crawler.errors import ConfigError
from crawler.plugins.forgejo import ForgejoWatch
from crawler.sim.scenario import set_status, steady
from crawler.sim.server import Simulation
from spiders.parsers.forgejo import error_message, parse_repo, release_downloads, same_origin
from tests.data import body
from tests.test_spiders import LIMITS, Harness

# The repository object of tests/data/forgejo/repo.json, pinned on the simulated one.
RECORDED = {"id": 2208, "forks_count": 97, "watchers_count": 41, "open_issues_count": 12}


def forgejo_config(
    make_config: Any, sim: Simulation, repos: list[Any], env: dict[str, str] | None = None
) -> Any:
    return make_config(
        {"forgejo": {"repos": repos}}, LIMITS, env={"DFWATCH_ENDPOINT_FORGEJO": sim.url, **(env or {})}
    )


def repo(
    sim: Simulation,
    full_name: str,
    *,
    stars: int = 1342,
    releases: list[int] | None = None,
    fields: dict[str, Any] | None = None,
    **extra: Any,
) -> Any:
    """A repository on the simulated instance with the recorded answer's figures."""
    return steady(
        sim.world,
        "forgejo",
        "repo",
        full_name,
        stars,
        fields={**RECORDED, **(fields or {})},
        release_downloads=releases or [],
        **extra,
    )


def host(sim: Simulation) -> str:
    return sim.url.split("://", 1)[1]


def paths(sim: Simulation) -> list[str]:
    return [x.request.path for x in sim.exchanges()]


# --------------------------------------------------------------------------- entries


def test_entries_name_repositories_on_codeberg_and_on_other_instances() -> None:
    watch = ForgejoWatch.model_validate(
        {
            "repos": [
                "swapkit/faceswap-unlocked",
                "git.example.org/tools/deepswap",
                {"instance": "https://Forge.Example.net/", "repo": "a/b.c", "tags": ["fork"]},
            ]
        }
    )
    assert [r.name for r in watch.repos] == [
        "swapkit/faceswap-unlocked",
        "git.example.org/tools/deepswap",
        "forge.example.net/a/b.c",
    ]
    assert watch.repos[2].tags == ("fork",)


def test_codeberg_named_as_an_instance_is_the_default_instance() -> None:
    with pytest.raises(ValidationError, match="listed twice"):
        ForgejoWatch.model_validate(
            {"repos": ["swapkit/x", {"instance": "https://codeberg.org", "repo": "SwapKit/X"}]}
        )


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("not-a-repo", "owner/name"),
        ("owner/..", "owner/name"),
        ({"instance": "https://git.example.org/sub/path", "repo": "a/b"}, "without a path"),
        ({"instance": "127.0.0.1:3000", "repo": "a/b"}, "loopback, private or link-local"),
    ],
)
def test_bad_entries_are_refused_with_a_reason(entry: Any, problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        ForgejoWatch.model_validate({"repos": [entry]}, context={"allow_private_hosts": False})


def test_a_private_instance_is_refused_by_the_loader_unless_allowed(tmp_path: Any) -> None:
    from crawler.config import load_config
    from tests.conftest import write_config

    d = write_config(tmp_path / "c", {"forgejo": {"repos": ["10.0.0.5/a/b"]}})
    (d / "settings.toml").write_text("")  # without allow_private_hosts
    with pytest.raises(ConfigError, match="private"):
        load_config(d, env={"DFWATCH_PSEUDONYM_KEY": "k"})


# --------------------------------------------------------------------------- parser


def test_parser_reads_the_documented_repository_fields() -> None:
    facts = parse_repo(body("forgejo", "repo"))
    assert facts.metrics == {"stars": 1342, "forks": 97, "watchers": 41, "open_issues": 12}
    assert (facts.status, facts.status_reason) == ("active", None)  # archived_at at the epoch: unset
    assert (facts.external_id, facts.releases, facts.has_releases) == ("2208", 3, True)
    assert facts.url == "https://codeberg.org/swapkit/faceswap-unlocked"


def test_parser_reads_archived_with_its_date_and_leaves_absent_fields_absent() -> None:
    answer = dict(body("forgejo", "repo"), archived=True, archived_at="2025-03-01T09:00:00-05:00")
    del answer["watchers_count"]
    facts = parse_repo(answer)
    assert (facts.status, facts.status_reason) == ("archived", "archived by its owner on 2025-03-01")
    assert "watchers" not in facts.metrics
    with pytest.raises(ValueError, match="not an object"):
        parse_repo([answer])


def test_release_pages_sum_every_asset_and_error_words_are_the_instances() -> None:
    release = body("forgejo", "release")
    assert release_downloads([release, release]) == (1624, 2)
    assert release_downloads([]) == (0, 0)
    with pytest.raises(ValueError):
        release_downloads({"message": "no"})
    assert error_message(body("forgejo", "not_found")) == "The target couldn't be found."
    assert error_message(b"") is None
    assert same_origin("https://codeberg.org/a?page=2", "https://Codeberg.org/b")
    assert not same_origin("https://codeberg.org/a", "https://evil.example/a")


# --------------------------------------------------------------------------- spider


@pytest_twisted.ensureDeferred
async def test_repositories_store_metrics_downloads_and_statuses(
    sim: Simulation, make_config: Any, sqlite_engine: Engine
) -> None:
    sim.platform("forgejo").max_items = 2  # the instance's MAX_RESPONSE_ITEMS: 3 releases, 2 pages
    repo(sim, "swapkit/faceswap-unlocked", releases=[10, 20, 5])
    old = repo(sim, "old/tool")
    set_status(sim.world, old, "archived", at=datetime(2025, 3, 1, 8, 0, tzinfo=UTC))
    repo(sim, "quiet/units", fields={"has_releases": False})
    set_status(sim.world, repo(sim, "legal/tool"), "blocked")
    config = forgejo_config(
        make_config,
        sim,
        ["swapkit/faceswap-unlocked", "old/tool", "quiet/units", "legal/tool", "nobody/nothing"],
        env={"FORGEJO_TOKEN": "forgejo-test-token"},
    )
    h = Harness(config, sqlite_engine)
    ctx = h.context("forgejo")
    await h.crawl(ctx)

    assert h.metrics("swapkit/faceswap-unlocked") == {
        "stars": 1342,
        "forks": 97,
        "watchers": 41,
        "open_issues": 12,
        "release_downloads": 35,
    }
    row = h.community("swapkit/faceswap-unlocked")
    assert (row.platform, row.kind, row.status, row.external_id) == ("forgejo", "repo", "active", "2208")
    assert h.community("old/tool").status == "archived"
    assert h.community("old/tool").status_reason == "archived by its owner on 2025-03-01"
    assert h.metrics("old/tool")["release_downloads"] == 0  # release_counter 0: known, not asked
    assert "/api/v1/repos/old/tool/releases" not in paths(sim)
    assert "release_downloads" not in h.metrics("quiet/units")  # the releases unit is off
    withheld = h.community("legal/tool")
    assert (withheld.status, withheld.status_reason) == ("blocked", "HTTP 451: Unavailable For Legal Reasons")
    # Never seen: a 404 is a misspelt entry or a repository not there yet, not a deletion.
    assert h.community("nobody/nothing").status == "unknown"
    assert ctx.stats.failures == [
        f"nobody/nothing: HTTP 404: The target couldn't be found. (never seen on {host(sim)}: check the watchlist entry)"
    ]
    assert {x.request.header("authorization") for x in sim.exchanges()} == {"token forgejo-test-token"}
    assert ctx.stats.requests == len(sim.exchanges()) == 7  # 1 + 2 release pages, then one each


@pytest_twisted.ensureDeferred
async def test_a_repository_gone_after_it_was_seen_is_not_found_with_the_instances_words(
    sim: Simulation, make_config: Any, sqlite_engine: Engine
) -> None:
    mirror = repo(sim, "mirror/deepswap", releases=[4])
    config = forgejo_config(make_config, sim, ["mirror/deepswap"])
    h = Harness(config, sqlite_engine)
    await h.crawl(h.context("forgejo"))
    set_status(sim.world, mirror, "deleted")
    ctx = h.context("forgejo")
    await h.crawl(ctx)

    gone = h.community("mirror/deepswap")
    assert (gone.status, gone.status_reason) == ("not_found", "HTTP 404: The target couldn't be found.")
    changes = h.rows(
        "select old_status, new_status, reason from status_changes s join communities c "
        "on c.id = s.community_id where c.handle = 'mirror/deepswap' order by s.id"
    )
    assert [tuple(r) for r in changes] == [
        (None, "active", None),
        ("active", "not_found", "HTTP 404: The target couldn't be found."),
    ]
    assert ctx.stats.errors == 0
    assert h.metrics("mirror/deepswap")["stars"] == 1342  # the series keeps what it last saw


@pytest_twisted.ensureDeferred
async def test_etags_where_the_instance_sends_them_make_an_unchanged_repository_free(
    sim: Simulation, make_config: Any, sqlite_engine: Engine
) -> None:
    repo(sim, "swapkit/cached", releases=[7], etag=True)  # a caching proxy in front adds ETags
    config = forgejo_config(make_config, sim, ["swapkit/cached"])
    h = Harness(config, sqlite_engine)
    await h.crawl(h.context("forgejo"))
    saved: list[tuple[str, str]] = []
    h.save_state = lambda source, key, value: saved.append((key, value))  # type: ignore[method-assign]
    await h.crawl(h.context("forgejo"))

    first, again = sim.exchanges()[:2], sim.exchanges()[2:]
    etags = [x.headers["ETag"] for x in first]
    assert len(set(etags)) == 2 and all(e.startswith('"') for e in etags)
    assert [x.request.header("if-none-match") for x in again] == etags
    assert [x.status for x in sim.exchanges()] == [200, 200, 304, 304]  # the second crawl was free
    assert saved == []  # nothing changed: no state written
    rows = h.rows(
        "select metric, value from metrics where metric in ('stars', 'release_downloads') order by metric"
    )
    assert [tuple(r) for r in rows] == [
        ("release_downloads", 7),
        ("release_downloads", 7),
        ("stars", 1342),
        ("stars", 1342),
    ]


@pytest_twisted.ensureDeferred
async def test_the_instances_429_retry_after_is_honoured_and_counted(
    sim: Simulation, make_config: Any, sqlite_engine: Engine
) -> None:
    repo(sim, "swapkit/busy")
    # Codeberg's reverse proxy: 429, Retry-After, an empty body (crawler/sim/forgejo.py).
    sim.add_fault(platform="forgejo", endpoint="repo", kind="rate_limit", retry_after=1, times=1)
    config = forgejo_config(make_config, sim, ["swapkit/busy"])
    h = Harness(config, sqlite_engine)
    ctx = h.context("forgejo")
    await h.crawl(ctx)

    calls = sim.exchanges()
    assert [(x.status, x.headers.get("Retry-After"), x.headers.get("Server")) for x in calls] == [
        (429, "1", "Caddy"),
        (200, None, None),
    ]
    assert calls[1].at - calls[0].at >= 1.0
    assert (ctx.stats.requests, ctx.stats.retries, ctx.stats.rate_limited_seconds) == (2, 1, 1.0)
    assert h.metrics("swapkit/busy")["stars"] == 1342


@pytest_twisted.ensureDeferred
async def test_another_instance_gets_no_token_and_a_link_elsewhere_is_not_followed(
    sim: Simulation, make_config: Any, sqlite_engine: Engine
) -> None:
    sim.platform("forgejo").max_items = 1
    repo(sim, "tools/deepswap", releases=[3, 2], links_to="http://169.254.169.254")
    config = forgejo_config(
        make_config,
        sim,
        [{"instance": sim.url, "repo": "tools/deepswap"}],
        env={"FORGEJO_TOKEN": "codeberg-only"},
    )
    (target,) = config.targets("forgejo")
    assert target.key.handle == f"{host(sim)}/tools/deepswap"
    h = Harness(config, sqlite_engine)
    ctx = h.context("forgejo")
    await h.crawl(ctx)

    assert all(x.request.header("authorization") is None for x in sim.exchanges())
    assert h.metrics(f"{host(sim)}/tools/deepswap")["stars"] == 1342
    assert "release_downloads" not in h.metrics(f"{host(sim)}/tools/deepswap")
    assert ctx.stats.failures == [
        f"{host(sim)}/tools/deepswap: releases page 1 links to another site "
        "(http://169.254.169.254/api/v1/repos/tools/deepswap/releases); not followed"
    ]
