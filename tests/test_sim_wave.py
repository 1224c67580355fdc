"""The simulated Forgejo and Bluesky, and the story's 2024 chapter, spoken to with plain
`requests` (never the crawler's code); then the crawler's real clients against them, and the
report they feed."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from crawler.sim import Simulation
from crawler.sim.chapter_2024 import TAG
from tests.data import body as recorded

ROOT = Path(__file__).resolve().parents[1]


def get(url: str, **kwargs: Any) -> requests.Response:
    return requests.get(url, timeout=10, **kwargs)


def at(sim: Simulation, day: str, hour: int = 12) -> None:
    sim.clock.set(datetime.fromisoformat(f"{day}T{hour:02d}:00:00").replace(tzinfo=UTC))


@pytest.fixture
def sim() -> Iterator[Simulation]:
    with Simulation(seed=5, n_forgejo_repos=3, n_bluesky_accounts=4) as s:
        yield s


# --------------------------------------------------------------------------- Forgejo


def test_forgejo_answers_in_forgejos_shape_without_etags(sim: Simulation) -> None:
    at(sim, "2025-06-01")
    r = get(f"{sim.url}/api/v1/repos/sim-forks/faceswap-unlocked")
    assert r.status_code == 200 and "etag" not in r.headers
    assert r.headers["cache-control"] == "max-age=0, private, must-revalidate, no-transform"
    body = r.json()
    assert set(body) == set(recorded("forgejo", "repo"))  # the live answer's fields, no more, no fewer
    assert body["original_url"] == "https://github.com/sim-forks/faceswap-unlocked"
    listed = get(f"{sim.url}/api/v1/repos/sim-forks/faceswap-unlocked/releases", params={"limit": 50})
    assert body["release_counter"] == int(listed.headers["x-total-count"])
    missing = get(f"{sim.url}/api/v1/repos/nobody/nothing")
    assert (missing.status_code, missing.json()) == (404, recorded("forgejo", "not_found"))


def test_forgejo_releases_page_with_absolute_links_and_a_capped_limit(sim: Simulation) -> None:
    at(sim, "2026-01-15")
    name = sim.world.names("forgejo", "repo")[-1]
    first = get(f"{sim.url}/api/v1/repos/{name}/releases", params={"limit": 500, "page": 1})
    total = int(first.headers["x-total-count"])
    assert len(first.json()) == min(total, 50)
    release = first.json()[0]
    assert set(release) == set(recorded("forgejo", "release")) and set(release["assets"][0]) == set(
        recorded("forgejo", "release")["assets"][0]
    )
    if total > 50:
        assert (
            f'<{sim.url}/api/v1/repos/{name}/releases?limit=50&page=2>; rel="next"' in first.headers["link"]
        )


def test_the_codeberg_proxy_answers_429_with_retry_after_and_no_body(sim: Simulation) -> None:
    sim.platforms["forgejo"].set_limit("ip", 1)
    assert get(f"{sim.url}/api/v1/repos/sim-forks/faceswap-unlocked").status_code in (200, 404)
    limited = get(f"{sim.url}/api/v1/repos/sim-forks/faceswap-unlocked")
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0 and limited.content == b""


def test_the_chapter_disables_the_github_fork_and_its_copy_appears_on_codeberg(sim: Simulation) -> None:
    gh, cb = "/repos/sim-forks/faceswap-unlocked", "/api/v1/repos/sim-forks/faceswap-unlocked"
    at(sim, "2024-10-09")
    assert get(sim.url + gh).status_code == 200 and get(sim.url + cb).status_code == 404
    at(sim, "2024-10-10", 10)
    blocked = get(sim.url + gh)
    assert blocked.status_code == 451 and blocked.json()["block"]["reason"] == "dmca"
    at(sim, "2024-10-12")
    assert get(sim.url + cb).json()["stars_count"] >= 40
    at(sim, "2026-01-13")
    assert (
        get(f"{sim.url}/api/v1/repos/sim-mirror/deepswap-mirror").status_code == 404
    )  # removed on 12 January


# --------------------------------------------------------------------------- Bluesky


def xrpc(sim: Simulation, nsid: str) -> str:
    return f"{sim.url}/xrpc/{nsid}"


def test_bluesky_profiles_in_the_appviews_shape_and_batch_limit(sim: Simulation) -> None:
    at(sim, "2026-01-10")
    names = sim.world.names("bluesky", "account")
    r = get(xrpc(sim, "app.bsky.actor.getProfiles"), params={"actors": names})
    assert r.status_code == 200 and r.headers["ratelimit-policy"] == "3000;w=300"
    profiles = r.json()["profiles"]
    assert {p["handle"] for p in profiles} <= {n.lower() for n in names}
    assert set(profiles[0]) <= set(recorded("bluesky", "profiles")["profiles"][0]) | {"description", "avatar"}
    too_many = get(
        xrpc(sim, "app.bsky.actor.getProfiles"), params={"actors": [f"a{i}.bsky.social" for i in range(26)]}
    )
    assert too_many.status_code == 400 and too_many.json()["error"] == "InvalidRequest"


def test_the_promotion_account_is_taken_down_and_the_news_account_grows_after_january_2026(
    sim: Simulation,
) -> None:
    def followers(handle: str) -> int:
        return int(
            get(xrpc(sim, "app.bsky.actor.getProfile"), params={"actor": handle}).json()["followersCount"]
        )

    at(sim, "2025-12-20")
    before = followers("faceswap-news.bsky.social")
    at(sim, "2026-01-13")
    promo = followers("swapbot-promo.bsky.social")
    at(sim, "2026-01-25")
    assert followers("faceswap-news.bsky.social") > 5 * before  # the audience leaving X arrives
    gone = get(xrpc(sim, "app.bsky.actor.getProfile"), params={"actor": "swapbot-promo.bsky.social"})
    assert (gone.status_code, gone.json()) == (400, recorded("bluesky", "errors")["takedown"])
    shown = get(xrpc(sim, "app.bsky.actor.getProfiles"), params={"actors": ["swapbot-promo.bsky.social"]})
    assert shown.json() == {"profiles": []} and promo > 0
    unknown = get(xrpc(sim, "app.bsky.actor.getProfile"), params={"actor": "nobody.bsky.social"})
    assert unknown.json() == recorded("bluesky", "errors")["not_found"]


def test_bluesky_search_needs_a_session_and_its_posts_can_be_looked_up_again(sim: Simulation) -> None:
    at(sim, "2026-01-15")
    search = xrpc(sim, "app.bsky.feed.searchPosts")
    assert get(search, params={"q": "deepfake"}).json() == recorded("bluesky", "errors")["auth_missing"]
    session = requests.post(
        xrpc(sim, "com.atproto.server.createSession"),
        json={"identifier": "me.bsky.social", "password": "p"},
        timeout=10,
    ).json()
    assert set(session) >= {"accessJwt", "refreshJwt", "did", "handle", "didDoc"}
    claims = json.loads(base64.urlsafe_b64decode(session["accessJwt"].split(".")[1] + "=="))
    assert claims["exp"] > claims["iat"]
    auth = {"Authorization": f"Bearer {session['accessJwt']}"}
    page = get(
        search, params={"q": "deepfake", "limit": 100, "since": "2026-01-14T00:00:00Z"}, headers=auth
    ).json()
    posts = page["posts"]
    assert posts and all(p["indexedAt"] >= "2026-01-14" for p in posts)
    assert set(posts[0]) <= set(recorded("bluesky", "posts")["posts"][1]) | {"quoteCount"}
    assert posts == sorted(posts, key=lambda p: p["indexedAt"], reverse=True)
    if page["hitsTotal"] > 100:
        assert page["cursor"] == "100"
    uris = [p["uri"] for p in posts[:25]]
    again = get(xrpc(sim, "app.bsky.feed.getPosts"), params={"uris": uris}).json()["posts"]
    assert [p["uri"] for p in again] == uris  # the ids are the world's: any post can be found again


def test_bluesky_wrong_password_when_logins_are_set(sim: Simulation) -> None:
    sim.platforms["bluesky"].logins = {"me.bsky.social": "right"}  # type: ignore[attr-defined]
    r = requests.post(
        xrpc(sim, "com.atproto.server.createSession"),
        json={"identifier": "me.bsky.social", "password": "wrong"},
        timeout=10,
    )
    assert (r.status_code, r.json()) == (401, recorded("bluesky", "errors")["bad_password"])


# --------------------------------------------------------------------------- the crawler against the simulation


@pytest.mark.slow
def test_crawls_of_the_chapter_feed_the_growth_table_and_the_status_timeline(
    sim: Simulation, tmp_path: Path
) -> None:
    """Real clients (Scrapy, atproto) in `dfwatch crawl` subprocesses against the simulation,
    eight days apart around the mirror's removal and the promotion account's takedown; then
    the report's JSON for the chapter's tag."""
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "settings.toml").write_text(
        "[crawler]\nallow_private_hosts = true\n[rate_limits]\nmax_retries = 1\nbackoff_seconds = 0\n"
        "[spiders]\ndownload_delay = 0\nautothrottle = false\n"
    )
    tagged = {"tags": [TAG]}
    watchlist = {
        "forgejo": {
            "repos": [
                {"repo": "sim-forks/faceswap-unlocked", **tagged},
                {"repo": "sim-mirror/deepswap-mirror", **tagged},
            ]
        },
        "bluesky": {
            "accounts": [
                {"name": "faceswap-news.bsky.social", **tagged},
                {"name": "swapbot-promo.bsky.social", **tagged},
            ],
            "searches": [{"name": "deepfake", **tagged}],
        },
        "github": {"repos": [{"name": "sim-forks/faceswap-unlocked", **tagged}]},
    }
    (config_dir / "watchlist.yaml").write_text(yaml.safe_dump(watchlist))
    (config_dir / "tools.yaml").write_text((ROOT / "config" / "tools.yaml").read_text())
    db = tmp_path / "wave.db"
    base_env = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith("DFWATCH_") and not k.startswith("BLUESKY_")
        },
        **sim.endpoint_env(),
        "DFWATCH_DATABASE_URL": f"sqlite:///{db}",
        "DFWATCH_PSEUDONYM_KEY": "test-key-not-secret",
        "BLUESKY_HANDLE": "dfwatch-test.bsky.social",
        "BLUESKY_APP_PASSWORD": "sim-app-password",
    }
    cli = [sys.executable, "-c", "from crawler.cli import main; main()"]

    def crawl(day: str) -> None:
        at(sim, day)
        env = {**base_env, "DFWATCH_NOW": sim.clock.iso()}
        proc = subprocess.run(
            [*cli, "crawl", "--only", "github,forgejo,bluesky", "--config", str(config_dir)],
            env=env, capture_output=True, text=True, timeout=300, cwd=ROOT, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]

    crawl("2026-01-07")
    crawl("2026-01-15")
    sim.advance(hours=1)  # the report's now after the crawl's last observation
    proc = subprocess.run(
        [*cli, "report", "--config", str(config_dir), "--since", "30d", "--tag", TAG, "--format", "json"],
        env={**base_env, "DFWATCH_NOW": sim.clock.iso()}, capture_output=True, text=True, timeout=120, cwd=ROOT, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    rows = {(c["platform"], c["handle"]): c for c in report["communities"]}
    assert set(rows) == {
        ("forgejo", "sim-forks/faceswap-unlocked"),
        ("forgejo", "sim-mirror/deepswap-mirror"),
        ("bluesky", "faceswap-news.bsky.social"),
        ("bluesky", "swapbot-promo.bsky.social"),
        ("bluesky", "deepfake"),
        ("github", "sim-forks/faceswap-unlocked"),
    }
    news = rows[("bluesky", "faceswap-news.bsky.social")]
    assert news["status"] == "active" and news["delta_7d"] and news["delta_7d"] > 0  # growing in January 2026
    assert rows[("bluesky", "deepfake")]["posts_7d"] > 0
    timeline = {(c["platform"], c["handle"], c["new_status"]): c["reason"] for c in report["status_changes"]}
    assert (
        timeline[("forgejo", "sim-mirror/deepswap-mirror", "not_found")]
        == "HTTP 404: The target couldn't be found."
    )
    assert (
        timeline[("bluesky", "swapbot-promo.bsky.social", "suspended")]
        == "AccountTakedown: Account has been suspended"
    )
    assert ("github", "sim-forks/faceswap-unlocked", "blocked") in timeline


# --------------------------------------------------------------------------- forums


def test_forum_pages_have_the_shapes_the_parsers_are_tested_against(sim: Simulation) -> None:
    from parsel import Selector

    from crawler.sim.scenario import set_status, steady

    steady(sim.world, "forums", "forum", "board", 500, title="Sim Board", engine="phpbb")
    steady(sim.world, "forums", "forum", "site", 900, engine="discourse")
    steady(sim.world, "forums", "forum", "old", 90, engine="discourse", old_counters=True)
    page = Selector(text=get(f"{sim.url}/forums/board").text)
    shape = Selector(text=(ROOT / "tests" / "fakes" / "data" / "web" / "phpbb_index.html").read_text())
    for css in ("title::text", ".stat-block.online-list p strong", ".stat-block.statistics p strong"):
        assert page.css(css) and shape.css(css), css  # the blocks the parser reads, on both
    assert page.css("title::text").get() == "Sim Board - Index page"
    assert "Total members <strong>500</strong>" in page.get()
    about = recorded_web("discourse_about.json")["about"]
    site = get(f"{sim.url}/forums/site/about.json").json()["about"]
    assert set(site) == set(about) and set(site["stats"]) <= set(about["stats"])
    old = get(f"{sim.url}/forums/old/about.json").json()["about"]["stats"]
    assert {"user_count", "post_count", "topic_count"} <= set(old) and old["user_count"] == 90
    assert get(f"{sim.url}/forums/site").status_code == 404  # a Discourse site has no phpBB index
    set_status(sim.world, sim.world.get("forums", "forum", "board"), "suspended")
    assert "This board is currently disabled." in get(f"{sim.url}/forums/board").text


def recorded_web(name: str) -> Any:
    import json

    data = json.loads((ROOT / "tests" / "fakes" / "data" / "web" / name).read_text())
    return data.get("body", data)
