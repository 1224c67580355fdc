"""Telegram's public pages: the channel preview t.me/s/{name}, the plain page t.me/{name}, robots.txt.

The preview follows the page's documented classes: the counter block
(`tgme_channel_info_counter` > `counter_value` + `counter_type`) and one
`tgme_widget_message` per post (data-post="channel/id", a `time` with an ISO datetime,
`tgme_widget_message_views`, `tgme_widget_message_text`). Up to 20 posts a page, newest at the
bottom as on the real page; `?before=ID` pages back.

`/s/{name}` redirects to `/{name}` for a channel whose preview is off, for every group and
bot, and for names that are blocked or unknown, as t.me does. The plain page names the
community (`tgme_page_title`) and gives its size in `tgme_page_extra`, written out in full
with spaces between thousands: "1 474 933 subscribers" (channel), "95 451 members, 4 445
online" (group), "@name" then "3 544 775 monthly users" (bot). A community Telegram blocked
shows its title and Telegram's notice in place of the description; an unknown name gets the
generic "Telegram: Contact @name" page, with no title.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html import escape

from crawler.sim.content import Item
from crawler.sim.platform import Platform
from crawler.sim.wire import Route, SimRequest, SimResponse, route
from crawler.sim.world import Entity

PAGE = 20
LOOKBACK_DAYS = 120  # how far back a preview page searches for posts


KINDS = ("channel", "group", "bot")


def spaced(n: int) -> str:
    """Telegram's full counts on t.me/{name}: 1 474 933."""
    return f"{n:,}".replace(",", " ")


def _unknown_page(name: str) -> str:
    """What t.me serves for a name no community holds: no title, no counts."""
    n = escape(name)
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>Telegram: Contact @{n}</title>'
        f'<meta property="og:title" content="Telegram: Contact @{n}"></head><body>'
        f'<div class="tgme_page_wrap"><div class="tgme_page"><div class="tgme_page_icon">'
        f'<i class="tgme_icon_user"></i></div><div class="tgme_page_action"><a class="tgme_action_button_new" '
        f'href="tg://resolve?domain={n}">Send Message</a></div><div class="tgme_page_additional">'
        f"If you have <strong>Telegram</strong>, you can contact "
        f'<a class="tgme_username_link" href="tg://resolve?domain={n}">@{n}</a> right away.</div>'
        f"</div></div></body></html>"
    )


def compact(n: int) -> str:
    """Telegram's short counts: 950, 1.2K, 12.3K, 1.2M."""
    if n < 1000:
        return str(n)
    for div, suffix in ((1_000_000, "M"), (1000, "K")):
        if n >= div:
            text = f"{n / div:.1f}".rstrip("0").rstrip(".")
            return f"{text}{suffix}"
    return str(n)


