"""Forum statistics → metrics (pure): Discourse `/about.json` and the phpBB index page.

* Discourse answers `{"about": {"title": ..., "stats": {"users_count", "posts_count",
  "topics_count", "active_users_7_days", ...}}}` (Discourse API documentation); older
  versions name the counters `user_count`, `post_count`, `topic_count`: both are read.
* phpBB 3 (prosilver) prints, in English, "Total posts <strong>123</strong> • Total topics
  <strong>45</strong> • Total members <strong>678</strong>" and "In total there are
  <strong>12</strong> users online" (language strings TOTAL_POSTS_COUNT, TOTAL_TOPICS,
  TOTAL_USERS, ONLINE_USERS_TOTAL / ONLINE_USER_TOTAL).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from parsel import Selector

from spiders.parsers.common import as_number, parse_count

_NUM = r"(\d[\d\s\u00a0\u202f.,']*)"
_PHPBB_PATTERNS = {
    "posts_total": re.compile(rf"Total posts\s*:?\s*{_NUM}", re.IGNORECASE),
    "topics": re.compile(rf"Total topics\s*:?\s*{_NUM}", re.IGNORECASE),
    "members": re.compile(rf"Total members\s*:?\s*{_NUM}", re.IGNORECASE),
    "online_members": re.compile(rf"In total there (?:are|is)\s*{_NUM}\s*users?\s+online", re.IGNORECASE),
}
_DISCOURSE_STATS = {  # metric: the stats keys, current spelling first, then older versions'
    "members": ("users_count", "user_count"),
    "posts_total": ("posts_count", "post_count"),
    "topics": ("topics_count", "topic_count"),
    "active_users": ("active_users_7_days",),
}
# phpBB's page title ends with the page's name, after " - " ("Board name - Index page") or
# " • " ("Board name • Index page"); only that last part is dropped.
_TITLE_SEPARATOR_RE = re.compile(r"\s+[-•]\s+")


@dataclass
class ForumFacts:
    title: str | None
    metrics: dict[str, float] = field(default_factory=dict)


def parse_discourse_about(body: dict[str, Any]) -> ForumFacts:
    """`/about.json` → members, posts_total, topics, active_users (7 days)."""
    about = body.get("about")
    if not isinstance(about, dict):
        raise ValueError("about.json has no 'about' object")
    stats = about.get("stats") or {}
    metrics = {}
    for metric, keys in _DISCOURSE_STATS.items():
        value = next((v for v in (as_number(stats.get(k)) for k in keys) if v is not None), None)
        if value is not None:
            metrics[metric] = value
    return ForumFacts(title=about.get("title"), metrics=metrics)


def parse_phpbb_index(html: str) -> ForumFacts:
    """The index page's statistics and who-is-online blocks → members, posts, topics, online.

    Raises ValueError when no statistic is found (a guest-hidden block, another language,
    or not a phpBB index at all), so the spider reports the target instead of storing nothing.
    """
    sel = Selector(text=html)
    text = " ".join(" ".join(sel.css("body ::text").getall()).split())
    metrics: dict[str, float] = {}
    for metric, pattern in _PHPBB_PATTERNS.items():
        m = pattern.search(text)
        if m:
            value = parse_count(m.group(1).strip(" .,'"))
            if value is not None:
                metrics[metric] = value
    if not metrics:
        raise ValueError("no phpBB statistics block on the page")
    title = (sel.css("#site-description h1::text").get() or "").strip()
    if not title:  # the page title, less its page name
        title = (sel.css("title::text").get() or "").strip()
        separators = list(_TITLE_SEPARATOR_RE.finditer(title))
        if separators:
            title = title[: separators[-1].start()].strip()
    return ForumFacts(title=title or None, metrics=metrics)
