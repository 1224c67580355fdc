"""Bluesky's pure parsers against the AppView's documented answers (tests/data/bluesky/)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crawler.records import CommunityKey
from crawler.sources.bluesky_parse import (
    MalformedAnswer,
    parse_profiles,
    parse_search,
    post_from_view,
    post_id,
    shown_uris,
    sort_at,
    status_from_error,
)
from tests.data import body as recorded

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)
NEWS = CommunityKey("bluesky", "account", "SwapNews.test")
BUILDS = CommunityKey("bluesky", "account", "did:plc:vwzwgnygau7ed7b7wt5ux7y2")  # watched by DID
GONE = CommunityKey("bluesky", "account", "gone.test")
QUERY = CommunityKey("bluesky", "query", "deepfake")


def test_profiles_match_by_handle_or_did_and_name_the_absent() -> None:
    result = parse_profiles(recorded("bluesky", "profiles"), [NEWS, BUILDS, GONE], NOW)
    by_handle = {o.key.handle: o for o in result.observations}
    news = by_handle["SwapNews.test"]  # the watchlist's spelling stays
    assert (news.status, news.metrics) == ("active", {"members": 2, "posts_total": 4})
    assert news.external_id == "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
    assert news.url == "https://bsky.app/profile/did:plc:ewvi7nxzyoun6zhxrhs64oiz"
    assert news.title == "Swap news" and news.created_at == datetime(2024, 11, 18, 10, 2, 11, tzinfo=UTC)
    assert by_handle[BUILDS.handle].metrics == {"members": 2, "posts_total": 2}
    assert by_handle[BUILDS.handle].title == "dfl-builds.test"  # no display name: the handle
    assert result.missing == [GONE]


def test_a_profile_without_counts_has_no_metric_rows_rather_than_zeros() -> None:
    body = recorded("bluesky", "profiles")
    del body["profiles"][0]["followersCount"]
    (obs, _) = parse_profiles(body, [NEWS, BUILDS], NOW).observations
    assert obs.metrics == {"posts_total": 4}


@pytest.mark.parametrize("body", [[], {"profiles": "x"}, {"profiles": [{"handle": "a.test"}]}])
def test_a_profiles_answer_of_another_shape_is_malformed(body: object) -> None:
    with pytest.raises(MalformedAnswer):
        parse_profiles(body, [NEWS], NOW)


def test_error_bodies_become_statuses_in_the_appviews_words() -> None:
    errors = recorded("bluesky", "errors")
    assert status_from_error(errors["takedown"]) == (
        "suspended",
        "AccountTakedown: Account has been suspended",
    )
    assert status_from_error(errors["deactivated"]) == (
        "not_found",
        "AccountDeactivated: Account is deactivated",
    )
    assert status_from_error(errors["not_found"]) == ("not_found", "InvalidRequest: Profile not found")
    assert (
        status_from_error(
            {"error": "InvalidRequest", "message": "Error: actor must be a valid did or a handle"}
        )
        is None
    )
    assert status_from_error(None) is None and status_from_error({"message": "no name"}) is None


def test_search_pages_become_posts_with_the_link_and_labels_they_carry() -> None:
    result = parse_search({**recorded("bluesky", "posts"), "cursor": "3"}, QUERY)
    first, second, third = result.posts
    assert first.external_id == "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3lfhktnyr4s2k"
    assert first.url == "https://bsky.app/profile/did:plc:ewvi7nxzyoun6zhxrhs64oiz/post/3lfhktnyr4s2k"
    assert first.author == "did:plc:ewvi7nxzyoun6zhxrhs64oiz"  # raw: the enrichment pseudonymises it
    assert (first.score, first.num_comments, first.nsfw) == (3, 2, None)
    assert first.link_url == "https://github.com/facefusion/facefusion"  # from the link facet
    assert first.title is None and first.body and first.body.startswith("FaceFusion 3.1")
    assert second.link_url == "https://codeberg.org/swapkit/faceswap-unlocked"  # from the external embed
    assert third.nsfw is True and third.link_url is None  # an image post: no media URL is kept
    assert result.cursor == "3"
    assert result.newest == datetime(2026, 1, 14, 9, 30, tzinfo=UTC)  # sortAt: min(createdAt, indexedAt)


def test_the_last_page_has_no_cursor_and_odd_views_are_skipped() -> None:
    odd = {"uri": "at://did:plc:x/app.bsky.feed.repost/3l", "record": {}}
    result = parse_search({"posts": [odd], "cursor": "25"}, QUERY)
    assert result.posts == [] and result.cursor == "25"
    assert parse_search({"posts": [], "cursor": "50"}, QUERY).cursor is None  # empty page: done
    assert post_from_view({"uri": "at://did:web:" + "x" * 200 + "/app.bsky.feed.post/3l"}, QUERY) is None
    assert post_id("https://bsky.app/profile/x") is None
    assert sort_at(
        {"indexedAt": "2026-01-01T00:00:00Z", "record": {"createdAt": "2030-01-01T00:00:00Z"}}
    ) == datetime(2026, 1, 1, tzinfo=UTC)  # a post dated in the future sorts by when it was indexed


def test_get_posts_shows_only_what_is_still_there() -> None:
    assert shown_uris(recorded("bluesky", "posts")) == {
        v["uri"] for v in recorded("bluesky", "posts")["posts"]
    }
    assert shown_uris({"posts": []}) == set()