class Telegram(Platform):
    name = "telegram"

    def routes(self) -> list[Route]:
        p = self.name
        return [
            route(p, "robots", "GET", r"^/robots\.txt$", self.robots),
            route(p, "preview", "GET", r"^/s/(?P<channel>[A-Za-z0-9_]+)/?$", self.preview),
            route(p, "page", "GET", r"^/(?P<channel>[A-Za-z][A-Za-z0-9_]{3,31})/?$", self.page),
        ]

    def too_many(self, retry_after: int) -> SimResponse:
        return SimResponse.text(429, "Too Many Requests", {"Retry-After": str(retry_after)})

    def server_error(self, status: int) -> SimResponse:
        return SimResponse.html(status, "<html><body><h1>Service Unavailable</h1></body></html>")

    def robots(self, req: SimRequest) -> SimResponse:
        return SimResponse.text(200, self.world.robots_txt)

    def find(self, name: str) -> Entity | None:
        """The channel, group or bot with this name (one name is one community on Telegram)."""
        for kind in KINDS:
            e = self.world.get("telegram", kind, name)
            if e is not None:
                return e
        return None

    def page(self, req: SimRequest) -> SimResponse:
        name = req.params["channel"]
        e = self.find(name)
        if e is None or self.world.status(e) == "not_found":
            return SimResponse.html(200, _unknown_page(name))
        ev = self.world.event_at(e)
        title = escape(e.title or e.name)
        if self.world.status(e) == "banned":
            notice = ev.reason if ev is not None and ev.reason else "This channel can't be displayed."
            extras = ""
            description = escape(notice)
        else:
            extras = self._extras(e)
            description = f"{escape(e.title or e.name)} on Telegram."
        launch = e.kind == "bot"
        head = f"Telegram: {'Launch' if launch else 'View'} @{escape(e.name)}"
        button = "Start Bot" if launch else "View in Telegram"
        return SimResponse.html(
            200,
            f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{head}</title>'
            f'<meta property="og:title" content="{title}"></head><body><div class="tgme_page_wrap">'
            f'<div class="tgme_page"><div class="tgme_page_title"><span dir="auto">{title}</span></div>'
            f'{extras}<div class="tgme_page_description" dir="auto">{description}</div>'
            f'<div class="tgme_page_action"><a class="tgme_action_button_new" '
            f'href="tg://resolve?domain={escape(e.name)}">{button}</a></div>'
            f"</div></div></body></html>",
        )

    def _extras(self, e: Entity) -> str:
        n = self.world.members(e)
        if e.kind == "bot":  # the handle, then the bot's figure
            return (
                f'<div class="tgme_page_extra">@{escape(e.name)}</div>'
                f'<div class="tgme_page_extra">{spaced(n)} monthly users</div>'
            )
        if e.kind == "group":
            share = self.world.rng("online", e.key, self.world.day_of(self.world.now())).uniform(0.005, 0.08)
            return (
                f'<div class="tgme_page_extra">{spaced(n)} members, {spaced(round(n * share))} online</div>'
            )
        return f'<div class="tgme_page_extra">{spaced(n)} subscribers</div>'

    def _message(self, e: Entity, item: Item) -> str:
        when = datetime.fromtimestamp(item.created, UTC)
        link = f' <a href="{escape(item.url)}" target="_blank">{escape(item.url)}</a>' if item.url else ""
        views = compact(item.grown(item.views, self.world.now().timestamp(), days=3))
        post = f"{e.name}/{item.id_num}"
        return (
            f'<div class="tgme_widget_message_wrap js-widget_message_wrap">'
            f'<div class="tgme_widget_message text_not_supported_wrap js-widget_message" data-post="{post}">'
            f'<div class="tgme_widget_message_bubble">'
            f'<div class="tgme_widget_message_text js-message_text" dir="auto">{escape(item.text)}{link}</div>'
            f'<div class="tgme_widget_message_footer"><div class="tgme_widget_message_info js-message_info">'
            f'<span class="tgme_widget_message_views">{views}</span>'
            f'<span class="tgme_widget_message_meta"><a class="tgme_widget_message_date" href="https://t.me/{post}">'
            f'<time datetime="{when.isoformat()}" class="time">{when:%H:%M}</time></a></span>'
            f"</div></div></div></div></div>"
        )

    def preview(self, req: SimRequest) -> SimResponse:
        name = req.params["channel"]
        e = self.world.get("telegram", "channel", name)
        if e is None or self.world.status(e) in ("not_found", "banned") or not e.extra.get("preview", True):
            return SimResponse(302, b"", {"Location": f"{req.base_url}/{name}"})
        now = self.world.now()
        before = req.int_arg("before", 0, 0, 2**62)
        items = [
            it
            for it in self.world.items_between(e, now - timedelta(days=LOOKBACK_DAYS), now, newest_first=True)
            if it.state(now.timestamp()) == "visible" and (not before or it.id_num < before)
        ][:PAGE]
        items.reverse()  # the page shows the oldest of its posts first
        members = self.world.members(e)
        prev = f'<link rel="prev" href="/s/{e.name}?before={items[0].id_num}">' if items else ""
        messages = "".join(self._message(e, it) for it in items)
        html = (
            f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{escape(e.title or e.name)} – Telegram</title>'
            f'{prev}</head><body><div class="tgme_channel_info">'
            f'<div class="tgme_channel_info_header_title"><span dir="auto">{escape(e.title or e.name)}</span></div>'
            f'<div class="tgme_channel_info_header_username"><a href="https://t.me/{e.name}">@{e.name}</a></div>'
            f'<div class="tgme_channel_info_counters">'
            f'<div class="tgme_channel_info_counter"><span class="counter_value">{compact(members)}</span> '
            f'<span class="counter_type">subscribers</span></div></div></div>'
            f'<section class="tgme_channel_history js-message_history">{messages}</section></body></html>'
        )
        return SimResponse.html(200, html)
