"""The Bluesky source end to end: the real `atproto` SDK against the simulation's Bluesky
(crawler/sim/bluesky.py, its cases built with crawler.sim.scenario), through `run_crawl`,
into the store."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crawler.run import run_crawl
from crawler.sim.bluesky import did_for
from crawler.sim.content import Item
from crawler.sim.scenario import delete, post, set_status, steady
from crawler.sim.server import Simulation
from crawler.sim.wire import Exchange
from crawler.sources.bluesky import SEARCH_MARGIN
from tests.conftest import Sleeps
from tests.conftest import config_rows as rows

HANDLE = "dfwatch-test.bsky.social"
APP_PASSWORD = "abcd-efgh-ijkl-mnop"  # the shape of a Bluesky app password
SECRET_ENV = {"BLUESKY_HANDLE": HANDLE, "BLUESKY_APP_PASSWORD": APP_PASSWORD}
PROFILES, PROFILE, SEARCH, POSTS, SESSION = (
    "getProfiles",
    "getProfile",
    "searchPosts",
    "getPosts",
    "createSession",
)


class Bsky:
    """The simulated Bluesky as these tests script and read it."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.platform = sim.platform("bluesky")
        self.platform.logins[HANDLE] = APP_PASSWORD  # the one account that can log in
        self.url = sim.url

    def add_account(self, handle: str, *, followers: int = 100, posts: int = 10) -> Any:
        return steady(self.sim.world, "bluesky", "account", handle, followers, posts_count=posts)

    def account(self, handle: str) -> Any:
        return self.sim.world.get("bluesky", "account", handle)

    def query(self, q: str) -> Any:
        return self.sim.world.get("bluesky", "query", q) or steady(self.sim.world, "bluesky", "query", q)

    def add_post(self, q: str, created: datetime, text: str = "a post", **kwargs: Any) -> Item:
        return post(self.sim.world, self.query(q), created, text, **kwargs)

    def uri(self, q: str, item: Item) -> str:
        return str(self.platform.uri(self.query(q), item))

    def calls(self, endpoint: str) -> list[Exchange]:
        return self.sim.exchanges("bluesky", endpoint)

    def count(self, endpoint: str) -> int:
        return len(self.calls(endpoint))


@pytest.fixture
def fake(sim: Simulation) -> Bsky:
    return Bsky(sim)


@pytest.fixture
def bsky_config(make_config: Any, fake: Bsky) -> Any:
    def _make(
        accounts: list[str] | None = None,
        searches: list[str] | None = None,
        *,
        login: bool = True,
        env: dict[str, str] | None = None,
        db_url: str | None = None,
        settings: str = "",
    ) -> Any:
        base = {"DFWATCH_ENDPOINT_BLUESKY": fake.url, "DFWATCH_ENDPOINT_BLUESKY_AUTH": fake.url}
        watch = {"bluesky": {"accounts": accounts or [], "searches": searches or []}}
        limits = "[rate_limits]\nmax_retries = 2\nbackoff_seconds = 0\nmax_wait_seconds = 30\n" + settings
        return make_config(
            watch, limits, env={**base, **(SECRET_ENV if login else {}), **(env or {})}, db_url=db_url
        )

    return _make


def run_source(config: Any) -> Any:
    (row,) = rows(
        config,
        "select status, requests, retries, rate_limited_seconds, error_summary from run_sources "
        "where source = 'bluesky' order by run_id desc limit 1",
    )
    return row


def status_of(config: Any, handle: str) -> tuple[str, str | None]:
    (row,) = rows(config, "select status, status_reason from communities where handle = :h", h=handle)
    return row[0], row[1]


def recent(hours: float) -> datetime:
    return datetime.now(UTC) - timedelta(hours=hours)


# --------------------------------------------------------------------------- accounts


def test_60_accounts_cost_three_calls_and_store_followers_and_posts(bsky_config, fake, db_url):
    names = [f"acct{i:02d}.bsky.social" for i in range(60)]
    for i, name in enumerate(names):
        fake.add_account(name, followers=1000 + i, posts=i)
    config = bsky_config(accounts=names, login=False, db_url=db_url)

    result = run_crawl(config, only=["bluesky"], sleep=Sleeps())

    assert result.status == "ok"
    assert [len(x.request.query["actors"]) for x in fake.calls(PROFILES)] == [25, 25, 10]
    assert fake.count(PROFILE) == 0
    members = dict(
        rows(
            config,
            "select c.handle, m.value from metrics m join communities c on c.id = m.community_id "
            "where m.metric = 'members' and m.source = 'bluesky_api'",
        )
    )
    assert len(members) == 60 and members["acct59.bsky.social"] == 1059
    (posts_total,) = rows(
        config,
        "select m.value from metrics m join communities c on c.id = m.community_id "
        "where c.handle = 'acct07.bsky.social' and m.metric = 'posts_total'",
    )
    assert posts_total[0] == 7
    assert run_source(config).requests == 3  # every request sent is counted


