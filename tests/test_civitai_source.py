"""The Civitai source end to end: requests against the simulated Civitai API (crawler/sim/civitai.py,
shapes from Civitai's developer docs), through `run_crawl`, into the store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crawler.config import load_config
from crawler.errors import ConfigError
from crawler.run import run_crawl
from crawler.sim import Simulation, World
from crawler.sources.hubs import query_tag
from tests.conftest import Sleeps, write_config
from tests.conftest import config_rows as rows

BEFORE_BAN = datetime(2025, 5, 22, 12, tzinfo=UTC)
AFTER_BAN = datetime(2025, 5, 24, 12, tzinfo=UTC)
LIKENESS = [str(310_001 + i) for i in range(12)]  # taken down on 23 May; 310004 and 310010 deleted
TOOL, ARCHIVED = "300001", "300002"


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulation]:
    with Simulation(World(seed=5, n_civitai_models=700)) as s:
        s.clock.set(BEFORE_BAN)
        monkeypatch.setenv("DFWATCH_NOW", s.clock.iso())
        yield s


@pytest.fixture
def civ_config(make_config: Any, sim: Simulation) -> Any:
    def _make(
        section: dict[str, Any], settings: str = "", env: dict[str, str] | None = None, **kw: Any
    ) -> Any:
        full_env = {"DFWATCH_ENDPOINT_CIVITAI": sim.url, **(env or {})}
        return make_config({"civitai": section}, settings, env=full_env, **kw)

    return _make


def crawl(config: Any, sim: Simulation, monkeypatch: pytest.MonkeyPatch, sleeps: Sleeps | None = None) -> Any:
    monkeypatch.setenv("DFWATCH_NOW", sim.clock.iso())
    return run_crawl(config, only=["civitai"], sleep=sleeps if sleeps is not None else Sleeps())


def status_of(config: Any, handle: str) -> tuple[str, str | None]:
    (row,) = rows(config, "select status, status_reason from communities where handle = :h", h=handle)
    return row[0], row[1]


def metrics_of(config: Any, handle: str) -> dict[str, float]:
    return dict(
        rows(
            config,
            "select m.metric, m.value from metrics m join communities c on c.id = m.community_id "
            "where c.handle = :h",
            h=handle,
        )
    )


def run_source(config: Any) -> Any:
    (row,) = rows(
        config,
        "select status, requests, retries, rate_limited_seconds, error_summary from run_sources "
        "where source = 'civitai' order by run_id desc limit 1",
    )
    return row


# --------------------------------------------------------------------------- models


def test_watched_models_are_asked_for_100_ids_a_request(civ_config, sim, monkeypatch, db_url):
    ids = [str(400_000 + i) for i in range(250)]
    config = civ_config({"models": ids}, db_url=db_url)

    crawl(config, sim, monkeypatch)

    listed = sim.stats.count("civitai", "models")
    singles = sim.stats.count("civitai", "model")
    assert listed == 3  # 100 + 100 + 50 ids
    # Only the models the batches did not show (not yet uploaded, taken down) are asked for alone.
    not_shown = rows(config, "select count(*) from communities where status not in ('active', 'archived')")[
        0
    ][0]
    assert singles == not_shown < 250
    assert run_source(config).requests == listed + singles
    assert rows(config, "select count(*) from metrics where metric = 'downloads_total'")[0][0] > 200


def test_figures_and_statuses_from_mode_and_404(civ_config, sim, monkeypatch):
    sim.clock.set(AFTER_BAN)
    config = civ_config({"models": [TOOL, ARCHIVED, LIKENESS[0], LIKENESS[3], "999999"]})

    result = crawl(config, sim, monkeypatch)

    assert result.status == "ok"
    assert status_of(config, TOOL) == ("active", None)
    assert status_of(config, ARCHIVED) == ("archived", "Archived")
    assert status_of(config, LIKENESS[0]) == ("blocked", "TakenDown")
    assert status_of(config, LIKENESS[3]) == ("not_found", f"No model with id {LIKENESS[3]}")
    assert status_of(config, "999999") == ("not_found", "No model with id 999999")
    assert metrics_of(config, TOOL).keys() == {"downloads_total", "likes", "comments"}
    assert metrics_of(config, LIKENESS[0])["downloads_total"] > 0  # a taken-down model still shows its stats


def test_the_ban_is_one_status_change_per_model_in_civitais_words(civ_config, sim, monkeypatch, db_url):
    config = civ_config({"models": LIKENESS[:3]}, db_url=db_url)
    crawl(config, sim, monkeypatch)
    sim.clock.set(AFTER_BAN)
    crawl(config, sim, monkeypatch)
    sim.advance(days=1)
    crawl(config, sim, monkeypatch)

    changes = rows(
        config,
        "select c.handle, s.old_status, s.new_status, s.reason from status_changes s "
        "join communities c on c.id = s.community_id where s.old_status is not null order by c.handle",
    )
    assert changes == [(h, "active", "blocked", "TakenDown") for h in LIKENESS[:3]]


# --------------------------------------------------------------------------- searches


def test_a_search_includes_nsfw_models_and_pages_by_cursor(civ_config, sim, monkeypatch):
    config = civ_config({"searches": ["likeness"]})

    crawl(config, sim, monkeypatch)

    posts = rows(config, "select external_id, nsfw from posts")
    found = metrics_of(config, "likeness")
    assert found["models"] == len(posts) > 100  # more than one page of 100
    assert sim.stats.count("civitai", "models") == -(-len(posts) // 100)
    assert any(nsfw for _, nsfw in posts)  # nsfw=true was asked for
    assert {ext.split(":")[0] for ext, _ in posts} == {query_tag("likeness")}
    assert found["downloads_total"] > 0


def test_taken_down_models_leave_the_search_and_their_posts_stop_being_seen(civ_config, sim, monkeypatch):
    config = civ_config({"searches": ["portrait"]})  # likeness models and others
    crawl(config, sim, monkeypatch)
    sim.clock.set(AFTER_BAN)
    crawl(config, sim, monkeypatch)

    counts = rows(
        config,
        "select m.value from metrics m join communities c on c.id = m.community_id "
        "where c.handle = 'portrait' and m.metric = 'models' order by m.observed_at",
    )
    before, after = (v for (v,) in counts)
    assert 0 < after < before
    seen = rows(config, "select count(*) from posts group by last_seen_at order by last_seen_at")
    assert [n for (n,) in seen] == [before - after, after]  # the ids gone from the results: not seen again


def test_a_search_stopped_at_max_pages_records_no_counts(civ_config, sim, monkeypatch):
    config = civ_config({"searches": ["likeness"]}, settings="[civitai]\nmax_pages = 1\n")

    result = crawl(config, sim, monkeypatch)

    assert result.status in ("partial", "failed")
    assert rows(config, "select count(*) from posts") == [(100,)]
    assert metrics_of(config, "likeness") == {}
    assert "stopped after max_pages=1" in run_source(config).error_summary


def test_an_entry_can_name_its_own_endpoint(civ_config, sim, monkeypatch, make_config):
    config = make_config(
        {
            "civitai": {
                "models": [{"name": int(TOOL), "endpoint": sim.url}],
                "searches": [{"name": "face swap", "endpoint": sim.url}],
            }
        },
        env={"DFWATCH_ENDPOINT_CIVITAI": "http://127.0.0.1:9"},  # nothing listens there
    )

    result = crawl(config, sim, monkeypatch)

    assert result.status == "ok"
    assert status_of(config, TOOL)[0] == "active"
    host = sim.url.split("://")[1].split(":")[0]
    assert metrics_of(config, f"face swap@{host}")["models"] >= 1


def test_an_entry_naming_a_private_host_is_refused(tmp_path: Path):
    d = write_config(tmp_path / "cfg", {"civitai": {"models": [{"name": 1, "endpoint": "http://10.0.0.5"}]}})
    (d / "settings.toml").write_text("")  # without allow_private_hosts
    with pytest.raises(ConfigError, match="private"):
        load_config(d, env={})


# --------------------------------------------------------------------------- limits and faults


def test_a_429_with_retry_after_is_waited_out_and_counted(civ_config, sim, monkeypatch):
    sim.add_fault(platform="civitai", kind="rate_limit", times=1, retry_after=11)
    config = civ_config({"models": [TOOL]})
    sleeps = Sleeps()

    result = crawl(config, sim, monkeypatch, sleeps)

    assert result.status == "ok"
    assert sleeps == [11.0]
    row = run_source(config)
    assert (row.requests, row.retries, row.rate_limited_seconds) == (2, 1, 11.0)


def test_the_edge_limit_is_met_with_its_retry_after(civ_config, sim, monkeypatch):
    sim.platforms["civitai"].set_limit("edge", 1)
    config = civ_config({"searches": ["likeness"]})
    sleeps = Sleeps()

    crawl(config, sim, monkeypatch, sleeps)

    assert sleeps and all(0 < s <= 60 for s in sleeps)  # Cloudflare's Retry-After, plain-text 429
    assert run_source(config).retries == len(sleeps)


def test_a_malformed_answer_fails_only_its_target(civ_config, sim, monkeypatch):
    sim.add_fault(platform="civitai", kind="malformed", endpoint="models", after=1, times=1)
    config = civ_config({"models": [TOOL], "searches": ["face swap", "portrait"]})

    result = crawl(config, sim, monkeypatch)

    assert result.status == "partial"
    assert status_of(config, TOOL)[0] == "active"
    assert metrics_of(config, "face swap") == {}  # its page was cut in half
    assert metrics_of(config, "portrait")["models"] > 0
    assert "malformed answer" in run_source(config).error_summary


# --------------------------------------------------------------------------- ethics


def test_under_counts_no_name_creator_trigger_word_or_image_url_is_stored(civ_config, sim, monkeypatch):
    config = civ_config({"models": [*LIKENESS[:3], TOOL], "searches": ["likeness"]})

    crawl(config, sim, monkeypatch)

    # Likeness models (nsfw or `poi`) keep no title; the tool model, neither, keeps its name.
    titles = dict(rows(config, "select handle, title from communities where kind = 'model'"))
    assert all(titles[h] is None for h in LIKENESS[:3])
    assert titles[TOOL] == "ReActor faceswap workflow"
    path = Path(config.database_url.removeprefix("sqlite:///"))
    data = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    for text in (b"sim-likeness", b"person", b"simcreator", b"sim-images", b"download/models", b"LoRA"):
        assert text not in data, text


def test_no_file_or_image_is_ever_requested(civ_config, sim, monkeypatch):
    config = civ_config({"models": [TOOL, *LIKENESS], "searches": ["likeness", "face swap"]})

    crawl(config, sim, monkeypatch)

    endpoints = sim.stats.snapshot()["platforms"]["civitai"]["endpoints"]
    assert set(endpoints) <= {"models", "model"}  # never `download` or `image`
    assert sim.stats.count("unknown") == 0
