"""Small, pure readers of the time formats platforms send, shared by sources and spiders.

Every one returns an aware UTC datetime, or None for anything it cannot read: platforms omit
and mangle fields, and a parser that raises on one odd value would lose the whole page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def epoch_to_utc(value: Any, *, allow_strings: bool = True) -> datetime | None:
    """Epoch seconds (int, float, or a numeric string unless `allow_strings` is False)."""
    if isinstance(value, bool) or (isinstance(value, str) and not allow_strings):
        return None
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def iso_to_utc(value: Any) -> datetime | None:
    """ISO 8601 ('2012-02-25T12:53:47Z', '+00:00' offsets; naive means UTC)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)
