"""When a community is due for its next check: patient re-checks of dead communities.

A community found `banned`, `not_found` or `suspended` rarely comes back, yet a daily crawl
asked about every one of them every day (223 of 2,754 requests of a 10,000-subreddit crawl,
for communities banned weeks before). So a community found dead on k consecutive checks is
checked again 2^k days after its last check, at most a week later: 2, 4, then every 7 days.
Any change of status resets the count (the store keeps it: `communities.status_checks`).
Every other community is checked at every crawl.

Pure: the run hands each source what it knows (`CheckState`), and sources ask
`SourceContext.due(key)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

DEAD = frozenset({"banned", "not_found", "suspended"})
MAX_INTERVAL = timedelta(days=7)  # a dead community is looked at at least weekly
# A daily crawl that starts a little earlier than the one before still finds its due checks.
SLACK = timedelta(hours=1)


@dataclass(frozen=True)
class CheckState:
    """A community's current status, how many consecutive checks found it, and when the last was."""

    status: str
    checks: int
    last_checked_at: datetime | None


def interval(state: CheckState) -> timedelta | None:
    """How long after its last check the community is due; None: at every crawl."""
    if state.status not in DEAD or state.checks < 1 or state.last_checked_at is None:
        return None
    return min(timedelta(days=2 ** min(state.checks, 16)), MAX_INTERVAL)


def next_check(state: CheckState) -> datetime | None:
    """When the next check is due, or None when every crawl checks it."""
    step = interval(state)
    if step is None or state.last_checked_at is None:
        return None
    return state.last_checked_at + step


def is_due(state: CheckState | None, now: datetime) -> bool:
    """Whether a check at `now` is due (an unknown community always is)."""
    if state is None:
        return True
    when = next_check(state)
    return when is None or now + SLACK >= when


# --------------------------------------------------------------------------- posts


def post_due(age: timedelta, unseen: timedelta, fraction: float, always: timedelta, slack: timedelta) -> bool:
    """The tiered deletion sweep's rule for one post (the store evaluates it in SQL).

    A post is re-checked while younger than `always` (Reddit's 48 hours) at every crawl, and
    after that once the time since it was last seen visible reaches `fraction` of its age.
    """
    return age <= always or unseen >= fraction * age - slack


def sweep_ages(
    fraction: float,
    horizon: timedelta,
    *,
    first_seen: timedelta = timedelta(hours=12),
    cadence: timedelta = timedelta(days=1),
    always: timedelta = timedelta(hours=48),
    slack: timedelta = SLACK,
) -> list[float]:
    """The ages (days) at which daily crawls re-check one post, up to `horizon`.

    The post is first seen `first_seen` after it was created (by the listing), then every
    crawl `cadence` apart asks `post_due`. The length of the list is what one post costs the
    sweep over its life, in /api/info slots (100 to a request).
    """
    ages: list[float] = []
    seen = age = first_seen
    while True:
        age += cadence
        if age >= horizon:
            return ages
        if post_due(age, age - seen, fraction, always, slack):
            ages.append(round(age / timedelta(days=1), 3))
            seen = age