def test_taken_down_deactivated_and_unknown_accounts_get_the_appviews_words(bsky_config, fake, db_url):
    for name in ("live.bsky.social", "banned.bsky.social", "quit.bsky.social"):
        fake.add_account(name)
    set_status(fake.sim.world, fake.account("banned.bsky.social"), "suspended")  # taken down
    set_status(fake.sim.world, fake.account("quit.bsky.social"), "not_found")  # deactivated
    names = ["live.bsky.social", "banned.bsky.social", "quit.bsky.social", "never.bsky.social"]
    config = bsky_config(accounts=names, login=False, db_url=db_url)

    run_crawl(config, only=["bluesky"], sleep=Sleeps())

    assert status_of(config, "live.bsky.social") == ("active", None)
    assert status_of(config, "banned.bsky.social") == (
        "suspended",
        "AccountTakedown: Account has been suspended",
    )
    assert status_of(config, "quit.bsky.social") == (
        "not_found",
        "AccountDeactivated: Account is deactivated",
    )
    assert status_of(config, "never.bsky.social") == ("not_found", "InvalidRequest: Profile not found")
    assert (fake.count(PROFILES), fake.count(PROFILE)) == (1, 3)  # one getProfile per absent account

    # Still absent the next day: the reason read last is kept, and nobody is asked again.
    run_crawl(config, only=["bluesky"], sleep=Sleeps())
    assert (fake.count(PROFILES), fake.count(PROFILE)) == (2, 3)
    assert run_source(config).requests == 1
    changes = rows(
        config,
        "select c.handle, s.new_status, s.reason from status_changes s join communities c on c.id = s.community_id "
        "where c.handle = 'banned.bsky.social'",
    )
    assert changes == [("banned.bsky.social", "suspended", "AccountTakedown: Account has been suspended")]

    # The account comes back: active again, and its remembered reason is forgotten.
    set_status(fake.sim.world, fake.account("banned.bsky.social"), "active")
    run_crawl(config, only=["bluesky"], sleep=Sleeps())
    assert status_of(config, "banned.bsky.social")[0] == "active"
    (state,) = rows(config, "select value from source_state where source = 'bluesky' and key = 'missing'")
    assert set(json.loads(state[0])) == {"quit.bsky.social", "never.bsky.social"}


def test_a_rate_limit_waits_for_the_announced_reset_and_is_counted(bsky_config, fake, db_url):
    fake.add_account("live.bsky.social")
    # The AppView's 429: RateLimitExceeded, ratelimit-remaining 0, ratelimit-reset 3 s on.
    fake.sim.add_fault(platform="bluesky", endpoint=PROFILES, kind="rate_limit", retry_after=3)
    config = bsky_config(accounts=["live.bsky.social"], login=False, db_url=db_url)
    sleeps = Sleeps()

    result = run_crawl(config, only=["bluesky"], sleep=sleeps)

    assert result.status == "ok"
    assert len(sleeps) == 1 and 1.0 <= sleeps[0] <= 3.0  # until the reset, not a guess
    row = run_source(config)
    assert (row.requests, row.retries) == (2, 1) and row.rate_limited_seconds == pytest.approx(sleeps[0])


def test_a_malformed_answer_fails_its_batch_only(bsky_config, fake, db_url):
    names = [f"acct{i:02d}.bsky.social" for i in range(30)]
    for name in names:
        fake.add_account(name)
    fake.sim.add_fault(platform="bluesky", endpoint=PROFILES, kind="malformed")  # JSON cut in half
    config = bsky_config(accounts=names, login=False, db_url=db_url)

    result = run_crawl(config, only=["bluesky"], sleep=Sleeps())

    assert result.status == "partial"
    assert "malformed answer: not JSON" in run_source(config).error_summary
    stored = rows(config, "select count(*) from metrics where metric = 'members'")
    assert stored == [(5,)]  # the second batch of 5


