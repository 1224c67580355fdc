"""Forums: Discourse (JSON) and phpBB (pages) boards, with a Scrapy spider (spiders.forums)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, ValidationInfo, model_validator

from crawler.entries import (
    Policy,
    Strict,
    TargetMaker,
    WatchTarget,
    brief,
    check_unique,
    is_http_url,
    refuse_private_host,
    url_host,
)
from crawler.plugins import SourceSpec


class ForumEntry(Strict):
    SHAPE: ClassVar[str] = "a mapping with url and engine (phpbb or discourse)"

    url: str
    engine: Literal["phpbb", "discourse"]
    name: str | None = None
    content: Policy | None = None
    nsfw: bool | None = None
    tags: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _url(self, info: ValidationInfo) -> ForumEntry:
        if not is_http_url(self.url):
            raise ValueError(f"{brief(self.url)} is not an http(s) URL")
        refuse_private_host(url_host(self.url), info, "the forum host")
        return self

    @property
    def base_url(self) -> str:
        return self.url.rstrip("/")

    def identity(self) -> str:
        return self.base_url.lower()


def _unique(section: tuple[ForumEntry, ...]) -> tuple[ForumEntry, ...]:
    check_unique(section)
    return section


ForumsWatch = Annotated[tuple[ForumEntry, ...], AfterValidator(_unique)]


def _targets(section: tuple[ForumEntry, ...], make: TargetMaker) -> list[WatchTarget]:
    return [
        make.one(
            "forum",
            "forum",
            f.name or f.base_url,
            f,
            {"url": f.base_url, "engine": f.engine},
            hosts=(url_host(f.url),),
        )
        for f in section
    ]


SOURCE: Any = SourceSpec(
    name="forums",
    platform="forum",
    kinds=("forum",),
    how="Scrapy, Discourse JSON / phpBB pages",
    fetcher="spiders.forums:ForumsSpider",
    engine="scrapy",
    order=60,
    watch=ForumsWatch,
    watch_default=(),
    targets=_targets,
    watch_doc=("forums",),
    metrics=("members", "posts_total", "topics", "online_members", "active_users"),
    notes="URL per entry",
)
