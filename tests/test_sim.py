"""The simulated platforms, spoken to with plain `requests` (never the crawler's own code).

Shapes are checked against the recorded real answers in ../shared/fixtures/recorded/, so a
simulation that drifted from the platforms would fail here before it fooled a client test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from crawler.sim import SIM_NOW_HEADER, Simulation, World
from tests.conftest import recorded_response

# Fields the simulation sends that the (older) recordings predate; each is a documented field.
REDDIT_POST_ADDED = {"subreddit_subscribers", "removed_by_category", "subreddit_name_prefixed"}


def get(url: str, **kwargs: Any) -> requests.Response:
    return requests.get(url, timeout=kwargs.pop("timeout", 10), **kwargs)


def post(url: str, **kwargs: Any) -> requests.Response:
    return requests.post(url, timeout=kwargs.pop("timeout", 10), **kwargs)


def delete(url: str, **kwargs: Any) -> requests.Response:
    return requests.delete(url, timeout=kwargs.pop("timeout", 10), **kwargs)


def recorded(name: str) -> Any:
    return recorded_response(name)["body"]


@pytest.fixture
def sim() -> Iterator[Simulation]:
    with Simulation(seed=3, n_subreddits=12, n_accounts=6, n_repos=12) as s:
        yield s


def reddit_session(sim: Simulation) -> requests.Session:
    s = requests.Session()
    r = s.post(
        f"{sim.url}/api/v1/access_token", auth=("client", "secret"), data={"grant_type": "client_credentials"}
    )
    assert r.status_code == 200
    s.headers["Authorization"] = f"bearer {r.json()['access_token']}"
    return s


def x_session() -> requests.Session:
    s = requests.Session()
    s.headers["Authorization"] = "Bearer sim-token"
    return s


def days_until(sim: Simulation, iso: str) -> None:
    """Move the simulated clock to noon of the given date."""
    from datetime import UTC, datetime

    sim.clock.set(datetime.fromisoformat(iso + "T12:00:00").replace(tzinfo=UTC))


# -- Reddit ------------------------------------------------------------------------------
def test_reddit_token_grant_has_the_recorded_shape(sim: Simulation) -> None:
    r = post(
        f"{sim.url}/api/v1/access_token", auth=("client", "secret"), data={"grant_type": "client_credentials"}
    )
    assert set(r.json()) == set(recorded("reddit/oauth_token.json"))
    assert get(f"{sim.url}/api/info/?sr_name=deepfakes").status_code == 401


def test_reddit_subreddit_and_post_keys_come_from_the_recordings(sim: Simulation) -> None:
    s = reddit_session(sim)
    about = s.get(f"{sim.url}/r/deepfakes/about/", params={"raw_json": 1}).json()
    known_t5 = set(recorded("reddit/info_by_sr_name.json")["data"]["children"][0]["data"])
    known_t5 |= set(recorded("reddit/subreddit_about_public.json")["data"])
    assert about["kind"] == "t5"
    assert set(about["data"]) <= known_t5
    assert "active_user_count" not in about["data"]  # removed from the API in 2025
    listing = s.get(f"{sim.url}/r/deepfakes/new", params={"limit": 100}).json()
    known_t3 = (
        set(recorded("reddit/subreddit_new_page.json")["data"]["children"][0]["data"]) | REDDIT_POST_ADDED
    )
    assert set(listing) == set(recorded("reddit/subreddit_new_page.json"))
    assert set(listing["data"]) >= {"after", "before", "children", "modhash"}
    post = listing["data"]["children"][0]
    assert post["kind"] == "t3" and set(post["data"]) <= known_t3
    assert post["data"]["subreddit_subscribers"] == about["data"]["subscribers"]


def test_reddit_info_by_name_leaves_out_banned_and_unknown(sim: Simulation) -> None:
    days_until(sim, "2018-02-08")
    s = reddit_session(sim)
    r = s.get(f"{sim.url}/api/info/", params={"sr_name": "deepfakes,SFWdeepfakes,no_such_sub,faceswap"})
    names = [c["data"]["display_name"] for c in r.json()["data"]["children"]]
    assert names == ["SFWdeepfakes", "faceswap"]
    assert (
        s.get(f"{sim.url}/api/info/", params={"sr_name": ",".join(f"s{i}" for i in range(101))}).status_code
        == 400
    )


def test_reddit_about_answers_each_status_as_reddit_does(sim: Simulation) -> None:
    days_until(sim, "2018-02-10")
    s = reddit_session(sim)
    banned = s.get(f"{sim.url}/r/deepfakes/about")
    assert (banned.status_code, banned.json()) == (
        404,
        {"reason": "banned", "message": "Not Found", "error": 404},
    )
    private = s.get(f"{sim.url}/r/deepfakeshelp/about")
    assert private.status_code == 403 and private.json()["reason"] == "private"
    unknown = s.get(f"{sim.url}/r/no_such_sub/about", allow_redirects=False)
    assert unknown.status_code == 302 and "/subreddits/search?q=no_such_sub" in unknown.headers["Location"]
    with Simulation(seed=3, start_date="2018-02-03") as other:
        q = reddit_session(other).get(f"{other.url}/r/fakeapprequests/about")
        assert q.status_code == 403 and q.json()["reason"] == "quarantined" and q.json()["quarantine_message"]


def test_reddit_listing_is_newest_first_and_pages_without_overlap(sim: Simulation) -> None:
    days_until(sim, "2018-01-30")
    s = reddit_session(sim)
    first = s.get(f"{sim.url}/r/deepfakes+FakeApp/new", params={"limit": 100}).json()["data"]
    second = s.get(
        f"{sim.url}/r/deepfakes+FakeApp/new", params={"limit": 100, "after": first["after"]}
    ).json()["data"]
    times = [c["data"]["created_utc"] for c in first["children"] + second["children"]]
    ids = [c["data"]["id"] for c in first["children"] + second["children"]]
    assert len(first["children"]) == 100 and first["after"] == first["children"][-1]["data"]["name"]
    assert times == sorted(times, reverse=True) and len(set(ids)) == len(ids)
    assert {c["data"]["subreddit"] for c in first["children"] + second["children"]} == {
        "deepfakes",
        "FakeApp",
    }
    assert max(times) <= sim.clock.timestamp()


def test_reddit_post_shows_removed_and_deleted_once_it_happened(sim: Simulation) -> None:
    days_until(sim, "2018-01-25")
    e = sim.world.get("reddit", "subreddit", "deepfakes")
    assert e is not None
    items = sim.world.day_items(e, sim.world.day_of(sim.clock.now()) - 1)
    removed = next(i for i in items if i.fate == "removed")
    deleted = next(i for i in items if i.fate == "deleted")
    from crawler.sim.content import base36

    s = reddit_session(sim)
    ids = f"t3_{base36(removed.id_num)},t3_{base36(deleted.id_num)}"
    before = s.get(f"{sim.url}/api/info/", params={"id": ids}).json()["data"]["children"]
    sim.advance(days=6)
    after = s.get(f"{sim.url}/api/info/", params={"id": ids}).json()["data"]["children"]
    assert [c["data"]["removed_by_category"] for c in before] == [None, None]
    by_cat = {c["data"]["removed_by_category"]: c["data"] for c in after}
    assert set(by_cat) == {"moderator", "deleted"}
    assert by_cat["deleted"]["author"] == "[deleted]"
    assert by_cat["moderator"]["selftext"] in ("[removed]", "")


def test_reddit_rate_limit_counts_down_then_answers_429_with_headers(sim: Simulation) -> None:
    sim.platforms["reddit"].set_limit("oauth", 3)
    s = reddit_session(sim)
    answers = [s.get(f"{sim.url}/r/faceswap/about") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["x-ratelimit-remaining"] for a in answers] == ["2.0", "1.0", "0.0", "0.0"]
    assert [a.headers["x-ratelimit-used"] for a in answers[:3]] == ["1", "2", "3"]
    assert all(0 < int(a.headers["x-ratelimit-reset"]) <= 600 for a in answers)


def test_reddit_budget_is_600_per_ten_minutes_per_client() -> None:
    with Simulation(seed=1) as sim:
        s = reddit_session(sim)
        r = s.get(f"{sim.url}/r/faceswap/about")
        assert r.headers["x-ratelimit-remaining"] == "599.0"


# -- X -----------------------------------------------------------------------------------
def test_x_users_by_reports_suspension_and_absence_as_errors(sim: Simulation) -> None:
    days_until(sim, "2018-02-08")
    s = x_session()
    r = s.get(
        f"{sim.url}/2/users/by",
        params={
            "usernames": "deepfakes_app,faceswap_dev,nobody_here",
            "user.fields": "public_metrics,created_at,protected",
        },
    )
    body = r.json()
    assert r.status_code == 200 and r.headers["x-rate-limit-limit"] == "300"
    user = body["data"][0]
    assert set(recorded("x/users_by_usernames.json")["data"][0]) <= set(user)
    assert set(user["public_metrics"]) == {
        "followers_count",
        "following_count",
        "tweet_count",
        "listed_count",
    }
    suspended, missing = body["errors"]
    assert (
        suspended["detail"] == "User has been suspended: [deepfakes_app]."
        and suspended["title"] == "Forbidden"
    )
    assert missing["detail"] == "Could not find user with usernames: [nobody_here]."
    assert missing["title"] == "Not Found Error" and missing["type"].endswith("/resource-not-found")


def test_x_search_pages_match_the_daily_counts(sim: Simulation) -> None:
    days_until(sim, "2018-01-28")
    s = x_session()
    counts = s.get(
        f"{sim.url}/2/tweets/counts/recent", params={"query": "FakeApp", "granularity": "day"}
    ).json()
    assert set(counts["data"][0]) == set(recorded("x/tweets_counts_recent.json")["data"][0])
    seen: list[str] = []
    params: dict[str, Any] = {
        "query": "FakeApp",
        "max_results": 100,
        "tweet.fields": "created_at,public_metrics",
    }
    for _ in range(50):
        page = s.get(f"{sim.url}/2/tweets/search/recent", params=params).json()
        assert set(page["meta"]) <= set(recorded("x/tweets_search_recent.json")["meta"])
        seen += [t["id"] for t in page.get("data", [])]
        if "next_token" not in page["meta"]:
            break
        params["next_token"] = page["meta"]["next_token"]
    assert len(seen) == len(set(seen)) == counts["meta"]["total_tweet_count"] > 0
    newer = s.get(
        f"{sim.url}/2/tweets/search/recent", params={"query": "FakeApp", "since_id": max(seen, key=int)}
    )
    assert newer.json()["meta"]["result_count"] == 0


def test_x_rate_limit_429_carries_reset(sim: Simulation) -> None:
    sim.platforms["x"].set_limit("search_recent", 2)
    s = x_session()
    answers = [s.get(f"{sim.url}/2/tweets/search/recent", params={"query": "deepfake"}) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[0].headers["x-rate-limit-remaining"] == "1"
    assert answers[2].headers["x-rate-limit-remaining"] == "0"
    assert int(answers[2].headers["x-rate-limit-reset"]) >= int(answers[0].headers["x-rate-limit-reset"])
    assert (
        s.get(f"{sim.url}/2/users/by", params={"usernames": "faceswap_dev"}).status_code == 200
    )  # own budget


# -- GitHub ------------------------------------------------------------------------------
def test_github_repo_shape_etag_and_free_304(sim: Simulation) -> None:
    days_until(sim, "2024-01-10")
    r = get(f"{sim.url}/repos/iperov/DeepFaceLab")
    assert r.status_code == 200 and set(r.json()) <= set(recorded("github/repo.json"))
    assert r.headers["x-ratelimit-limit"] == "60" and r.headers["x-ratelimit-used"] == "1"
    again = get(f"{sim.url}/repos/iperov/DeepFaceLab", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.headers["x-ratelimit-remaining"] == "59"
    authed = get(f"{sim.url}/repos/iperov/DeepFaceLab", headers={"Authorization": "token t"})
    assert authed.headers["x-ratelimit-limit"] == "5000"
    sim.advance(days=1)
    assert (
        get(f"{sim.url}/repos/iperov/DeepFaceLab", headers={"If-None-Match": r.headers["etag"]}).status_code
        == 200
    )  # stars moved


def test_github_unauthenticated_limit_answers_403_with_zero_remaining(sim: Simulation) -> None:
    sim.platforms["github"].set_limit("anonymous", 2)
    answers = [get(f"{sim.url}/repos/deepfakes/faceswap") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 403]
    assert answers[2].headers["x-ratelimit-remaining"] == "0"
    assert "rate limit exceeded" in answers[2].json()["message"]


def test_github_releases_page_with_link_headers(sim: Simulation) -> None:
    days_until(sim, "2024-01-10")
    url = f"{sim.url}/repos/deepfakes/faceswap/releases"
    first = get(url, params={"per_page": 5})
    release = first.json()[0]
    assert set(release) <= set(recorded("github/release.json"))
    assert set(release["assets"][0]) <= set(recorded("github/release_assets.json")[0])
    assert 'rel="next"' in first.headers["Link"] and 'rel="last"' in first.headers["Link"]
    tags: list[str] = []
    next_url: str | None = f"{url}?per_page=5"
    for _ in range(100):
        if not next_url:
            break
        page = get(next_url)
        tags += [rel["tag_name"] for rel in page.json()]
        links = requests.utils.parse_header_links(page.headers.get("Link", ""))
        next_url = next((link["url"] for link in links if link.get("rel") == "next"), None)
    assert len(tags) == len(set(tags)) > 5


def test_github_dmca_block_is_451_from_its_day(sim: Simulation) -> None:
    url = f"{sim.url}/repos/sim-user/fakeapp-mirror"
    days_until(sim, "2018-02-04")
    assert get(url).status_code == 200
    sim.advance(days=2)
    blocked = get(url)
    assert blocked.status_code == 451
    assert (
        blocked.json()["message"] == "Repository access blocked"
        and blocked.json()["block"]["reason"] == "dmca"
    )
    missing = get(f"{sim.url}/repos/nobody/nothing")
    assert (
        missing.status_code == 404
        and missing.json()["message"] == recorded("github/not_found_404.json")["message"]
    )


# -- Discord, Telegram, Arctic Shift, Mastodon ------------------------------------------
def test_discord_invite_counts_until_the_server_is_gone(sim: Simulation) -> None:
    url = f"{sim.url}/api/v9/invites/deepfakes"
    live = get(url, params={"with_counts": "true"}).json()
    assert {"code", "guild", "approximate_member_count", "approximate_presence_count"} <= set(live)
    assert {"id", "name"} <= set(live["guild"]) and live["approximate_member_count"] > 0
    days_until(sim, "2018-01-27")
    gone = get(url, params={"with_counts": "true"})
    assert (gone.status_code, gone.json()) == (404, {"message": "Unknown Invite", "code": 10006})


def test_telegram_preview_has_counter_and_posts(sim: Simulation) -> None:
    days_until(sim, "2018-02-20")
    page = get(f"{sim.url}/s/deepfake_tools").text
    assert '<div class="tgme_channel_info_counter"><span class="counter_value">' in page
    assert '<span class="counter_type">subscribers</span>' in page
    assert 'data-post="deepfake_tools/' in page and '<time datetime="2018-' in page
    assert 'class="tgme_widget_message_views"' in page and 'class="tgme_widget_message_text' in page
    assert "Allow: /s/" in get(f"{sim.url}/robots.txt").text
    blocked = get(f"{sim.url}/s/fakeapp_builds", allow_redirects=False)
    assert blocked.status_code == 302


def test_telegram_counts_are_compact_like_telegram() -> None:
    from crawler.sim.telegram import compact

    assert [compact(n) for n in (950, 1200, 12_345, 1_234_567, 2000)] == [
        "950",
        "1.2K",
        "12.3K",
        "1.2M",
        "2K",
    ]


def test_arctic_shift_history_of_a_banned_subreddit_stops_at_the_ban(sim: Simulation) -> None:
    days_until(sim, "2018-03-01")
    url = f"{sim.url}/api/time_series"
    subs = get(url, params={"key": "r/deepfakes/subscribers", "precision": "day"}).json()["data"]
    posts = get(url, params={"key": "r/deepfakes/posts/count", "precision": "day"}).json()["data"]
    dates = [p["date"] for p in subs]
    assert dates == sorted(dates) and all(d % 86400 == 0 for d in dates)
    assert subs[-1]["date"] < 1518048000  # 2018-02-08: nothing after the ban
    assert 85_000 < max(p["value"] for p in subs) < 105_000 and sum(p["value"] for p in posts) > 0
    assert get(url, params={"key": "r/not_a_sub/subscribers", "precision": "day"}).json() == {"data": []}


def test_mastodon_tag_history_is_seven_days_of_strings(sim: Simulation) -> None:
    body = get(f"{sim.url}/api/v1/tags/deepfake").json()
    assert body["name"] == "deepfake" and len(body["history"]) == 7
    assert all(
        set(h) == {"day", "uses", "accounts"} and all(isinstance(v, str) for v in h.values())
        for h in body["history"]
    )
    assert get(f"{sim.url}/api/v1/tags/nothing_like_it").status_code == 404


# -- the world and its clock -------------------------------------------------------------
def _answers(sim: Simulation) -> list[bytes]:
    s = reddit_session(sim)
    x = x_session()
    return [
        s.get(
            f"{sim.url}/r/{'+'.join(sim.world.names('reddit', 'subreddit'))}/new", params={"limit": 100}
        ).content,
        s.get(
            f"{sim.url}/api/info/", params={"sr_name": ",".join(sim.world.names("reddit", "subreddit"))}
        ).content,
        x.get(f"{sim.url}/2/tweets/search/recent", params={"query": "deepfake", "max_results": 100}).content,
        x.get(
            f"{sim.url}/2/users/by",
            params={"usernames": ",".join(sim.world.names("x", "account")), "user.fields": "public_metrics"},
        ).content,
        get(f"{sim.url}/repos/{sim.world.names('github', 'repo')[-1]}").content,
        get(f"{sim.url}/s/deepfake_tools").content,
    ]


def test_same_seed_gives_the_same_answers_and_another_seed_does_not() -> None:
    runs = []
    for seed in (11, 11, 12):
        with Simulation(seed=seed, n_subreddits=30, n_repos=15) as sim:
            sim.advance(days=3)
            runs.append(_answers(sim))
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_story_subreddit_reaches_91000_in_eight_weeks() -> None:
    world = World(seed=5, start_date="2017-12-04")
    e = world.get("reddit", "subreddit", "deepfakes")
    assert e is not None
    world.clock.advance(days=56)
    assert 88_000 < world.members(e) < 94_000


def test_advancing_the_clock_grows_members_and_applies_events(sim: Simulation) -> None:
    s = reddit_session(sim)
    days_until(sim, "2018-02-06")
    before = s.get(f"{sim.url}/r/deepfakes/about")
    sim.advance(days=1)
    after = s.get(f"{sim.url}/r/deepfakes/about")
    assert before.status_code == 200 and after.status_code == 404
    assert before.headers[SIM_NOW_HEADER] == "2018-02-06T12:00:00Z"
    assert after.headers[SIM_NOW_HEADER] == "2018-02-07T12:00:00Z"
    members = []
    for _ in range(3):
        members.append(s.get(f"{sim.url}/r/SFWdeepfakes/about").json()["data"]["subscribers"])
        sim.advance(days=1)
    assert members == sorted(members) and members[0] < members[-1]


def test_clock_moves_over_http_too(sim: Simulation) -> None:
    r = post(f"{sim.url}/_sim/clock", json={"days": 2})
    assert r.json()["day"] == 2 and sim.clock.day_index() == 2
    assert get(f"{sim.url}/_sim/now").json()["now"] == sim.clock.iso()


# -- faults and accounting ---------------------------------------------------------------
def test_scripted_429_burst_then_normal_answers(sim: Simulation) -> None:
    sim.add_fault(platform="x", kind="rate_limit", times=2, retry_after=7)
    s = x_session()
    answers = [s.get(f"{sim.url}/2/users/by", params={"usernames": "faceswap_dev"}) for _ in range(3)]
    assert [a.status_code for a in answers] == [429, 429, 200]
    assert int(answers[0].headers["x-rate-limit-reset"]) > 0
    assert sim.stats.snapshot()["platforms"]["x"]["faults"] == {"rate_limit": 2}


def test_server_errors_hit_only_their_platform_and_endpoint(sim: Simulation) -> None:
    sim.add_fault(platform="github", kind="server_error", status=502, times=None, endpoint="releases")
    assert get(f"{sim.url}/repos/deepfakes/faceswap/releases").status_code == 502
    assert get(f"{sim.url}/repos/deepfakes/faceswap").status_code == 200
    assert get(f"{sim.url}/api/v9/invites/faceswap").status_code == 200


def test_fault_after_lets_requests_through_first(sim: Simulation) -> None:
    sim.add_fault(platform="discord", kind="server_error", after=2, times=1)
    codes = [get(f"{sim.url}/api/v9/invites/faceswap").status_code for _ in range(4)]
    assert codes == [200, 200, 503, 200]


def test_malformed_body_is_cut_json(sim: Simulation) -> None:
    sim.add_fault(platform="arctic_shift", kind="malformed")
    r = get(f"{sim.url}/api/time_series", params={"key": "r/faceswap/subscribers", "precision": "day"})
    assert r.status_code == 200
    with pytest.raises(ValueError):
        r.json()


def test_timeout_fault_outlasts_the_client_timeout(sim: Simulation) -> None:
    sim.add_fault(platform="telegram", kind="timeout", delay=5)
    with pytest.raises(requests.exceptions.ReadTimeout):
        get(f"{sim.url}/s/deepfake_tools", timeout=0.2)
    assert get(f"{sim.url}/s/deepfake_tools", timeout=5).status_code == 200


def test_reset_fault_drops_the_connection(sim: Simulation) -> None:
    sim.add_fault(platform="mastodon", kind="reset")
    with pytest.raises(requests.exceptions.ConnectionError):
        get(f"{sim.url}/api/v1/tags/deepfake", timeout=5)


def test_faults_scripted_over_http(sim: Simulation) -> None:
    repo = f"{sim.url}/repos/deepfakes/faceswap"
    r = post(f"{sim.url}/_sim/faults", json={"platform": "github", "kind": "server_error", "status": 500})
    assert r.status_code == 201
    assert [get(repo).status_code for _ in range(2)] == [500, 200]
    assert get(f"{sim.url}/_sim/faults").json()["faults"] == []  # spent
    assert post(f"{sim.url}/_sim/faults", json={"platform": "github", "kind": "nope"}).status_code == 400
    post(f"{sim.url}/_sim/faults", json={"platform": "github", "kind": "server_error", "times": None})
    assert get(repo).status_code == 503
    delete(f"{sim.url}/_sim/faults")
    assert get(repo).status_code == 200


def test_accounting_counts_every_request_by_platform_and_endpoint(sim: Simulation) -> None:
    s = reddit_session(sim)
    for _ in range(3):
        s.get(f"{sim.url}/r/faceswap/about")
    s.get(f"{sim.url}/api/info/", params={"sr_name": "faceswap"})
    get(f"{sim.url}/repos/deepfakes/faceswap")
    stats = get(f"{sim.url}/_sim/stats").json()
    assert stats["platforms"]["reddit"]["endpoints"] == {"about": 3, "info": 1, "token": 1}
    assert stats["platforms"]["github"]["total"] == 1
    assert stats["total"] == 6 == sim.stats.count()
    assert sim.stats.count("reddit", "about") == 3
