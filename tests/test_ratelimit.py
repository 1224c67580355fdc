"""The one reader of rate-limit answers (crawler.ratelimit), on a table of header sets.

The header sets are the platforms' own: GitHub's and X's from recorded responses
(../shared/fixtures/recorded: PyGithub's and tweepy's cassettes), Reddit's as its Data API
wiki documents them ("X-Ratelimit-Reset: approximate number of seconds to end of period"),
Discord's from its rate-limits page (`X-RateLimit-Reset` epoch seconds with decimals,
`X-RateLimit-Reset-After` seconds), Mastodon's from docs.joinmastodon.org/api/rate-limits
(an ISO 8601 reset), and `Retry-After` in both RFC 9110 forms.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from crawler.ratelimit import RESET_MARGIN, header, reset_wait, retry_after, wait_seconds
from tests.conftest import recorded_response

NOW = 1_714_564_800.0  # Wed, 01 May 2024 12:00:00 GMT
DATE = "Wed, 01 May 2024 12:00:00 GMT"

# (case, headers, now given to the reader, expected wait in seconds or None)
TABLE: list[tuple[str, dict[str, str], float | None, float | None]] = [
    ("retry-after seconds", {"Retry-After": "7"}, NOW, 7.0),
    ("retry-after zero: go now", {"retry-after": "0"}, NOW, 0.0),
    ("retry-after http-date", {"Retry-After": "Wed, 01 May 2024 12:01:40 GMT"}, NOW, 100.0),
    (
        "retry-after date on the server's clock",
        {"Retry-After": "Wed, 01 May 2024 12:00:30 GMT", "Date": DATE},
        None,
        30.0,
    ),
    ("retry-after date already past", {"Retry-After": "Wed, 01 May 2024 11:00:00 GMT"}, NOW, 0.0),
    ("retry-after unreadable", {"Retry-After": "soon"}, NOW, None),
    ("retry-after wins over a reset", {"Retry-After": "3", "x-ratelimit-reset": "412"}, NOW, 3.0),
    (
        "reddit: seconds until the reset",
        {"x-ratelimit-remaining": "0.0", "x-ratelimit-used": "600", "x-ratelimit-reset": "412"},
        NOW,
        412.0,
    ),
    ("reddit: reset now", {"x-ratelimit-reset": "0"}, NOW, 0.0),
    (
        "github: epoch reset on our clock",
        {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 30)},
        NOW,
        30.0 + RESET_MARGIN,
    ),
    (
        "github: epoch reset on the server's clock",
        {"x-ratelimit-reset": str(int(NOW) + 30), "date": DATE},
        None,
        30.0,
    ),
    (
        "x: its own spelling",
        {"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(int(NOW) + 900), "date": DATE},
        None,
        900.0,
    ),
    (
        "x: a reset already past means back off",
        {"x-rate-limit-reset": str(int(NOW) - 100), "date": DATE},
        None,
        None,
    ),
    (
        "discord: reset-after wins over the epoch reset",
        {"X-RateLimit-Reset": "1714564801.123", "X-RateLimit-Reset-After": "1.123"},
        NOW,
        1.123,
    ),
    ("discord: epoch with decimals", {"X-RateLimit-Reset": f"{NOW + 2.5}"}, NOW, 2.5 + RESET_MARGIN),
    ("mastodon: iso reset", {"X-RateLimit-Reset": "2024-05-01T12:05:00.000Z"}, NOW, 300.0 + RESET_MARGIN),
    (
        "mastodon: iso reset with microseconds",
        {"x-ratelimit-reset": "2024-05-01T12:00:10.500000Z", "Date": DATE},
        None,
        10.5,
    ),
    ("an unreadable reset says nothing", {"x-ratelimit-reset": "tomorrow"}, NOW, None),
    ("no headers at all", {}, NOW, None),
    ("infinity is no number", {"Retry-After": "inf"}, NOW, None),
    (
        "an unreadable Date falls back to our clock",
        {"x-ratelimit-reset": str(int(NOW) + 5), "Date": "yesterday"},
        NOW,
        5.0 + RESET_MARGIN,
    ),
]


@pytest.mark.parametrize(("headers", "now", "expected"), [t[1:] for t in TABLE], ids=[t[0] for t in TABLE])
def test_wait_seconds_reads_every_platforms_headers(
    headers: dict[str, str], now: float | None, expected: float | None
) -> None:
    got = wait_seconds(headers, now)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected)


def test_retry_after_and_reset_are_read_apart() -> None:
    both = {"Retry-After": "3", "x-ratelimit-reset": "412"}
    assert retry_after(both, NOW) == 3.0
    assert reset_wait(both, NOW) == 412.0
    assert retry_after({"x-ratelimit-reset": "412"}, NOW) is None


def test_header_names_are_case_insensitive_and_blank_is_absent() -> None:
    assert header({"X-RateLimit-Reset": " 5 "}, "x-ratelimit-reset") == "5"
    assert header({"retry-after": "  "}, "Retry-After") is None


def test_recorded_github_and_x_answers() -> None:
    github: dict[str, Any] = recorded_response("github/not_modified_304.json")["headers"]
    reset = float(github["x-ratelimit-reset"])
    assert reset_wait(github, now=reset - 60) == 60 + RESET_MARGIN
    x: dict[str, Any] = recorded_response("x/tweets_search_recent.json")["headers"]
    reset = float(x["x-rate-limit-reset"])
    assert wait_seconds(x, now=reset - 600) == 600 + RESET_MARGIN


def test_requests_headers_work_as_they_come() -> None:
    """praw and tweepy hand over requests' CaseInsensitiveDict; Scrapy's are turned into a dict."""
    from requests.structures import CaseInsensitiveDict

    headers = CaseInsensitiveDict({"X-Rate-Limit-Reset": str(int(NOW) + 12), "Date": DATE})
    assert wait_seconds(headers) == 12.0
    stamp = datetime(2024, 5, 1, 12, 0, 12, tzinfo=UTC).timestamp()
    assert reset_wait({"x-ratelimit-reset": str(int(stamp))}, now=NOW) == 12 + RESET_MARGIN
