"""Telegram's plain community page (`https://t.me/{name}`) → what it shows (pure).

`t.me/s/{name}` is a channel's preview; a channel with its preview off, and every public group
and bot, only has this page (`/s/{name}` redirects here). Its markup, as other projects
record and parse it (tests/fakes/data/web/telegram_*.html name theirs):

* `.tgme_page_title` (a `span` inside on current pages): the community's title;
* `.tgme_page_extra`, once or twice: "1 474 933 subscribers" (channel), "95 451 members,
  4 445 online" (group), "@SomeBot" then "3 544 775 monthly users" (bot), "@name" alone (a
  person's account, or a bot too small to show a count);
* `.tgme_page_description`: the description, where Telegram also puts its block notice
  ("This channel can't be displayed because it violated Telegram's Terms of Service.");
* a name Telegram does not know gives a page without `.tgme_page_title`: `<title>Telegram:
  Contact @name</title>` and "If you have Telegram, you can contact @name right away."
  (`.tgme_page_additional`), or a bare "Telegram Messenger" page.

Counts come in every form Telegram prints: "1 474 933" (space, no-break or narrow no-break
space), "1,474,933", "1.48M", "12.3K", "12,3K" (spiders.parsers.common.parse_count).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from parsel import Selector

from spiders.parsers.common import parse_count

_NUM = r"(\d[\d\s.,]*[KMB]?)"  # \s covers U+00A0 and U+202F in Python's str patterns
_SUBSCRIBERS_RE = re.compile(rf"{_NUM}\s*subscribers?\b", re.IGNORECASE)
_MEMBERS_RE = re.compile(rf"{_NUM}\s*members?\b", re.IGNORECASE)
_ONLINE_RE = re.compile(rf"{_NUM}\s*online\b", re.IGNORECASE)
_MONTHLY_RE = re.compile(rf"{_NUM}\s*monthly\s+users?\b", re.IGNORECASE)
_HANDLE_RE = re.compile(r"^@([A-Za-z0-9_]{3,32})$")
# Telegram's notices for what it blocks, on a community's page: "This channel can't be
# displayed because it violated Telegram's Terms of Service.", "This group can't be displayed
# because it was used to spread pornographic content.", "This channel can't be displayed in
# your country because it violates local laws.", "This channel is blocked because ...".
_BLOCK_RE = re.compile(
    r"\bThis\s+(?:channel|group|bot|chat|account|user)\s+"
    r"(?:can[’']?t|cannot|couldn[’']?t|is\s+blocked|is\s+not\s+available|isn[’']?t\s+available)\b"
    r"[^.]*(?:\.|$)",
    re.IGNORECASE,
)
# Text that is the page's own, not a post's: posts may quote a block notice.
_PAGE_TEXT = (
    "//body//text()[not(ancestor::script) and not(ancestor::style)"
    " and not(ancestor::*[contains(concat(' ', normalize-space(@class), ' '), ' tgme_widget_message ')])]"
)
MAX_REASON = 300  # characters of Telegram's words kept as evidence


@dataclass
class CommunityPage:
    """What one t.me page shows. `kind` is what the page itself says it is: channel, group,
    bot, user (a person's account: its title is never kept), or None (no kind shown)."""

    kind: str | None
    title: str | None
    metrics: dict[str, float] = field(default_factory=dict)
    blocked: str | None = None  # Telegram's block notice, verbatim
    missing: str | None = None  # why this is no community page: the page's own words


def _squash(text: str) -> str:
    return " ".join(text.split())


def _inline_text(sel: Selector) -> str:
    """An element's text as a reader sees it ('contact <br><b>X</b> right away.')."""
    return _squash("".join(sel.css("::text").getall()))


def block_notice(html: str) -> str | None:
    """Telegram's block notice on a page (outside its posts), or None."""
    text = _squash(" ".join(Selector(text=html).xpath(_PAGE_TEXT).getall()))
    m = _BLOCK_RE.search(text)
    return m.group(0).strip()[:MAX_REASON] if m else None


def _title(sel: Selector) -> str | None:
    node = sel.css(".tgme_page_title")
    if not node:
        return None
    title = _squash(" ".join(node.css("span::text").getall())) or _squash(
        " ".join(node[0].xpath("./text()").getall())
    )
    return title or None


def _counts(extras: list[str]) -> tuple[str | None, dict[str, float]]:
    """The kind and metrics the `.tgme_page_extra` lines state."""
    kind: str | None = None
    metrics: dict[str, float] = {}

    def put(metric: str, match: re.Match[str] | None) -> bool:
        value = parse_count(match.group(1).strip(" .,")) if match else None
        if value is None:
            return False
        metrics[metric] = float(value)
        return True

    for line in extras:
        if put("monthly_users", _MONTHLY_RE.search(line)):
            kind = "bot"
        elif put("members", _SUBSCRIBERS_RE.search(line)):
            kind = kind or "channel"
        elif put("members", _MEMBERS_RE.search(line)):
            kind = "group"
            put("online_members", _ONLINE_RE.search(line))
    return kind, metrics


def _missing_words(sel: Selector) -> str:
    """What a page without a community says, in Telegram's words."""
    parts = [
        _squash(sel.css("title::text").get() or ""),
        *(_inline_text(s) for s in sel.css(".tgme_page_additional, .tgme_page_description")),
    ]
    words = " · ".join(p for p in dict.fromkeys(parts) if p)
    return (words or "an empty page")[:MAX_REASON]


def parse_page(html: str) -> CommunityPage:
    """A `t.me/{name}` page → kind, title, metrics, and a block notice or why it is no community."""
    sel = Selector(text=html)
    blocked = block_notice(html)
    title = _title(sel)
    extras = [_squash(" ".join(e.css("::text").getall())) for e in sel.css(".tgme_page_extra")]
    kind, metrics = _counts(extras)
    if kind is None:
        handles = [m.group(1) for m in (_HANDLE_RE.match(x) for x in extras) if m]
        if handles:  # only Telegram bots may have a username ending in "bot"
            kind = "bot" if handles[0].lower().endswith("bot") else "user"
        elif "start bot" in _squash(" ".join(sel.css(".tgme_action_button_new ::text").getall())).lower():
            kind = "bot"
    if kind == "user":
        title = None  # a person's name is never stored
    if title is None and blocked is None:
        missing = "it is a person's account" if kind == "user" else _missing_words(sel)
        return CommunityPage(kind=kind, title=None, metrics={}, missing=missing)
    return CommunityPage(kind=kind, title=title, metrics=metrics, blocked=blocked)
