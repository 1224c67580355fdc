"""The X parsers: the platform's JSON shapes in, records out (no server)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crawler.enrich.community_links import community_links
from crawler.errors import SourceError
from crawler.records import CommunityKey
from crawler.sources import x_parse
from tests.conftest import recorded_response

DATA = Path(__file__).resolve().parent / "fakes" / "data" / "x"
NOW = datetime(2024, 5, 1, 12, tzinfo=UTC)


def acct(handle: str) -> CommunityKey:
    return CommunityKey("x", "account", handle)


def fixture(name: str) -> dict:
    return json.loads((DATA / name).read_text())


def error(kind: str, name: str) -> dict:
    shape = fixture("users.json")["errors"][kind]
    return {k: v.replace("NAME", name) for k, v in shape.items()}


def test_found_user_gives_followers_as_members_and_other_metrics_by_name():
    user = fixture("users.json")["users"][1]
    result = x_parse.parse_users({"data": [user]}, [acct("twitterdev")], NOW)
    (obs,) = result.observations
    assert obs.key.handle == "twitterdev"  # the watchlist's spelling is kept
    assert obs.status == "active"
    assert obs.source == "x_api"
    assert obs.external_id == "2244994945"
    assert obs.metrics == {"members": 513958.0, "posts_total": 3635.0, "following": 2039.0, "listed": 1672.0}
    assert obs.created_at == datetime(2013, 12, 14, 4, 35, 55, tzinfo=UTC)
    assert obs.url == "https://x.com/TwitterDev"


def test_recorded_answer_without_public_metrics_gives_no_metrics_rather_than_zero():
    body = recorded_response("x/users_by_usernames.json")["body"]
    result = x_parse.parse_users(body, [acct("Twitter"), acct("TwitterDev")], NOW)
    assert [o.status for o in result.observations] == ["active", "active"]
    assert all(o.metrics == {} for o in result.observations)


def test_protected_user_is_protected_and_keeps_its_public_counts():
    user = {**fixture("users.json")["users"][0], "protected": True}
    (obs,) = x_parse.parse_users({"data": [user]}, [acct("Twitter")], NOW).observations
    assert obs.status == "protected"
    assert obs.metrics["members"] == 67000000.0


def test_suspended_and_unknown_users_come_from_the_errors_list_with_the_platforms_words():
    body = {"errors": [error("suspended", "gone_acct"), error("not_found", "nobody_here")]}
    result = x_parse.parse_users(body, [acct("gone_acct"), acct("nobody_here")], NOW)
    by = {o.key.handle: o for o in result.observations}
    assert by["gone_acct"].status == "suspended"
    assert by["gone_acct"].status_reason == "User has been suspended: [gone_acct]."
    assert by["nobody_here"].status == "not_found"
    assert by["nobody_here"].status_reason == "Could not find user with usernames: [nobody_here]."
    assert by["gone_acct"].metrics == {}
    assert result.missing == [] and result.unexplained == []


def test_error_that_proves_no_status_is_reported_not_guessed():
    body = {"errors": [{"value": "odd", "detail": "Something else happened", "title": "Weird"}]}
    result = x_parse.parse_users(body, [acct("odd"), acct("absent")], NOW)
    assert result.observations == []
    assert result.unexplained == [("odd", "Something else happened")]
    assert result.missing == ["absent"]


def test_daily_counts_keep_whole_days_at_their_start_and_drop_the_partial_first_bucket():
    key = CommunityKey("x", "query", "DeepFaceLab")
    body = {
        "data": [
            {"start": "2021-09-13T19:18:24.000Z", "end": "2021-09-14T00:00:00.000Z", "tweet_count": 7},
            {"start": "2021-09-14T00:00:00.000Z", "end": "2021-09-15T00:00:00.000Z", "tweet_count": 48},
            {"start": "2021-09-15T00:00:00.000Z", "end": "2021-09-15T10:00:00.000Z", "tweet_count": 12},
        ],
        "meta": {"total_tweet_count": 67},
    }
    points = x_parse.parse_counts(body, key)
    assert [(p.observed_at, p.value) for p in points] == [
        (datetime(2021, 9, 14, tzinfo=UTC), 48.0),
        (datetime(2021, 9, 15, tzinfo=UTC), 12.0),
    ]
    assert {p.metric for p in points} == {"posts_per_day"}
    assert {p.source for p in points} == {"x_api"}


def test_recorded_hourly_counts_have_no_whole_day_bucket_starting_mid_day():
    body = recorded_response("x/tweets_counts_recent.json")["body"]
    points = x_parse.parse_counts(body, CommunityKey("x", "query", "Tweepy"))
    # Hourly buckets: only the midnight ones start a day; the value is that hour's count.
    assert all(p.observed_at.hour == 0 for p in points)


def test_search_result_becomes_a_post_with_permalink_link_and_counts():
    key = CommunityKey("x", "query", "tweepy")
    posts = x_parse.parse_search({"data": fixture("search.json")["tweets"]}, key).posts
    first = posts[0]
    assert first.external_id == "1578516068309794817"
    assert first.url == "https://x.com/i/web/status/1578516068309794817"
    assert first.author == "2244994945"
    assert first.link_url == "https://github.com/tweepy/tweepy"  # the photo is not a link
    assert first.score == 5 and first.num_comments == 2
    assert first.created_at == datetime(2022, 10, 7, 22, 42, 12, tzinfo=UTC)
    assert (first.body or "").startswith("2022-10-07 22:42:12")
    assert first.title is None
    assert posts[1].link_url is None
    assert posts[2].nsfw is True


def test_every_t_co_link_of_a_post_is_expanded_for_link_reading():
    """Entities as X API v2 documents them (start, end, url, expanded_url, display_url;
    unwound_url with the expansion): the second link names a community too, the photo stays."""
    key = CommunityKey("x", "query", "deepfake")
    tweet = {
        "id": "1800000000000000001",
        "text": "new home https://t.co/AAAA1111 and backup https://t.co/BBBB2222 https://t.co/CCCC3333",
        "entities": {
            "urls": [
                {
                    "start": 9,
                    "end": 32,
                    "url": "https://t.co/AAAA1111",
                    "expanded_url": "https://t.me/new_home",
                    "display_url": "t.me/new_home",
                },
                {
                    "start": 44,
                    "end": 67,
                    "url": "https://t.co/BBBB2222",
                    "expanded_url": "https://t.co/BBBB2222",
                    "unwound_url": "https://discord.gg/Backup",
                    "display_url": "discord.gg/Backup",
                },
                {
                    "start": 68,
                    "end": 91,
                    "url": "https://t.co/CCCC3333",
                    "media_key": "3_1800000000000000001",
                    "expanded_url": "https://x.com/i/web/status/1800000000000000001/photo/1",
                },
            ]
        },
    }
    post = x_parse.tweet_post(key, tweet)
    assert post.link_url == "https://t.me/new_home"
    assert (
        post.body
        == "new home https://t.me/new_home and backup https://discord.gg/Backup https://t.co/CCCC3333"
    )
    found = {
        (k.platform, k.kind, k.handle.lower()) for k in community_links(post.title, post.body, post.link_url)
    }
    assert found == {("telegram", "channel", "new_home"), ("discord", "server", "backup")}
    assert (
        x_parse.tweet_post(key, {"id": "1", "text": "no entities https://t.co/x"}).body
        == "no entities https://t.co/x"
    )
    assert x_parse.tweet_post(key, {"id": "2"}).body is None


def test_recorded_search_page_without_fields_still_parses_and_pages():
    body = recorded_response("x/tweets_search_recent.json")["body"]
    page = x_parse.parse_search(body, CommunityKey("x", "query", "Tweepy"))
    assert len(page.posts) == 10
    assert page.posts[0].created_at is None and page.posts[0].score is None
    assert page.next_token == "b26v89c19zqg8o3fpzbn1e0ffhxjiofzw6po136rvbnul"
    assert page.newest_id == max(int(t["id"]) for t in body["data"])
    assert page.oldest_id == min(int(t["id"]) for t in body["data"])


def test_empty_search_page_has_no_posts_no_token_and_no_newest_id():
    # X omits `data` when nothing matched (API v2 docs; no recording has an empty page).
    page = x_parse.parse_search({"meta": {"result_count": 0}}, CommunityKey("x", "query", "q"))
    assert (page.posts, page.next_token, page.newest_id) == ([], None, None)


QUERY_KEY = CommunityKey("x", "query", "DeepFaceLab")
GOOD_TWEET = {"id": "1578516068309794817", "text": "hello"}
MALFORMED_SEARCH: dict[str, Any] = {
    "data is a number": {"data": 5, "meta": {"result_count": 1}},
    "data is a string": {"data": "1578516068309794817"},
    "data is null": {"data": None},
    "data is an object": {"data": GOOD_TWEET},
    "an item is not an object": {"data": [GOOD_TWEET, "1578516068309794818"]},
    "an item has no id": {"data": [GOOD_TWEET, {"text": "no id"}]},
    "an id is not numeric": {"data": [{"id": "abc", "text": "x"}]},
    "meta is a list": {"data": [GOOD_TWEET], "meta": ["next"]},
    "next_token is a number": {"data": [GOOD_TWEET], "meta": {"next_token": 7}},
    "the answer is a list": [GOOD_TWEET],
}


@pytest.mark.parametrize("body", list(MALFORMED_SEARCH.values()), ids=list(MALFORMED_SEARCH))
def test_search_answer_of_another_shape_is_malformed_not_empty(body):
    with pytest.raises(x_parse.MalformedAnswer, match="malformed answer"):
        x_parse.parse_search(body, QUERY_KEY)


def test_malformed_answer_is_a_source_error_naming_the_wrong_field():
    with pytest.raises(x_parse.MalformedAnswer) as caught:
        x_parse.parse_search({"data": 5}, QUERY_KEY)
    assert isinstance(caught.value, SourceError)  # handled like any refused request: one target fails
    assert str(caught.value) == "malformed answer: `data` is int, expected a list"


MALFORMED_USERS: dict[str, Any] = {
    "data is a number": {"data": 5},
    "data is a string": {"data": "twitterdev"},
    "a user is not an object": {"data": ["twitterdev"]},
    "a user has no id": {"data": [{"username": "TwitterDev", "name": "Twitter Dev"}]},
    "a user has no username": {"data": [{"id": "2244994945", "name": "Twitter Dev"}]},
    "errors is an object": {"errors": {"value": "twitterdev"}},
    "an error is not an object": {"errors": ["twitterdev"]},
}


@pytest.mark.parametrize("body", list(MALFORMED_USERS.values()), ids=list(MALFORMED_USERS))
def test_users_answer_of_another_shape_is_malformed(body):
    with pytest.raises(x_parse.MalformedAnswer):
        x_parse.parse_users(body, [acct("twitterdev")], NOW)


def test_users_answer_without_data_or_errors_mentions_nobody():
    result = x_parse.parse_users({}, [acct("twitterdev")], NOW)
    assert (result.observations, result.missing) == ([], ["twitterdev"])


MALFORMED_COUNTS: dict[str, Any] = {
    "data is a number": {"data": 5},
    "data is a string": {"data": "48"},
    "a bucket is not an object": {"data": [48]},
    "a bucket has no count": {
        "data": [{"start": "2021-09-14T00:00:00.000Z", "end": "2021-09-15T00:00:00.000Z"}]
    },
    "a count is text": {"data": [{"start": "2021-09-14T00:00:00.000Z", "tweet_count": "48"}]},
    "a bucket has no start": {"data": [{"end": "2021-09-15T00:00:00.000Z", "tweet_count": 48}]},
}


@pytest.mark.parametrize("body", list(MALFORMED_COUNTS.values()), ids=list(MALFORMED_COUNTS))
def test_counts_answer_of_another_shape_is_malformed_rather_than_a_gap(body):
    with pytest.raises(x_parse.MalformedAnswer):
        x_parse.parse_counts(body, QUERY_KEY)


def test_problem_message_keeps_title_detail_and_reason():
    body = fixture("problems.json")["client_forbidden"]
    msg = x_parse.problem_message(403, body, "Forbidden")
    assert msg.startswith("HTTP 403 Forbidden: Client Forbidden: You currently have access to a subset")
    assert msg.endswith("(reason: client-not-enrolled)")
    assert x_parse.problem_message(500, None, "") == "HTTP 500"
    assert (
        x_parse.problem_message(
            429, {"errors": [{"code": 88, "message": "Rate limit exceeded"}]}, "Too Many Requests"
        )
        == "HTTP 429 Too Many Requests: Rate limit exceeded"
    )
