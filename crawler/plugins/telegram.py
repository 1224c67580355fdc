"""Telegram: public channels through their web pages, with a Scrapy spider (spiders.telegram)."""

from __future__ import annotations

from typing import Any

from crawler.entries import Entry, Section, TargetMaker, WatchTarget, named
from crawler.plugins import Endpoint, Follow, SourceSpec

CHANNEL_RULE = named(
    r"[A-Za-z][A-Za-z0-9_]{3,31}",
    "a Telegram channel name is 5-32 letters, digits or _, starting with a letter",
)


class Channel(Entry):
    NAME_RULE = CHANNEL_RULE


class TelegramWatch(Section):
    channels: tuple[Channel, ...] = ()


def _targets(section: TelegramWatch, make: TargetMaker) -> list[WatchTarget]:
    return make.named("telegram", "channel", section.channels)


SOURCE: Any = SourceSpec(
    name="telegram",
    platform="telegram",
    kinds=("channel",),
    how="Scrapy, public preview pages",
    fetcher="spiders.telegram:TelegramSpider",
    engine="scrapy",
    order=50,
    watch=TelegramWatch,
    watch_default=TelegramWatch(),
    targets=_targets,
    watch_doc=("telegram.channels",),
    endpoints=(Endpoint("telegram", "https://t.me", "Telegram's public web pages"),),
    metrics=("members",),
    follows=(Follow("channel", "channels"),),
)
