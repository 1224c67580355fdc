"""Small helpers shared by the parsers: counts as platforms print them, epoch times."""

from __future__ import annotations

import re
from typing import Any

_SUFFIX = {"k": 1_000, "m": 1_000_000, "b": 1_000_000_000}
_COUNT_RE = re.compile(r"^(\d+(?:[.,]\d+)?)\s*([kmb])$", re.IGNORECASE)
# Spaces Telegram and phpBB put between thousands: ASCII, no-break and thin spaces.
_GROUP_SEPARATORS = " \u00a0\u202f\u2009,'"


def parse_count(text: str | None) -> int | None:
    """'12 345', '12,345', '12.3K', '1.2M', '987' → an integer; None when unreadable.

    A decimal point only means a fraction before a K/M/B suffix; without a suffix '.' and
    ',' are thousands separators ('1.234' in German locales is 1234).
    """
    if text is None:
        return None
    t = text.strip()
    if not t:
        return None
    m = _COUNT_RE.match(re.sub(r"\s", "", t))  # "1.2 K" with any space Telegram puts there
    if m:
        number = float(m.group(1).replace(",", "."))
        return round(number * _SUFFIX[m.group(2).lower()])
    digits = t
    for sep in _GROUP_SEPARATORS + ".":
        digits = digits.replace(sep, "")
    return int(digits) if digits.isdigit() else None


def as_number(value: Any) -> float | None:
    """A JSON number or numeric string → float; booleans, None and junk → None."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
