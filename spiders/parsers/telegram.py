"""Telegram public preview pages (`https://t.me/s/{channel}`) → channel facts and posts (pure).

Markup as served by t.me for public channels: the header's `.tgme_channel_info_counter`
blocks (`<span class="counter_value">12.3K</span> <span class="counter_type">subscribers</span>`;
the first is the subscriber count), and one `.tgme_widget_message[data-post="channel/123"]`
per post with its text, `<time datetime=...>` and `.tgme_widget_message_views` ("1.2K").
The plain channel page (`/{channel}`) says "12 345 subscribers" in `.tgme_page_extra`; that
form is read too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from parsel import Selector

from crawler.parsing import iso_to_utc
from crawler.records import CommunityKey, Post
from spiders.parsers.common import parse_count

_MEMBER_WORDS = ("subscriber", "member")
_EXTRA_RE = re.compile(r"([\d][\d\s\u00a0\u202f.,]*[KMB]?)\s+(?:subscribers?|members?)", re.IGNORECASE)


@dataclass
class ChannelPreview:
    title: str | None
    members: int | None
    posts: list[Post] = field(default_factory=list)


def subscribers_from_text(text: str) -> int | None:
    """'12 345 subscribers', '12.3K subscribers', '1.2M members' → the count."""
    m = _EXTRA_RE.search(text)
    return parse_count(m.group(1)) if m else None


def is_preview(html: str) -> bool:
    """True when the page is a channel preview (it has the channel info header)."""
    sel = Selector(text=html)
    return bool(sel.css(".tgme_channel_info, .tgme_channel_history"))


def _members(sel: Selector) -> int | None:
    for counter in sel.css(".tgme_channel_info_counter"):
        kind = (counter.css(".counter_type::text").get() or "").lower()
        if any(w in kind for w in _MEMBER_WORDS):
            return parse_count(counter.css(".counter_value::text").get())
    extra = " ".join(sel.css(".tgme_page_extra ::text").getall())
    return subscribers_from_text(extra) if extra else None


def _first_external_link(msg: Selector) -> str | None:
    """The first link a post points to outside Telegram (preview card first)."""
    hrefs = msg.css("a.tgme_widget_message_link_preview::attr(href)").getall()
    hrefs += msg.css(".tgme_widget_message_text a::attr(href)").getall()
    for href in hrefs:
        host = urlsplit(href).hostname or ""
        if href.startswith(("http://", "https://")) and host not in ("t.me", "telegram.me"):
            return href
    return None


def parse_post(msg: Selector, key: CommunityKey) -> Post | None:
    """One `.tgme_widget_message` → a raw Post (enrichment applies the policy later)."""
    data_post = msg.attrib.get("data-post")
    if not data_post or "/" not in data_post:
        return None
    channel, _, number = data_post.rpartition("/")
    if not number.isdigit():
        return None
    text_parts = msg.css(".tgme_widget_message_text ::text").getall()
    body = " ".join(" ".join(text_parts).split()) or None
    views = parse_count(msg.css(".tgme_widget_message_views::text").get())
    author = msg.css(".tgme_widget_message_from_author::text").get()  # signed posts only
    return Post(
        key=key,
        external_id=data_post,
        created_at=iso_to_utc(msg.css("time::attr(datetime)").get()),
        author=author.strip() if author else None,
        body=body,
        url=f"https://t.me/{channel}/{number}",
        link_url=_first_external_link(msg),
        score=views,
    )


def parse_preview(html: str, key: CommunityKey) -> ChannelPreview:
    """A whole preview page → title, subscriber count (None if hidden) and its posts."""
    sel = Selector(text=html)
    title = (
        sel.css(".tgme_channel_info_header_title ::text").get() or sel.css(".tgme_page_title ::text").get()
    )
    posts = [p for p in (parse_post(m, key) for m in sel.css(".tgme_widget_message[data-post]")) if p]
    return ChannelPreview(title=title.strip() if title else None, members=_members(sel), posts=posts)
