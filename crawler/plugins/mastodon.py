"""Mastodon: hashtags on any instance, with a Scrapy spider (spiders.mastodon)."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pydantic import ValidationInfo, model_validator

from crawler.entries import (
    HOST_RE,
    Policy,
    Section,
    Strict,
    TargetMaker,
    WatchTarget,
    brief,
    instance_host,
    refuse_private_host,
)
from crawler.plugins import SourceSpec

TAG_RE = re.compile(r"[^\W][\w]{0,99}", re.UNICODE)


class MastodonTag(Strict):
    SHAPE: ClassVar[str] = "a mapping with instance and tag"

    instance: str
    tag: str
    content: Policy | None = None
    nsfw: bool | None = None
    tags: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _valid(self, info: ValidationInfo) -> MastodonTag:
        if not HOST_RE.fullmatch(self.host):
            raise ValueError(f"{brief(self.instance)} is not a host name or http(s) URL")
        refuse_private_host(self.host.rsplit(":", 1)[0], info, "the instance")
        if not TAG_RE.fullmatch(self.tag.lstrip("#")):
            raise ValueError(f"{brief(self.tag)} is not a hashtag")
        return self

    @property
    def host(self) -> str:
        return instance_host(self.instance)

    @property
    def name(self) -> str:
        return f"{self.tag.lstrip('#')}@{self.host}"

    def identity(self) -> str:
        return self.name.lower()


class MastodonWatch(Section):
    hashtags: tuple[MastodonTag, ...] = ()


def _targets(section: MastodonWatch, make: TargetMaker) -> list[WatchTarget]:
    return [
        make.one(
            "mastodon",
            "hashtag",
            m.name,
            m,
            {"instance": m.instance, "tag": m.tag.lstrip("#")},
            hosts=(m.host.rsplit(":", 1)[0],),
        )
        for m in section.hashtags
    ]


SOURCE: Any = SourceSpec(
    name="mastodon",
    platform="mastodon",
    kinds=("hashtag",),
    how="Scrapy, tags API",
    fetcher="spiders.mastodon:MastodonSpider",
    engine="scrapy",
    order=70,
    watch=MastodonWatch,
    watch_default=MastodonWatch(),
    targets=_targets,
    watch_doc=("mastodon.hashtags",),
    metrics=("accounts_per_day", "posts_per_day"),
    notes="instance per entry",
)
