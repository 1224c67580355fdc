"""Civitai: models by id and searches through the public REST API (crawler.sources.civitai).

There is no official Python client; the fetcher uses the project's HTTP stack (requests,
bounded retries, Retry-After). Adult content moved to a second domain in April 2026, so an
entry may name its own endpoint (`endpoint: https://civitai.red`); such an entry names a host,
and loopback or private hosts are refused like every other host a watchlist names.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, ValidationInfo, model_validator

from crawler.entries import (
    Entry,
    EntryError,
    Section,
    Strict,
    TargetMaker,
    WatchTarget,
    brief,
    is_http_url,
    named,
    refuse_private_host,
    url_host,
)
from crawler.plugins import Credential, Endpoint, Follow, SourceSpec


class _OnEndpoint(Entry):
    """An entry that may name its own base URL instead of `DFWATCH_ENDPOINT_CIVITAI`."""

    SHAPE: ClassVar[str] = "a name, or a mapping with name and optional endpoint, content, nsfw, tags"

    endpoint: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _number_name(cls, value: Any) -> Any:
        """`{name: 123456}`: YAML reads the id as an integer."""
        if (
            isinstance(value, dict)
            and isinstance(value.get("name"), int)
            and not isinstance(value["name"], bool)
        ):
            return {**value, "name": str(value["name"])}
        return value

    @model_validator(mode="after")
    def _endpoint(self, info: ValidationInfo) -> _OnEndpoint:
        if self.endpoint is not None:
            if not is_http_url(self.endpoint):
                raise ValueError(f"endpoint {brief(self.endpoint)} is not an http(s) URL")
            refuse_private_host(url_host(self.endpoint), info, "the endpoint")
        return self

    @property
    def base_url(self) -> str | None:
        return self.endpoint.rstrip("/") if self.endpoint else None

    @property
    def host(self) -> str | None:
        return url_host(self.endpoint) if self.endpoint else None


class Model(_OnEndpoint):
    NAME_RULE = named(
        r"[1-9][0-9]{0,11}", "a Civitai model is named by its numeric id (civitai.com/models/ID)"
    )


class Search(_OnEndpoint):
    @property
    def handle(self) -> str:
        """The query, and `@host` when the entry names its own endpoint (another site's results)."""
        query = " ".join(self.name.split())
        return f"{query}@{self.host}" if self.host else query

    def identity(self) -> str:
        return self.handle.lower()


class CivitaiWatch(Section):
    models: tuple[Model, ...] = ()
    searches: tuple[Search, ...] = ()

    @model_validator(mode="after")
    def _searches(self) -> CivitaiWatch:
        for i, s in enumerate(self.searches):
            if not s.name.strip():
                raise EntryError(("searches", i), "an empty search")
        return self


class CivitaiSettings(Strict):
    max_pages: int = Field(
        10, ge=1, le=100, description="search pages (100 models each) per search per crawl"
    )
    # Civitai publishes no limit; its edge answers 429 past a burst. A guess, kept modest.
    budget_requests: int = Field(
        100,
        ge=1,
        le=100_000,
        description="distributed crawl: requests per window per API key (per machine without one)",
    )
    budget_window_seconds: int = Field(
        60,
        ge=1,
        le=86_400,
        description="distributed crawl: the sliding window of `budget_requests` (seconds)",
    )


def _targets(section: CivitaiWatch, make: TargetMaker) -> list[WatchTarget]:
    def one(kind: str, handle: str, entry: _OnEndpoint) -> WatchTarget:
        extra = {"endpoint": entry.base_url, "query": " ".join(entry.name.split())}
        return make.one("civitai", kind, handle, entry, extra, hosts=(entry.host,) if entry.host else ())

    return [one("model", m.name, m) for m in section.models] + [
        one("query", s.handle, s) for s in section.searches
    ]


SOURCE: Any = SourceSpec(
    name="civitai",
    platform="civitai",
    kinds=("model", "query"),
    how="requests, REST API v1",
    fetcher="crawler.sources.civitai:CivitaiSource",
    order=90,
    watch=CivitaiWatch,
    watch_default=CivitaiWatch(),
    targets=_targets,
    watch_doc=("civitai.models", "civitai.searches"),
    settings=CivitaiSettings,
    credentials=(
        Credential(
            "CIVITAI_API_KEY",
            False,
            "requests as your Civitai account (Authorization: Bearer); the public endpoints answer without",
        ),
    ),
    endpoints=(Endpoint("civitai", "https://civitai.com", "Civitai's REST API (v1)"),),
    metrics=("downloads_total", "likes", "comments", "models"),
    headline=(("model", "downloads_total"), ("query", "models")),
    notes="endpoint per entry",
    follows=(Follow("model", "models"),),
)