def test_a_batch_refused_as_a_whole_is_asked_one_by_one(bsky_config, fake, db_url):
    fake.add_account("live.bsky.social", followers=9)
    # A batch the AppView refuses as a whole (one malformed actor can do that): 400.
    fake.sim.add_fault(platform="bluesky", endpoint=PROFILES, kind="server_error", status=400)
    config = bsky_config(accounts=["live.bsky.social"], login=False, db_url=db_url)

    result = run_crawl(config, only=["bluesky"], sleep=Sleeps())

    assert result.status == "ok" and fake.count(PROFILE) == 1
    assert status_of(config, "live.bsky.social") == ("active", None)


# --------------------------------------------------------------------------- searches


def test_searches_without_credentials_are_skipped_with_one_line_and_accounts_still_run(
    bsky_config, fake, caplog
):
    fake.add_account("live.bsky.social")
    config = bsky_config(accounts=["live.bsky.social"], searches=["deepfake"], login=False)

    with caplog.at_level(logging.INFO):
        result = run_crawl(config, only=["bluesky"], sleep=Sleeps())

    assert result.status == "ok"
    hints = [r.getMessage() for r in caplog.records if "part=searches skipped" in r.getMessage()]
    assert hints == [
        "source=bluesky part=searches skipped: set BLUESKY_HANDLE and BLUESKY_APP_PASSWORD to enable them "
        "(accounts need no login)"
    ]
    assert fake.count(SESSION) == fake.count(SEARCH) == 0
    assert status_of(config, "live.bsky.social")[0] == "active"


def test_search_posts_are_stored_as_metadata_with_pseudonyms_and_a_saved_time(bsky_config, fake, db_url):
    fake.add_post("deepfake", recent(3), text="FaceFusion 3.1 is out", author=7, likes=4, replies=1)
    author = did_for(fake.query("deepfake").index, 7)
    fake.add_post(
        "deepfake", recent(2), text="mirror is up", url="https://codeberg.org/swapkit/faceswap-unlocked"
    )
    newest = fake.platform.post_view(
        fake.query("deepfake"), fake.add_post("deepfake", recent(1), text="weekly thread")
    )
    config = bsky_config(searches=["deepfake"], db_url=db_url)

    result = run_crawl(config, only=["bluesky"], sleep=Sleeps())

    assert result.status == "ok"
    posted = [json.loads(x.request.body) for x in fake.sim.exchanges() if x.request.method == "POST"]
    assert posted == [{"identifier": HANDLE, "password": APP_PASSWORD}]
    (search,) = [x.request.query for x in fake.calls(SEARCH)]
    assert (search["q"], search["sort"], search["limit"]) == (["deepfake"], ["latest"], ["100"])
    posts = rows(
        config,
        "select external_id, author, title, body, url, link_domain, score, num_comments from posts order by created_at",
    )
    assert len(posts) == 3
    first, second, _third = posts
    assert first.author and len(first.author) == 64 and author not in first.author  # a keyed pseudonym
    assert (first.title, first.body) == (None, None)  # metadata: no text under the default policy
    assert (first.score, first.num_comments) == (4, 1)
    assert first.url.startswith("https://bsky.app/profile/did:plc:")
    assert second.link_domain == "codeberg.org"
    mentioned = rows(
        config,
        "select t.name from mentions m join tools t on t.id = m.tool_id join posts p on p.id = m.post_id",
    )
    assert sorted(m[0] for m in mentioned) == ["FaceFusion", "faceswap"]  # found before the text was dropped
    (saved,) = rows(
        config, "select value from source_state where source = 'bluesky' and key = 'search:deepfake'"
    )
    sort_at = min(newest["record"]["createdAt"], newest["indexedAt"])  # the earlier of the two
    assert datetime.fromisoformat(saved[0].replace("Z", "+00:00")) == datetime.fromisoformat(
        sort_at.replace("Z", "+00:00")
    )

    # The next crawl searches from the saved time, less the indexing margin, and logs in again.
    run_crawl(config, only=["bluesky"], sleep=Sleeps())
    second_search = [x.request.query for x in fake.calls(SEARCH)][-1]
    since = datetime.fromisoformat(second_search["since"][0].replace("Z", "+00:00"))
    saved_at = datetime.fromisoformat(saved[0].replace("Z", "+00:00"))
    assert since == saved_at - timedelta(hours=1)
    assert fake.count(SESSION) == 2


