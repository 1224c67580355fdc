"""A query's search cursor on X, as kept in `source_state` (key `search:<query>`).

Recent search pages newest first. The cursor is the newest post id stored: the next crawl
asks for posts after it (`since_id`). A crawl stopped by its budget in the middle of a
pagination has stored the newest pages only; what lies between the previous cursor and the
oldest post it stored is a gap, kept beside the cursor so the next crawl fetches it
(`since_id`, `until_id`) before it moves on:

* `"1234"`: no gap (the form written before gaps existed, still the usual one);
* `{"newest": "1234", "gap": ["1000" or null, "1200"]}`: posts after 1234 are not fetched
  yet, nor those between 1000 (null: the start of the search window) and 1200.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

log = logging.getLogger("dfwatch.source.x")


@dataclass(frozen=True)
class SearchCursor:
    """What a query's stored posts cover (see the module docstring)."""

    newest: int | None = None
    gap_since: int | None = None  # the gap's lower bound (exclusive); None: the window start
    gap_until: int | None = None  # the gap's upper bound (exclusive); None: no gap

    @property
    def has_gap(self) -> bool:
        return self.gap_until is not None

    def dump(self) -> str:
        if not self.has_gap:
            return str(self.newest) if self.newest is not None else ""
        return json.dumps(
            {
                "newest": None if self.newest is None else str(self.newest),
                "gap": [None if self.gap_since is None else str(self.gap_since), str(self.gap_until)],
            }
        )

    @classmethod
    def load(cls, value: str | None) -> SearchCursor | None:
        """The saved cursor; None when there is none or it cannot be read (the whole window)."""
        if not value:
            return None
        if value.isdigit():
            return cls(int(value))
        try:
            doc = json.loads(value)
            newest = _id(doc["newest"])
            since, until = doc["gap"]
            return cls(newest, _id(since), _id(until, required=True))
        except (ValueError, KeyError, TypeError):
            log.warning("source=x search cursor %r is not readable; fetching the whole window", value)
            return None


def _id(value: object, *, required: bool = False) -> int | None:
    if value is None and not required:
        return None
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise ValueError(f"not a post id: {value!r}")
