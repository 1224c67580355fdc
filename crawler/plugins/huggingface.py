"""Hugging Face: models, spaces, authors and searches on the Hub, with huggingface_hub.

The fetcher (crawler.sources.huggingface) speaks to the Hub only through `HfApi(endpoint=...)`.
Model ids name their author and, for likeness models, often a real person: see
docs/ethics.md for what is kept of them.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, model_validator

from crawler.entries import Entry, EntryError, Section, Strict, TargetMaker, WatchTarget, brief, named
from crawler.plugins import Credential, Endpoint, Follow, SourceSpec

# huggingface_hub's own rule (utils/_validators.py, validate_repo_id): letters, digits, "-",
# "_" and "."; at most 96 characters a part; no "--" or ".."; not ending in ".git".
_PART = r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?"
REPO_RULE = named(rf"{_PART}/{_PART}", "a Hugging Face repository is written owner/name")
AUTHOR_RULE = named(_PART, "a Hugging Face author is a user or organisation name (letters, digits, -, _, .)")
_BAD = re.compile(r"--|\.\.|\.git$")


def _check_repo(name: str) -> None:
    if _BAD.search(name):
        raise ValueError(f"{brief(name)} is not a valid name: '--', '..' and a '.git' ending are not allowed")


class Repo(Entry):
    NAME_RULE = REPO_RULE

    @model_validator(mode="after")
    def _parts(self) -> Repo:
        _check_repo(self.name)
        return self

    @property
    def owner(self) -> str:
        return self.name.partition("/")[0]


class Author(Entry):
    NAME_RULE = AUTHOR_RULE


class Search(Entry):
    def identity(self) -> str:
        return " ".join(self.name.split()).lower()


class HuggingFaceWatch(Section):
    models: tuple[Repo, ...] = ()
    spaces: tuple[Repo, ...] = ()
    authors: tuple[Author, ...] = ()
    searches: tuple[Search, ...] = ()

    @model_validator(mode="after")
    def _searches(self) -> HuggingFaceWatch:
        for i, s in enumerate(self.searches):
            if not s.name.strip():
                raise EntryError(("searches", i), "an empty search")
        return self


class HuggingFaceSettings(Strict):
    max_pages: int = Field(
        10, ge=1, le=100, description="listing pages per author or search per crawl (the Hub pages them)"
    )
    # The Hub allows 1,000 API calls per 5 minutes with a free token, 500 per IP without one;
    # ten are kept back for requests in flight at a window's edge.
    budget_requests_token: int = Field(
        990, ge=1, le=100_000, description="distributed crawl: calls per window with HF_TOKEN, all workers"
    )
    budget_requests_anonymous: int = Field(
        490, ge=1, le=100_000, description="distributed crawl: calls per window without a token, per machine"
    )
    budget_window_seconds: int = Field(
        300,
        ge=1,
        le=86_400,
        description="distributed crawl: the sliding window of the Hub's budgets (seconds)",
    )


def _targets(section: HuggingFaceWatch, make: TargetMaker) -> list[WatchTarget]:
    return (
        make.named("huggingface", "model", section.models)
        + make.named("huggingface", "space", section.spaces)
        + make.named("huggingface", "author", section.authors)
        + [make.one("huggingface", "query", " ".join(s.name.split()), s) for s in section.searches]
    )


SOURCE: Any = SourceSpec(
    name="huggingface",
    platform="huggingface",
    kinds=("model", "space", "author", "query"),
    how="huggingface_hub, Hub API",
    fetcher="crawler.sources.huggingface:HuggingFaceSource",
    order=80,
    watch=HuggingFaceWatch,
    watch_default=HuggingFaceWatch(),
    targets=_targets,
    watch_doc=("huggingface.models", "huggingface.spaces", "huggingface.authors", "huggingface.searches"),
    settings=HuggingFaceSettings,
    credentials=(
        Credential("HF_TOKEN", False, "1,000 Hub API calls per 5 minutes instead of 500 (a read token)"),
    ),
    endpoints=(Endpoint("huggingface", "https://huggingface.co", "the Hugging Face Hub API"),),
    metrics=("downloads", "downloads_total", "likes", "models", "spaces"),
    headline=(
        ("model", "downloads_total"),
        ("space", "likes"),
        ("author", "downloads_total"),
        ("query", "models"),
    ),
    follows=(Follow("model", "models"), Follow("space", "spaces")),
)
