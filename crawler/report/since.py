"""The report window: `--since 30d` and its way back into words."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
_SINCE = re.compile(r"^\s*(\d+)\s*([hdw])\s*$", re.IGNORECASE)


def parse_since(text: str) -> timedelta:
    """`30d`, `12h`, `2w` -> a timedelta; anything else is a ValueError that says what fits."""
    m = _SINCE.match(text or "")
    if not m:
        raise ValueError(
            f"cannot read the window {text!r}: write a whole number and a unit, h (hours), "
            "d (days) or w (weeks), e.g. 30d, 12h, 2w"
        )
    n = int(m.group(1))
    if n <= 0:
        raise ValueError(f"the window {text!r} is empty: it must be at least 1{m.group(2).lower()}")
    if n > 100_000:
        raise ValueError(f"the window {text!r} is longer than any history dfwatch can hold")
    return n * _UNITS[m.group(2).lower()]


def format_since(window: timedelta) -> str:
    """The window in the same words `--since` takes: whole days (`30d`), else hours, else seconds."""
    seconds = int(window.total_seconds())
    if seconds > 0 and seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    if seconds > 0 and seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    return f"{seconds}s"