def test_search_pages_follow_the_cursor_up_to_max_pages(bsky_config, fake):
    for i in range(250):
        fake.add_post("deepfake", recent(1 + i / 100), text=f"post {i}")
    config = bsky_config(searches=["deepfake"], settings="[bluesky]\nmax_pages = 2\n")

    run_crawl(config, only=["bluesky"], sleep=Sleeps())

    cursors = [x.request.query.get("cursor") for x in fake.calls(SEARCH)]
    assert cursors == [None, ["100"]]
    assert rows(config, "select count(*) from posts") == [(200,)]


def test_the_password_and_the_session_tokens_never_reach_the_log_or_the_database(
    bsky_config, fake, caplog, tmp_path: Path
):
    fake.add_account("live.bsky.social")
    fake.add_post("deepfake", recent(1), text="a post")
    db_file = tmp_path / "secrets.db"
    config = bsky_config(accounts=["live.bsky.social"], searches=["deepfake"], db_url=f"sqlite:///{db_file}")

    with caplog.at_level(logging.DEBUG):
        for name in ("httpx", "httpcore", "atproto_client", "dfwatch"):
            logging.getLogger(name).setLevel(logging.DEBUG)
        result = run_crawl(config, only=["bluesky"], sleep=Sleeps())
        run_crawl(config, only=["bluesky"], sleep=Sleeps())

    assert result.status == "ok" and len(fake.platform.issued) == 4  # two logins, two tokens each
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("secrets.db*"))
    for secret in (APP_PASSWORD, *fake.platform.issued):
        assert secret not in logged
        assert secret.encode() not in stored
    assert "HTTP Request" in caplog.text  # the HTTP log was on, and said nothing secret


def test_a_wrong_app_password_fails_searches_in_a_sentence_and_keeps_the_accounts(bsky_config, fake, db_url):
    fake.add_account("live.bsky.social")
    config = bsky_config(
        accounts=["live.bsky.social"],
        searches=["deepfake"],
        env={"BLUESKY_APP_PASSWORD": "wrong-pass"},
        db_url=db_url,
    )

    result = run_crawl(config, only=["bluesky"], sleep=Sleeps())

    assert result.status == "partial"
    assert run_source(config).error_summary == (
        "bluesky searches: login refused (HTTP 401 AuthenticationRequired: Invalid identifier or password); "
        "check BLUESKY_HANDLE and BLUESKY_APP_PASSWORD"
    )
    assert fake.count(SEARCH) == 0 and status_of(config, "live.bsky.social")[0] == "active"


def test_the_compliance_sweep_erases_posts_deleted_upstream(bsky_config, fake, db_url):
    # Both times from one clock read (the world's now, whole seconds): `keep` sits exactly
    # SEARCH_MARGIN before `gone`, on the inclusive edge of the window the second crawl
    # searches again. Two wall-clock reads (recent(5), recent(4)) put it there only when
    # they fell in the same millisecond (createdAt, so the saved search time, is to the ms).
    gone_at = fake.sim.world.now() - timedelta(hours=4)
    keep = fake.add_post("deepfake", gone_at - SEARCH_MARGIN, text="still here", author=1)
    gone = fake.add_post("deepfake", gone_at, text="soon gone", author=2)
    keep_uri, gone_uri = fake.uri("deepfake", keep), fake.uri("deepfake", gone)
    config = bsky_config(
        searches=["deepfake"], db_url=db_url, settings='[privacy]\ndefault_policy = "full"\n'
    )
    run_crawl(config, only=["bluesky"], sleep=Sleeps())
    assert fake.count(POSTS) == 0  # posts new to the store are not re-checked in the same crawl

    delete(fake.sim.world, fake.query("deepfake"), gone)
    run_crawl(config, only=["bluesky"], sleep=Sleeps())

    (checked,) = [x.request.query["uris"] for x in fake.calls(POSTS)]
    assert checked == [gone_uri]  # the other one the search just showed again: visible
    states = dict(rows(config, "select external_id, state from posts"))
    assert states == {keep_uri: "visible", gone_uri: "deleted"}
    (erased,) = rows(config, "select body, author, title from posts where external_id = :u", u=gone_uri)
    assert tuple(erased) == (None, None, None)
    (kept,) = rows(config, "select body from posts where external_id = :u", u=keep_uri)
    assert kept[0] == "still here"
