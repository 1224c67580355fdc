"""Discord: servers through their public invites, with a Scrapy spider (spiders.discord)."""

from __future__ import annotations

from typing import Any

from crawler.entries import Entry, Section, TargetMaker, WatchTarget, named
from crawler.plugins import Endpoint, Follow, SourceSpec


class Invite(Entry):
    NAME_RULE = named(r"[A-Za-z0-9-]{2,32}", "a Discord invite code is 2-32 letters, digits or -")

    def identity(self) -> str:
        return self.name  # invite codes are case-sensitive


class DiscordWatch(Section):
    invites: tuple[Invite, ...] = ()


def _targets(section: DiscordWatch, make: TargetMaker) -> list[WatchTarget]:
    return make.named("discord", "server", section.invites)


SOURCE: Any = SourceSpec(
    name="discord",
    platform="discord",
    kinds=("server",),
    how="Scrapy, invite API",
    fetcher="spiders.discord:DiscordSpider",
    engine="scrapy",
    order=40,
    watch=DiscordWatch,
    watch_default=DiscordWatch(),
    targets=_targets,
    watch_doc=("discord.invites",),
    endpoints=(Endpoint("discord", "https://discord.com", "Discord's invite API"),),
    metrics=("members", "online_members"),
    follows=(Follow("server", "invites"),),
)
