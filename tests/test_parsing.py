"""The shared time readers: every platform's odd values become None, never an exception."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from crawler.parsing import epoch_to_utc, iso_to_utc


def test_epoch_seconds_from_numbers_and_numeric_strings() -> None:
    expected = datetime(2016, 3, 1, 8, 37, 38, tzinfo=UTC)
    assert epoch_to_utc(1456821458) == expected
    assert epoch_to_utc(1456821458.0) == expected
    assert epoch_to_utc("1456821458") == expected  # Mastodon sends days as strings


@pytest.mark.parametrize("value", [None, True, "soon", float("inf"), 1e20, [1]])
def test_unreadable_epochs_are_none(value: Any) -> None:
    assert epoch_to_utc(value) is None


def test_strings_can_be_refused_where_the_platform_never_sends_them() -> None:
    assert epoch_to_utc("1456821458", allow_strings=False) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2021-09-13T19:18:24.000Z", datetime(2021, 9, 13, 19, 18, 24, tzinfo=UTC)),
        ("2021-09-13T21:18:24+02:00", datetime(2021, 9, 13, 19, 18, 24, tzinfo=UTC)),
        ("2021-09-13T19:18:24", datetime(2021, 9, 13, 19, 18, 24, tzinfo=UTC)),  # naive = UTC
    ],
)
def test_iso_times_become_aware_utc(value: str, expected: datetime) -> None:
    assert iso_to_utc(value) == expected


@pytest.mark.parametrize("value", [None, "", "yesterday", 1631560704, "2021-13-45T00:00:00Z"])
def test_unreadable_iso_times_are_none(value: Any) -> None:
    assert iso_to_utc(value) is None
