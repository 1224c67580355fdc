"""Reddit's answer shapes turned into records: the pure parsers, on the recorded templates."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crawler.records import CommunityKey
from crawler.sources.reddit import ListingState
from crawler.sources.reddit_parse import (
    MalformedAnswer,
    chunks,
    members_from_posts,
    not_found_from_redirect,
    parse_listing,
    parse_post,
    parse_subreddit,
    post_state,
    status_from_error,
    status_from_t5,
    timestamp,
)
from tests.fakes.reddit import ERRORS, LISTING, T3, T5

KEY = CommunityKey("reddit", "subreddit", "redditdev")
NOW = datetime(2025, 10, 1, tzinfo=UTC)


def t5(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(T5["data"])
    data.update(changes)
    return {k: v for k, v in data.items() if v is not _DROP}


def t3(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(T3["data"])
    data.update(changes)
    return {k: v for k, v in data.items() if v is not _DROP}


_DROP = object()


# --------------------------------------------------------------------------- subreddits


def test_recorded_subreddit_becomes_an_observation_with_its_metrics() -> None:
    obs = parse_subreddit(t5(), KEY, NOW)

    assert obs.status == "active" and obs.status_reason == "subreddit_type: public"
    assert obs.external_id == "t5_2qizd"
    assert obs.title == "reddit Development"
    assert obs.url == "https://www.reddit.com/r/redditdev/"
    assert obs.nsfw is False
    assert obs.created_at == datetime(2008, 6, 18, 15, 16, 17, tzinfo=UTC)
    assert obs.metrics == {"members": 43967.0}  # active_user_count was null: absent
    assert obs.source == "reddit_api"


def test_missing_and_null_fields_stay_absent_never_zero() -> None:
    obs = parse_subreddit({"display_name": "redditdev"}, KEY, NOW)

    assert obs.metrics == {}
    assert (obs.status, obs.title, obs.nsfw, obs.created_at, obs.external_id) == (
        None,
        None,
        None,
        None,
        None,
    )


def test_metrics_are_read_when_the_api_supplies_them() -> None:
    obs = parse_subreddit(
        t5(subscribers=10, active_user_count=3, weekly_visitors=70, weekly_contributions=4), KEY, NOW
    )
    assert obs.metrics == {
        "members": 10.0,
        "online_members": 3.0,
        "weekly_visitors": 70.0,
        "weekly_contributions": 4.0,
    }


def test_non_numeric_metric_values_are_ignored() -> None:
    assert parse_subreddit(t5(subscribers="many"), KEY, NOW).metrics == {}
    assert parse_subreddit(t5(subscribers=True), KEY, NOW).metrics == {}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"subreddit_type": "private"}, ("private", "subreddit_type: private")),
        ({"subreddit_type": "restricted"}, ("restricted", "subreddit_type: restricted")),
        ({"subreddit_type": "archived"}, ("archived", "subreddit_type: archived")),
        ({"subreddit_type": "gold_restricted"}, ("active", "subreddit_type: gold_restricted")),
        ({"subreddit_type": "restricted", "quarantine": True}, ("quarantined", "quarantine: true")),
        ({}, (None, None)),
    ],
)
def test_status_from_the_batch_answer(
    fields: dict[str, Any], expected: tuple[str | None, str | None]
) -> None:
    assert status_from_t5(fields) == expected


@pytest.mark.parametrize(
    ("http", "body", "expected"),
    [
        (404, {**ERRORS["not_found"], "reason": "banned"}, ("banned", "404 banned")),
        (404, ERRORS["not_found"], ("not_found", "404 (no reason given)")),
        (403, {**ERRORS["forbidden"], "reason": "private"}, ("private", "403 private")),
        (403, {**ERRORS["forbidden"], "reason": "gold_only"}, ("private", "403 gold_only")),
        (
            403,
            {**ERRORS["forbidden"], "reason": "quarantined", "quarantine_message": "Shocking\n content."},
            ("quarantined", "403 quarantined: Shocking content."),
        ),
        (403, None, ("private", "403 (no reason given)")),
    ],
)
def test_status_from_an_about_refusal_keeps_reddits_words(
    http: int, body: Any, expected: tuple[str, str]
) -> None:
    assert status_from_error(http, body) == expected


def test_redirect_to_search_means_not_found() -> None:
    assert not_found_from_redirect("/subreddits/search") == ("not_found", "redirect to /subreddits/search")


# --------------------------------------------------------------------------- listings


def test_listing_children_of_the_asked_kind_and_the_after_cursor() -> None:
    listing = copy.deepcopy(LISTING)
    listing["data"]["children"] = [{"kind": "t3", "data": t3()}, {"kind": "t5", "data": t5()}, "junk"]
    listing["data"]["after"] = "t3_48fbm9"

    things = parse_listing(listing, "t3")

    assert [c["id"] for c in things.children] == ["48fbm9"]
    assert things.after == "t3_48fbm9"


@pytest.mark.parametrize(
    "payload",
    [None, [], "text", {"kind": "t5"}, {"kind": "Listing"}, {"kind": "Listing", "data": {"children": None}}],
)
def test_a_listing_of_another_shape_is_malformed(payload: Any) -> None:
    with pytest.raises(MalformedAnswer):
        parse_listing(payload, "t3")


def test_empty_after_means_last_page() -> None:
    listing = copy.deepcopy(LISTING)
    listing["data"]["after"] = ""
    assert parse_listing(listing, "t3").after is None


# --------------------------------------------------------------------------- posts


def test_recorded_post_becomes_a_raw_post() -> None:
    post = parse_post(t3(), KEY)

    assert post is not None
    assert post.external_id == "48fbm9"
    assert post.author == "RedHeadQc"  # raw here; the enrichment step pseudonymises
    assert post.title and post.title.startswith("[Serious]")
    assert (
        post.url
        == "https://www.reddit.com/r/AskReddit/comments/48fbm9/serious_parents_of_reddit_whats_the_biggest_lie/"
    )
    assert post.link_url is None  # a self post links nowhere
    assert post.created_at == datetime(2016, 3, 1, 8, 37, 38, tzinfo=UTC)
    assert (post.score, post.num_comments, post.flair, post.state) == (
        1,
        1,
        "serious replies only",
        "visible",
    )
    assert post.nsfw is False


def test_link_post_keeps_its_link_for_the_enricher() -> None:
    post = parse_post(t3(is_self=False, url="https://github.com/iperov/DeepFaceLab"), KEY)
    assert post is not None and post.link_url == "https://github.com/iperov/DeepFaceLab"


@pytest.mark.parametrize(
    ("fields", "state"),
    [
        ({}, "visible"),
        ({"removed_by_category": "moderator", "selftext": "[removed]"}, "removed"),
        ({"removed_by_category": "reddit"}, "removed"),
        ({"removed_by_category": "copyright_takedown"}, "removed"),
        ({"selftext": "[removed]"}, "removed"),
        ({"banned_by": "AutoModerator"}, "removed"),
        ({"removed_by_category": "deleted", "author": "[deleted]", "selftext": "[deleted]"}, "deleted"),
        ({"removed_by_category": "author"}, "deleted"),
        ({"author": "[deleted]"}, "deleted"),
    ],
)
def test_post_state_from_removal_fields(fields: dict[str, Any], state: str) -> None:
    assert post_state(t3(**fields)) == state


def test_removed_post_keeps_only_its_counts() -> None:
    post = parse_post(t3(removed_by_category="moderator", selftext="[removed]"), KEY)

    assert post is not None
    assert (post.title, post.body, post.author, post.url, post.flair) == (None, None, None, None, None)
    assert (post.state, post.score, post.num_comments) == ("removed", 1, 1)


def test_post_in_an_nsfw_subreddit_is_nsfw() -> None:
    post = parse_post(t3(over_18=False), KEY, subreddit_nsfw=True)
    assert post is not None and post.nsfw is True


def test_post_without_an_id_is_skipped() -> None:
    assert parse_post(t3(id=_DROP), KEY) is None


def test_members_from_posts_takes_the_newest_posts_count() -> None:
    posts = [
        t3(subreddit_subscribers=90, created_utc=100.0),
        t3(subreddit_subscribers=95, created_utc=200.0),
        t3(subreddit_subscribers=None, created_utc=300.0),
    ]

    obs = members_from_posts(posts, KEY, NOW)

    assert obs is not None
    assert (obs.source, obs.metrics, obs.status) == ("post_field", {"members": 95.0}, None)


def test_members_from_posts_without_counts_is_nothing() -> None:
    assert members_from_posts([t3()], KEY, NOW) is None  # the 2016 recording has none


# --------------------------------------------------------------------------- helpers


@pytest.mark.parametrize("value", [None, "1456821458", True, float("inf"), 1e20])
def test_unreadable_timestamps_are_none(value: Any) -> None:
    assert timestamp(value) is None


def test_chunks_of_one_hundred() -> None:
    assert [len(c) for c in chunks([str(i) for i in range(250)], 100)] == [100, 100, 50]


def test_listing_state_counts_only_while_the_store_agrees() -> None:
    value = ListingState.dump(NOW, {"alpha": ("p9", NOW), "beta": None})

    assert ListingState.read(value, {"alpha": ("p9", NOW), "beta": None}) == NOW
    # rows lost after the state was saved (posts restored from an older backup): ignore it
    assert ListingState.read(value, {"alpha": ("p8", NOW - timedelta(hours=2)), "beta": None}) is None
    assert ListingState.read(value, {"alpha": None, "beta": None}) is None
    # a post the state knew nothing of is stored for beta
    assert ListingState.read(value, {"alpha": ("p9", NOW), "beta": ("q1", NOW)}) is None
    # a name that left the group (banned, private) does not matter; one that joined does
    assert ListingState.read(value, {"alpha": ("p9", NOW)}) == NOW
    assert ListingState.read(value, {"alpha": ("p9", NOW), "gamma": None}) is None
    assert ListingState.read("not json", {"alpha": None}) is None
    assert ListingState.read('{"listed_at": "yesterday", "newest": {}}', {}) is None
    assert ListingState.key(["b", "a"]) == ListingState.key(["a", "b"])


def test_listing_state_agrees_when_the_store_breaks_a_same_second_tie_otherwise() -> None:
    value = ListingState.dump(NOW, {"alpha": ("p9", NOW)})

    # two posts created in the same second: the store may call the other one its newest
    assert ListingState.read(value, {"alpha": ("p8", NOW)}) == NOW
    assert ListingState.read(value, {"alpha": ("p8", NOW - timedelta(seconds=1))}) is None


def test_listing_state_of_the_earlier_format_is_compared_by_id() -> None:
    value = '{"listed_at": "2018-01-24T12:00:00+00:00", "newest": {"alpha": "p9", "beta": null}}'

    assert ListingState.read(value, {"alpha": ("p9", NOW), "beta": None}) == datetime(
        2018, 1, 24, 12, tzinfo=UTC
    )
    assert ListingState.read(value, {"alpha": ("p8", NOW), "beta": None}) is None
