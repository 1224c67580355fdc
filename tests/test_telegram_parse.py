"""The t.me page parsers against pages derived from real t.me pages (each fixture says where
its shape came from): a channel with its preview, a channel without, a group, a bot, a
blocked community, an unknown name."""

from __future__ import annotations

import pytest

from crawler.records import CommunityKey
from spiders.parsers.telegram import parse_preview
from spiders.parsers.telegram_page import block_notice, parse_page
from tests.fakes.web import telegram_page_html, telegram_preview_html

TOS = "This channel can't be displayed because it violated Telegram's Terms of Service."

# Every form Telegram prints a count in: grouped by a space, a no-break space (U+00A0), a
# narrow no-break space (U+202F) or commas, and abbreviated with K / M (point or comma).
COUNTS = [
    ("1 474 933", 1_474_933),
    ("1\u00a0474\u00a0933", 1_474_933),
    ("1\u202f474\u202f933", 1_474_933),
    ("1,474,933", 1_474_933),
    ("1.48M", 1_480_000),
    ("12.3K", 12_300),
    ("12,3K", 12_300),
    ("987", 987),
]


@pytest.mark.parametrize(("text", "expected"), COUNTS)
def test_channel_without_preview_gives_title_and_subscribers_in_every_form(text: str, expected: int) -> None:
    page = parse_page(telegram_page_html("channel", "faceswaparchive", SUBSCRIBERS=text))
    assert (page.kind, page.title) == ("channel", "Face Swap Archive")
    assert page.metrics == {"members": expected}
    assert page.blocked is None and page.missing is None


@pytest.mark.parametrize(("text", "expected"), COUNTS)
def test_group_gives_members_and_online(text: str, expected: int) -> None:
    page = parse_page(telegram_page_html("group", "faceswaphelp", MEMBERS=text, ONLINE="4\u00a0445"))
    assert (page.kind, page.title) == ("group", "Face Swap Help")
    assert page.metrics == {"members": expected, "online_members": 4445}


def test_group_without_an_online_figure_leaves_it_absent() -> None:
    html = telegram_page_html("group", "quietgroup", MEMBERS="1", ONLINE="0")
    html = html.replace("1 members, 0 online", "1 member")
    assert parse_page(html).metrics == {"members": 1}


@pytest.mark.parametrize(("text", "expected"), COUNTS)
def test_bot_gives_monthly_users_and_its_title(text: str, expected: int) -> None:
    page = parse_page(telegram_page_html("bot", "SwapFaceBot", USERS=text))
    assert (page.kind, page.title) == ("bot", "Swap Face Bot")
    assert page.metrics == {"monthly_users": expected}


def test_bot_too_small_to_show_users_is_a_bot_without_the_metric() -> None:
    """The older recorded bot page: a title without span, only "@name", "Send Message"."""
    html = (
        '<div class="tgme_page"><div class="tgme_page_title">AofieeBot</div>'
        '<div class="tgme_page_extra">\n  @aofieebot\n</div>'
        '<div class="tgme_page_action"><a class="tgme_action_button_new">Send Message</a></div></div>'
    )
    page = parse_page(html)
    assert (page.kind, page.title, page.metrics, page.missing) == ("bot", "AofieeBot", {}, None)


def test_a_persons_account_is_no_community_and_its_name_is_not_kept() -> None:
    html = (
        '<div class="tgme_page_title"><span dir="auto">Some Person</span></div>'
        '<div class="tgme_page_extra">@someperson</div>'
    )
    page = parse_page(html)
    assert page.kind == "user" and page.title is None and page.missing
    assert "Some Person" not in page.missing


@pytest.mark.parametrize(
    "notice",
    [
        TOS,
        "This group can't be displayed because it violated Telegram's Terms of Service.",
        "This channel can\u2019t be displayed because it was used to spread pornographic content.",
        "This group can't be displayed because it was used to spread pornographic content.",
        "This channel can't be displayed in your country because it violates local laws.",
        "This bot can't be displayed because it violated Telegram's Terms of Service.",
        "This channel is blocked because it was used to spread pornographic content.",
    ],
)
def test_blocked_community_keeps_telegrams_words(notice: str) -> None:
    page = parse_page(telegram_page_html("blocked", "undressnews", NOTICE=notice))
    assert page.blocked == notice
    assert page.title == "Undress Bot News" and page.missing is None


def test_unknown_name_is_missing_with_the_pages_own_words() -> None:
    page = parse_page(telegram_page_html("unknown", "nosuchname"))
    assert page.kind is None and page.title is None and page.blocked is None
    assert page.missing == (
        "Telegram: Contact @nosuchname · If you have Telegram, you can contact @nosuchname right away."
    )


def test_bare_telegram_messenger_page_is_missing() -> None:
    page = parse_page("<html><head><title>Telegram Messenger</title></head><body></body></html>")
    assert page.missing == "Telegram Messenger"


def test_preview_with_counter_and_posts_is_no_block_even_when_a_post_quotes_a_notice() -> None:
    html = telegram_preview_html("faceswapnews", "1.48M").replace("Which is faster", f"{TOS} Which is faster")
    preview = parse_preview(html, CommunityKey("telegram", "channel", "faceswapnews"))
    assert (preview.title, preview.members, len(preview.posts)) == ("Face Swap News", 1_480_000, 2)
    assert block_notice(html) is None  # a post quoting Telegram's words is not Telegram saying them
    assert block_notice(html.replace("Releases and tutorials.", TOS)) == TOS
