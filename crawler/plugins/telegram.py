"""Telegram: public channels, groups and bots through their web pages (spiders.telegram)."""

from __future__ import annotations

import re
from typing import Any

from crawler.entries import Entry, Section, TargetMaker, WatchTarget, named
from crawler.plugins import Endpoint, Follow, SourceSpec

# Telegram sells 4-character names now; the rule accepts them though it says 5-32.
CHANNEL_RULE = named(
    r"[A-Za-z][A-Za-z0-9_]{3,31}",
    "a Telegram channel name is 5-32 letters, digits or _, starting with a letter",
)
GROUP_RULE = named(
    r"[A-Za-z][A-Za-z0-9_]{3,31}",
    "a Telegram group name is 5-32 letters, digits or _, starting with a letter",
)
BOT_RULE = (
    re.compile(r"[A-Za-z][A-Za-z0-9_]{1,28}bot", re.IGNORECASE),
    'a Telegram bot name is 5-32 letters, digits or _, starting with a letter and ending in "bot"',
)


class Channel(Entry):
    NAME_RULE = CHANNEL_RULE


class Group(Entry):
    NAME_RULE = GROUP_RULE


class Bot(Entry):
    NAME_RULE = BOT_RULE


class TelegramWatch(Section):
    channels: tuple[Channel, ...] = ()
    groups: tuple[Group, ...] = ()  # public groups: members, online
    bots: tuple[Bot, ...] = ()  # bots: the "monthly users" t.me shows


def _targets(section: TelegramWatch, make: TargetMaker) -> list[WatchTarget]:
    return (
        make.named("telegram", "channel", section.channels)
        + make.named("telegram", "group", section.groups)
        + make.named("telegram", "bot", section.bots)
    )


SOURCE: Any = SourceSpec(
    name="telegram",
    platform="telegram",
    kinds=("channel", "group", "bot"),
    how="Scrapy, public preview and t.me pages",
    fetcher="spiders.telegram:TelegramSpider",
    engine="scrapy",
    order=50,
    watch=TelegramWatch,
    watch_default=TelegramWatch(),
    targets=_targets,
    watch_doc=("telegram.channels", "telegram.groups", "telegram.bots"),
    endpoints=(Endpoint("telegram", "https://t.me", "Telegram's public web pages"),),
    metrics=("members", "online_members", "monthly_users"),
    headline=(("bot", "monthly_users"),),
    follows=(Follow("channel", "channels"), Follow("group", "groups"), Follow("bot", "bots")),
)
