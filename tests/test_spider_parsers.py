"""The spiders' pure parsers, on recorded (GitHub) and documented shapes (the others)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from crawler.records import CommunityKey
from spiders.parsers.arctic_shift import parse_time_series
from spiders.parsers.common import parse_count
from spiders.parsers.discord import error_reason, parse_invite
from spiders.parsers.forums import parse_discourse_about, parse_phpbb_index
from spiders.parsers.github import block_reason, is_access_block, next_link, parse_repo, release_downloads
from spiders.parsers.mastodon import parse_tag_history
from spiders.parsers.ratelimit import retry_advice, server_wait
from spiders.parsers.telegram import parse_preview, subscribers_from_text
from tests.conftest import recorded_response
from tests.fakes.web import DATA, fixture, telegram_preview_html


def recorded(name: str) -> dict:
    return recorded_response(f"github/{name}")  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- counts


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12 345", 12345),
        ("12\u00a0345", 12345),
        ("12,345", 12345),
        ("1,234,567", 1234567),
        ("12.3K", 12300),
        ("12.3k", 12300),
        ("1.2M", 1200000),
        ("1,2M", 1200000),
        ("987", 987),
        ("0", 0),
        ("2K", 2000),
        ("", None),
        ("n/a", None),
        (None, None),
    ],
)
def test_telegram_counters_parse_in_every_format(text: str | None, expected: int | None) -> None:
    assert parse_count(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12 345 subscribers", 12345),
        ("12.3K subscribers", 12300),
        ("1.2M members", 1200000),
        ("987 subscribers", 987),
    ],
)
def test_channel_page_extra_line_gives_subscribers(text: str, expected: int) -> None:
    assert subscribers_from_text(text) == expected


# --------------------------------------------------------------------------- GitHub


def test_recorded_repository_gives_stars_forks_watchers_issues() -> None:
    facts = parse_repo(recorded("repo.json")["body"])
    assert facts.status == "active"
    assert facts.metrics == {"stars": 7122, "forks": 1793, "watchers": 111, "open_issues": 357}
    assert facts.external_id == "3544490"
    assert facts.url == "https://github.com/PyGithub/PyGithub"


def test_archived_repository_is_archived_and_missing_counts_stay_absent() -> None:
    facts = parse_repo({"id": 1, "archived": True, "stargazers_count": 5})
    assert facts.status == "archived"
    assert facts.metrics == {"stars": 5}


def test_release_downloads_sum_asset_counts_and_no_releases_is_zero() -> None:
    release = recorded("release.json")["body"]
    other = json.loads(json.dumps(release))
    other["assets"][0]["download_count"] = 40
    assert release_downloads([release, other]) == (40, 2)
    assert release_downloads([]) == (0, 0)
    with pytest.raises(ValueError):
        release_downloads({"message": "Not Found"})


def test_link_header_next_page() -> None:
    header = (
        '<https://api.github.com/repositories/1/releases?per_page=100&page=2>; rel="next", '
        '<https://api.github.com/repositories/1/releases?per_page=100&page=5>; rel="last"'
    )
    assert next_link(header) == "https://api.github.com/repositories/1/releases?per_page=100&page=2"
    assert next_link('<https://x/y?page=1>; rel="first"') is None
    assert next_link(None) is None


def test_451_keeps_githubs_block_reason() -> None:
    body = fixture("github_blocked_451.json")
    assert is_access_block(451, body)
    reason = block_reason(451, body)
    assert reason.startswith("HTTP 451 dmca: Repository access blocked")
    assert body["block"]["html_url"] in reason
    assert not is_access_block(403, {"message": "Must have admin rights"})
    assert is_access_block(403, {"message": "Repository access blocked"})


# --------------------------------------------------------------------------- rate limits


def test_retry_after_seconds_and_http_date() -> None:
    assert server_wait({"Retry-After": "7"}, now=0) == 7
    assert server_wait({"retry-after": "Thu, 01 Jan 1970 00:01:40 GMT"}, now=40) == 60


def test_github_primary_limit_403_waits_for_reset() -> None:
    headers = recorded("not_modified_304.json")["headers"] | {"x-ratelimit-remaining": "0"}
    reset = float(headers["x-ratelimit-reset"])
    advice = retry_advice(403, headers, b'{"message": "API rate limit exceeded"}', now=reset - 30)
    assert advice is not None and advice.rate_limited
    assert advice.wait == 31  # the reset second, plus one for truncation


def test_plain_403_and_404_are_answers_not_rate_limits() -> None:
    assert retry_advice(403, {"x-ratelimit-remaining": "4999"}, b"{}", now=0) is None
    assert retry_advice(404, {}, b"{}", now=0) is None


def test_secondary_limit_and_5xx_backoff() -> None:
    advice = retry_advice(403, {}, b'{"message": "You have exceeded a secondary rate limit"}', now=0)
    assert advice is not None and advice.wait == 60 and advice.rate_limited
    advice = retry_advice(503, {}, b"", now=0)
    assert advice is not None and advice.wait is None and not advice.rate_limited


def test_discord_reset_after_and_mastodon_iso_reset() -> None:
    assert retry_advice(429, {"X-RateLimit-Reset-After": "2.5"}, b"", now=0).wait == 2.5  # type: ignore[union-attr]
    now = datetime(2024, 1, 1, tzinfo=UTC).timestamp()
    assert server_wait({"X-RateLimit-Reset": "2024-01-01T00:05:00.000Z"}, now=now) == 301


# --------------------------------------------------------------------------- Discord


def test_invite_gives_members_online_and_guild() -> None:
    facts = parse_invite(fixture("discord_invite.json"))
    assert facts.metrics == {"members": 12873, "online_members": 1409}
    assert facts.title == "Face Swap Lab"
    assert facts.external_id == "197038439483310086"
    assert facts.nsfw is False


def test_invite_without_counts_leaves_them_absent() -> None:
    assert parse_invite({"guild": {"id": "1", "name": "x"}}).metrics == {}


def test_unknown_invite_reason_keeps_discords_words() -> None:
    assert error_reason(404, fixture("discord_unknown_invite.json")) == "Unknown Invite (code 10006)"


# --------------------------------------------------------------------------- Telegram


def test_preview_page_gives_title_subscribers_and_posts() -> None:
    key = CommunityKey("telegram", "channel", "faceswapnews")
    preview = parse_preview(telegram_preview_html("faceswapnews", "12 345"), key)
    assert preview.title == "Face Swap News"
    assert preview.members == 12345
    assert [p.external_id for p in preview.posts] == ["faceswapnews/101", "faceswapnews/102"]
    first, second = preview.posts
    assert first.score == 1200
    assert first.created_at == datetime(2024, 3, 1, 10, 15, tzinfo=UTC)
    assert first.link_url == "https://github.com/iperov/DeepFaceLab/releases"
    assert "DeepFaceLab" in (first.body or "")
    assert first.url == "https://t.me/faceswapnews/101"
    assert first.author is None  # unsigned channel post
    assert second.author == "Editor" and second.score == 987
    assert second.link_url is None  # t.me links are not external links


def test_preview_without_counter_leaves_members_absent() -> None:
    html = telegram_preview_html("x", "1").replace("tgme_channel_info_counters", "gone")
    html = html.replace('class="tgme_channel_info_counter"', 'class="gone"')
    assert parse_preview(html, CommunityKey("telegram", "channel", "x")).members is None


# --------------------------------------------------------------------------- forums


def test_phpbb_statistics_block() -> None:
    facts = parse_phpbb_index((DATA / "phpbb_index.html").read_text())
    assert facts.metrics == {"posts_total": 12345, "topics": 4321, "members": 6789, "online_members": 12}
    assert facts.title == "Faceswap Forum"


def test_phpbb_singular_online_and_separators() -> None:
    html = "<body><p>Total posts <strong>1,234</strong> &bull; In total there is <strong>1</strong> user online</p></body>"
    assert parse_phpbb_index(html).metrics == {"posts_total": 1234, "online_members": 1}


def test_page_without_statistics_is_an_error() -> None:
    with pytest.raises(ValueError):
        parse_phpbb_index("<html><body>Board disabled</body></html>")


def test_discourse_about_stats() -> None:
    facts = parse_discourse_about(fixture("discourse_about.json"))
    assert facts.metrics == {"members": 9120, "posts_total": 38211, "topics": 4512, "active_users": 312}
    assert facts.title == "Example Discourse"


def test_older_discourse_counter_names_are_read_too() -> None:
    stats = {"user_count": 9120, "post_count": 38211, "topic_count": 4512, "active_users_7_days": 312}
    facts = parse_discourse_about({"about": {"title": "Old Discourse", "stats": stats}})
    assert facts.metrics == {"members": 9120, "posts_total": 38211, "topics": 4512, "active_users": 312}


@pytest.mark.parametrize(
    ("page_title", "expected"),
    [
        ("Faceswap Forum \u2022 Index page", "Faceswap Forum"),
        ("Faceswap Forum - Index page", "Faceswap Forum"),
        ("Deep - Fakes \u2022 Index page", "Deep - Fakes"),  # only the page's own name goes
        ("Faceswap-Forum \u2022 Foren-\u00dcbersicht", "Faceswap-Forum"),
        ("Faceswap Forum", "Faceswap Forum"),
    ],
)
def test_phpbb_title_loses_its_page_suffix(page_title: str, expected: str) -> None:
    html = (DATA / "phpbb_index.html").read_text()
    html = html.replace("<h1>Faceswap Forum</h1>", "").replace("Faceswap Forum - Index page", page_title)
    assert parse_phpbb_index(html).title == expected


# --------------------------------------------------------------------------- Mastodon, Arctic Shift


def test_mastodon_history_gives_posts_and_accounts_per_day() -> None:
    key = CommunityKey("mastodon", "hashtag", "deepfake@mastodon.social")
    points = parse_tag_history(fixture("mastodon_tag.json"), key)
    by = {(p.metric, p.observed_at.date().isoformat()): p.value for p in points}
    assert by[("posts_per_day", "2025-01-01")] == 14
    assert by[("accounts_per_day", "2025-01-01")] == 9
    assert by[("posts_per_day", "2024-12-30")] == 0  # a real zero: the day had no uses
    assert {p.source for p in points} == {"mastodon_api"}


def test_arctic_shift_series_points_at_their_dates() -> None:
    key = CommunityKey("reddit", "subreddit", "deepfakes")
    points = parse_time_series(fixture("arctic_shift_series.json")["subscribers"], key, "members")
    assert [(p.observed_at.date().isoformat(), p.value) for p in points] == [
        ("2018-01-01", 16000),
        ("2018-01-08", 31000),
        ("2018-02-01", 91000),
    ]
    assert {p.source for p in points} == {"arctic_shift"}


def test_arctic_shift_error_body_raises() -> None:
    with pytest.raises(ValueError, match="Arctic Shift error"):
        parse_time_series({"error": "Invalid key"}, CommunityKey("reddit", "subreddit", "x"), "members")
