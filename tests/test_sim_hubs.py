"""The simulated model hubs, spoken to with plain `requests` (never the crawler's own code).

Checked against the documented shapes (see crawler/sim/huggingface.py and civitai.py for where
each comes from) and against huggingface_hub's own readers of them (`parse_ratelimit_headers`,
`hf_raise_for_status`), so a drifting fake would fail here before it fooled a client test.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from crawler.sim import Simulation, World
from crawler.sim.hubs_world import CIVITAI_LIKENESS_BAN

AFTER = datetime(2025, 6, 20, tzinfo=UTC)


def get(url: str, **kwargs: Any) -> requests.Response:
    return requests.get(url, timeout=10, **kwargs)


@pytest.fixture
def sim() -> Iterator[Simulation]:
    with Simulation(World(seed=2, n_hf_models=2100, n_civitai_models=300)) as s:
        s.clock.set(AFTER)
        yield s


def test_hub_model_answers_have_the_recorded_keys_and_expand_trims_them(sim):
    full = get(f"{sim.url}/api/models/sim-lab/inswapper-faceswap").json()
    recorded = {"_id", "author", "createdAt", "disabled", "downloads", "gated", "id", "lastModified", "likes"}
    assert recorded | {"modelId", "private", "sha", "siblings", "spaces", "tags"} <= set(full)
    assert "downloadsAllTime" not in full  # only with expand
    trimmed = get(
        f"{sim.url}/api/models/sim-lab/inswapper-faceswap", params={"expand": ["downloadsAllTime", "likes"]}
    ).json()
    assert set(trimmed) == {"_id", "id", "downloadsAllTime", "likes"}


def test_hub_listings_page_with_link_headers(sim):
    r = get(f"{sim.url}/api/models", params={"expand": ["downloads"]})
    assert len(r.json()) == 1000
    assert r.links["next"]["url"].startswith(sim.url + "/api/models?")
    ids = {m["id"] for m in r.json()}
    while "next" in r.links:
        r = get(r.links["next"]["url"])
        ids |= {m["id"] for m in r.json()}
    assert len(ids) > 1000 and all(set(m) == {"_id", "id", "downloads"} for m in r.json())


def test_hub_errors_read_as_huggingface_hub_reads_them(sim):
    import httpx2
    from huggingface_hub.errors import DisabledRepoError, RepositoryNotFoundError
    from huggingface_hub.utils import hf_raise_for_status

    def raised(path: str) -> type[Exception]:
        with httpx2.Client() as client:
            try:
                hf_raise_for_status(client.get(sim.url + path))
            except Exception as exc:
                return type(exc)
        raise AssertionError("no error")

    assert raised("/api/models/nobody/missing") is RepositoryNotFoundError
    assert raised("/api/models/sim-archive/sim-likeness-01") is DisabledRepoError


def test_hub_rate_limit_headers_parse_with_huggingface_hubs_reader(sim):
    from huggingface_hub.utils import parse_ratelimit_headers

    sim.platforms["huggingface"].set_limit("anonymous", 2)
    answers = [get(f"{sim.url}/api/models/sim-lab/inswapper-faceswap") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    info = parse_ratelimit_headers(answers[-1].headers)
    assert info is not None and (info.remaining, info.limit, info.window_seconds) == (0, 2, 300)


def test_civitai_items_have_the_documented_keys_and_taken_down_ones_no_images(sim):
    item = get(f"{sim.url}/api/v1/models/300001").json()
    assert {
        "id",
        "name",
        "description",
        "type",
        "nsfw",
        "poi",
        "mode",
        "stats",
        "creator",
        "tags",
        "modelVersions",
    } <= set(item)
    assert {"downloadCount", "thumbsUpCount", "commentCount"} <= set(item["stats"])
    down = get(f"{sim.url}/api/v1/models/310001").json()
    assert down["mode"] == "TakenDown" and "images" not in down["modelVersions"][0]
    archived = get(f"{sim.url}/api/v1/models/300002").json()
    assert archived["mode"] == "Archived" and "files" not in archived["modelVersions"][0]
    assert get(f"{sim.url}/api/v1/models/310004").json() == {"error": "No model with id 310004"}


def test_civitai_hides_nsfw_unless_asked_and_pages_by_cursor(sim):
    sfw = get(f"{sim.url}/api/v1/models", params={"query": "portrait", "limit": 100}).json()
    everything = get(
        f"{sim.url}/api/v1/models", params={"query": "portrait", "limit": 100, "nsfw": "true"}
    ).json()
    assert not any(i["nsfw"] for i in sfw["items"])
    assert any(i["nsfw"] for i in everything["items"])
    cursor = everything["metadata"].get("nextCursor")
    if cursor:
        more = get(
            f"{sim.url}/api/v1/models", params={"query": "portrait", "nsfw": "true", "cursor": cursor}
        ).json()
        assert not {i["id"] for i in more["items"]} & {i["id"] for i in everything["items"]}
    assert get(f"{sim.url}/api/v1/models", params={"query": "x", "page": 2}).status_code == 400


def test_civitai_edge_limit_answers_like_cloudflare(sim):
    sim.platforms["civitai"].set_limit("edge", 1)
    get(f"{sim.url}/api/v1/models/300001")
    r = get(f"{sim.url}/api/v1/models/300001")
    assert (r.status_code, r.text) == (429, "error code: 1015") and int(r.headers["Retry-After"]) > 0


def test_the_chapter_copies_appear_on_the_hub_after_the_ban(sim):
    copies = [e for e in sim.world.of_kind("huggingface", "model") if e.extra.get("reupload_of")]
    assert copies and all(e.created > CIVITAI_LIKENESS_BAN for e in copies)
    originals = {e.extra["reupload_of"] for e in copies}
    assert all(sim.world.get(*k.split(":")) is not None for k in originals)
