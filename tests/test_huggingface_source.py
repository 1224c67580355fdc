"""The Hugging Face source end to end: real huggingface_hub against the simulated Hub (crawler/sim),
through `run_crawl`, into the store. The simulated Hub's shapes and where they come from are in
crawler/sim/huggingface.py; tests/test_sim_hubs.py checks them with plain requests."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crawler.run import run_crawl
from crawler.sim import Simulation, World
from crawler.sources.hubs import query_tag
from tests.conftest import Sleeps
from tests.conftest import config_rows as rows

BEFORE_DISABLE = datetime(2025, 6, 10, 12, tzinfo=UTC)  # sim-archive/sim-likeness-01 is up
AFTER_DISABLE = datetime(2025, 6, 13, 12, tzinfo=UTC)  # ... and disabled by the Hub since 12 June
ARCHIVE = [f"sim-archive/sim-likeness-{i:02d}" for i in (1, 2, 3)]  # nsfw: 02, 03
LAB = ["sim-lab/inswapper-faceswap", "sim-lab/reactor-faceswap-gated"]


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulation]:
    with Simulation(World(seed=5, n_hf_models=60)) as s:
        s.clock.set(BEFORE_DISABLE)
        monkeypatch.setenv("DFWATCH_NOW", s.clock.iso())
        yield s


@pytest.fixture
def hf_config(make_config: Any, sim: Simulation) -> Any:
    def _make(
        section: dict[str, Any], settings: str = "", env: dict[str, str] | None = None, **kw: Any
    ) -> Any:
        full_env = {"DFWATCH_ENDPOINT_HUGGINGFACE": sim.url, **(env or {})}
        return make_config({"huggingface": section}, settings, env=full_env, **kw)

    return _make


def crawl(config: Any, sim: Simulation, monkeypatch: pytest.MonkeyPatch, sleeps: Sleeps | None = None) -> Any:
    monkeypatch.setenv("DFWATCH_NOW", sim.clock.iso())
    return run_crawl(config, only=["huggingface"], sleep=sleeps if sleeps is not None else Sleeps())


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
        "where source = 'huggingface' order by run_id desc limit 1",
    )
    return row


def database_bytes(config: Any) -> bytes:
    path = Path(config.database_url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


# --------------------------------------------------------------------------- figures and batching


def test_models_spaces_authors_and_searches_are_stored_with_their_figures(
    hf_config, sim, monkeypatch, db_url
):
    config = hf_config(
        {
            "models": [*ARCHIVE, *LAB, "nobody/missing"],
            "spaces": ["sim-lab/faceswap-demo"],
            "authors": ["sim-lab"],
            "searches": ["likeness"],
        },
        db_url=db_url,
    )

    result = crawl(config, sim, monkeypatch)

    assert result.status == "ok"
    assert status_of(config, "sim-lab/inswapper-faceswap") == ("active", None)
    assert status_of(config, "sim-lab/reactor-faceswap-gated") == ("active", "gated: manual")  # gating kept
    assert status_of(config, "nobody/missing") == ("not_found", "Repository not found")
    lab = metrics_of(config, "sim-lab/inswapper-faceswap")
    assert set(lab) == {"downloads", "downloads_total", "likes"}
    assert 0 < lab["downloads"] < lab["downloads_total"]  # 30 days against all time
    assert metrics_of(config, "sim-lab/faceswap-demo").keys() == {"likes"}
    author = metrics_of(config, "sim-lab")
    assert (author["models"], author["spaces"]) == (2.0, 1.0)
    assert author["downloads_total"] == sum(metrics_of(config, h)["downloads_total"] for h in LAB)
    search = metrics_of(config, "likeness")
    found = rows(
        config,
        "select p.external_id from posts p join communities c on c.id = p.community_id where c.handle = 'likeness'",
    )
    assert search["models"] == len(found) > 0
    assert all(ext.startswith(query_tag("likeness") + ":") for (ext,) in found)


def test_an_owners_models_come_from_one_listing_and_only_the_missing_ones_cost_a_call(
    hf_config, sim, monkeypatch
):
    sim.clock.set(AFTER_DISABLE)  # sim-likeness-01 is disabled: not listed, so asked for
    config = hf_config({"models": ARCHIVE})

    crawl(config, sim, monkeypatch)

    assert sim.stats.count("huggingface", "models") == 1  # the owner's listing, one page
    assert sim.stats.count("huggingface", "model") == 1  # the disabled one, asked for alone
    assert run_source(config).requests == 2
    assert status_of(config, ARCHIVE[0]) == ("blocked", "Access to this resource is disabled.")
    assert status_of(config, ARCHIVE[1])[0] == "active"


def test_a_single_model_of_an_owner_is_asked_for_directly(hf_config, sim, monkeypatch):
    config = hf_config({"models": [ARCHIVE[1]]})

    crawl(config, sim, monkeypatch)

    assert sim.stats.snapshot()["platforms"]["huggingface"]["endpoints"] == {"model": 1}


def test_a_search_stopped_at_max_pages_keeps_its_ids_but_records_no_counts(hf_config, sim, monkeypatch):
    from crawler.sim import huggingface as hub

    monkeypatch.setattr(hub, "PAGE", 3)  # three models a page: "likeness" needs several pages
    config = hf_config({"searches": ["likeness"]}, settings="[huggingface]\nmax_pages = 2\n")

    result = crawl(config, sim, monkeypatch)

    assert sim.stats.count("huggingface", "models") == 2  # the page past the bound is never sent
    assert result.status == "failed" or result.status == "partial"
    assert rows(config, "select count(*) from posts") == [(6,)]
    assert metrics_of(config, "likeness") == {}  # a lower bound is not a total
    assert "stopped after max_pages=2" in run_source(config).error_summary


# --------------------------------------------------------------------------- statuses


def test_a_takedown_is_one_status_change_in_the_hubs_words(hf_config, sim, monkeypatch, db_url):
    config = hf_config({"models": [ARCHIVE[0]]}, db_url=db_url)
    crawl(config, sim, monkeypatch)
    sim.clock.set(AFTER_DISABLE)
    crawl(config, sim, monkeypatch)
    sim.advance(days=1)
    crawl(config, sim, monkeypatch)

    changes = rows(
        config,
        "select s.old_status, s.new_status, s.reason from status_changes s "
        "join communities c on c.id = s.community_id order by s.observed_at",
    )
    assert changes == [(None, "active", None), ("active", "blocked", "Access to this resource is disabled.")]


# --------------------------------------------------------------------------- rate limits and faults


def test_a_429_is_waited_out_for_the_announced_reset_and_counted(hf_config, sim, monkeypatch):
    sim.add_fault(platform="huggingface", kind="rate_limit", times=1, retry_after=7)
    config = hf_config({"models": [LAB[0]]})
    sleeps = Sleeps()

    result = crawl(config, sim, monkeypatch, sleeps)

    assert result.status == "ok"
    assert sleeps == [7.0]  # `RateLimit: "api";r=0;t=7`, not huggingface_hub's own sleep
    row = run_source(config)
    assert (row.requests, row.retries, row.rate_limited_seconds) == (2, 1, 7.0)
    assert status_of(config, LAB[0])[0] == "active"


def test_the_crawl_waits_for_the_window_when_the_budget_runs_low(hf_config, sim, monkeypatch):
    sim.platforms["huggingface"].set_limit("anonymous", 4)
    config = hf_config({"models": [*LAB, ARCHIVE[1], "nobody/missing"]})
    sleeps = Sleeps()

    result = crawl(config, sim, monkeypatch, sleeps)

    assert result.status == "ok"
    assert len(sleeps) == 1 and 0 < sleeps[0] <= 300  # waited for the reset the header announced
    assert sim.stats.status_count("huggingface", 429) == 0  # never ran into the limit


def test_the_token_is_sent_and_buys_the_larger_budget(hf_config, sim, monkeypatch):
    config = hf_config({"models": [LAB[0]]}, env={"HF_TOKEN": "hf_simtoken"})

    crawl(config, sim, monkeypatch)

    assert sim.platforms["huggingface"].limiter("token").peek("hf_simtoken").used == 1
    assert sim.platforms["huggingface"].limiter("anonymous").peek("127.0.0.1").used == 0


def test_a_token_in_the_process_environment_is_not_used_unless_configured(hf_config, sim, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_operators_own")  # huggingface_hub would read it itself
    config = hf_config({"models": [LAB[0]]})  # the config's environment has none

    crawl(config, sim, monkeypatch)

    assert sim.platforms["huggingface"].limiter("token").peek("hf_operators_own").used == 0


def test_a_takedown_scripted_for_a_given_day_is_seen_that_day(hf_config, sim, monkeypatch):
    from crawler.sim.hubs_world import take_down

    take_down(sim.world, "huggingface", LAB[0], BEFORE_DISABLE + timedelta(hours=5))
    config = hf_config({"models": [LAB[0]]})
    crawl(config, sim, monkeypatch)
    sim.advance(days=1)
    crawl(config, sim, monkeypatch)

    assert status_of(config, LAB[0]) == ("blocked", "Access to this resource is disabled.")


def test_a_malformed_answer_fails_only_its_target(hf_config, sim, monkeypatch):
    sim.add_fault(platform="huggingface", kind="malformed", endpoint="model", times=1)
    config = hf_config({"models": [LAB[0], ARCHIVE[1]], "searches": ["faceswap"]})

    result = crawl(config, sim, monkeypatch)

    assert result.status == "partial"
    assert status_of(config, LAB[0])[0] == "unknown"  # the first model answer was cut in half
    assert status_of(config, ARCHIVE[1])[0] == "active"
    assert metrics_of(config, "faceswap")["models"] > 0
    assert "malformed answer" in run_source(config).error_summary


def test_a_server_error_is_retried_with_backoff(hf_config, sim, monkeypatch):
    sim.add_fault(platform="huggingface", kind="server_error", times=2)
    config = hf_config({"models": [LAB[0]]}, settings="[rate_limits]\nbackoff_seconds = 1\n")
    sleeps = Sleeps()

    crawl(config, sim, monkeypatch, sleeps)

    assert sleeps == [1.0, 2.0]
    assert run_source(config).rate_limited_seconds == 0.0
    assert status_of(config, LAB[0])[0] == "active"


# --------------------------------------------------------------------------- ethics


def test_under_counts_no_name_of_a_found_model_reaches_the_database(hf_config, sim, monkeypatch):
    sim.clock.set(AFTER_DISABLE)
    config = hf_config(
        {"authors": ["sim-archive"], "searches": ["likeness"], "models": [{"name": ARCHIVE[1], "nsfw": True}]}
    )

    crawl(config, sim, monkeypatch)

    assert rows(config, "select title, url from communities where handle = :h", h=ARCHIVE[1]) == [
        (None, None)
    ]
    assert rows(config, "select count(*) from posts where title is not null or url is not null") == [(0,)]
    data = database_bytes(config)
    assert rows(config, "select count(*) from posts") != [(0,)]
    for text in (b"sim-likeness-05", b"person", b"safetensors", b"instance_prompt"):
        assert text not in data, text  # found models' names, trigger words, files, card texts


def test_a_model_the_hub_marks_not_for_all_audiences_falls_under_counts(hf_config, sim, monkeypatch):
    config = hf_config({"models": [ARCHIVE[1], LAB[0]]})  # the watchlist says nothing about nsfw

    crawl(config, sim, monkeypatch)

    assert rows(config, "select title from communities where handle = :h", h=ARCHIVE[1]) == [(None,)]
    assert rows(config, "select title from communities where handle = :h", h=LAB[0]) == [(LAB[0],)]


def test_no_file_telemetry_or_other_host_is_ever_requested(hf_config, sim, monkeypatch):
    config = hf_config(
        {"models": [*ARCHIVE, *LAB], "spaces": ["sim-lab/faceswap-demo"], "searches": ["faceswap"]}
    )

    crawl(config, sim, monkeypatch)

    endpoints = sim.stats.snapshot()["platforms"]["huggingface"]["endpoints"]
    assert set(endpoints) <= {"model", "models", "space", "spaces"}
    assert sim.stats.count("unknown") == 0
    assert sum(endpoints.values()) == run_source(config).requests  # every request counted, none elsewhere


def test_the_transport_refuses_urls_outside_the_hub_api(make_config, sim):
    import httpx2

    from crawler.sources.base import SourceContext
    from crawler.sources.huggingface_client import HubTransport, RequestRefused

    config = make_config({}, env={"DFWATCH_ENDPOINT_HUGGINGFACE": sim.url})
    transport = HubTransport(SourceContext("huggingface", config, lambda r: None), sim.url, 5)
    for url in (
        f"{sim.url}/sim-lab/inswapper-faceswap/resolve/main/model.safetensors",
        "https://huggingface.co/api/agent-harnesses",
        "https://example.org/api/models",
    ):
        with pytest.raises(RequestRefused):
            transport.checked(httpx2.URL(url))
    # The Hub's own absolute links are rewritten to the configured endpoint.
    assert str(transport.checked(httpx2.URL("https://huggingface.co/api/models?cursor=x"))).startswith(
        sim.url
    )


def test_importing_the_client_reaches_no_network_and_disables_telemetry(tmp_path):
    guard = tmp_path / "sitecustomize.py"
    guard.write_text(
        "import socket\n"
        "def _refuse(*a, **k):\n    raise SystemExit('network used at import: %r' % (a,))\n"
        "socket.socket.connect = _refuse\nsocket.create_connection = _refuse\n"
    )
    code = (
        "import crawler.sources.huggingface as m, huggingface_hub.constants as c;"
        "assert c.HF_HUB_DISABLE_TELEMETRY, 'telemetry on'; print('ok')"
    )
    env = {"PYTHONPATH": f"{tmp_path}:{Path(__file__).resolve().parents[1]}", "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok"
