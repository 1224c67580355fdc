"""Sources as plug-ins: each source is declared once, in one module of this package.

A declaration (`SourceSpec`) says everything the rest of dfwatch needs to know about a
source without importing its client: its name, platform and kinds, its watchlist section (a
pydantic model with its own validators) and how entries become targets, its settings
section, its credentials, its endpoints with their defaults, the metrics it records, and
its fetcher (an API client class or a Scrapy spider, named by import path and loaded only
when it runs). The config loader, the source registry, `dfwatch sources`, the simulation's
fault table, the README's environment table and docs/sources.md all read these.

Adding a platform: a declaration module here, a fetcher module, a pure parser module, its
simulated endpoint, its tests and its docs row. Nothing else is edited.

Declarations import only pydantic and `crawler.entries`.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from crawler.entries import TargetMaker, WatchTarget

Engine = Literal["api", "scrapy"]


@dataclass(frozen=True)
class Credential:
    """An environment variable a source reads (never stored or logged)."""

    variable: str
    required: bool
    enables: str  # what it gives: "the source", "5,000 requests an hour instead of 60"
    # Target kinds that are skipped without it (an optional credential some targets need:
    # Bluesky's searches); `dfwatch sources` counts them.
    kinds: tuple[str, ...] = ()


@dataclass(frozen=True)
class Endpoint:
    """A base URL, overridable with DFWATCH_ENDPOINT_<NAME> or `[endpoints] name = URL`."""

    name: str
    default: str
    about: str
    follows: str | None = None  # another endpoint whose override this one takes when unset


@dataclass(frozen=True)
class Follow:
    """How a discovered community of one kind becomes an entry of this source's section.

    Discovery (crawler.discover) reads links to communities as (platform, kind, handle)
    keys; `dfwatch watch add` and auto-watch write them to `watchlist.d/discovered.yaml`
    through this: `kind` is the candidate's kind, `key` the list of the section that holds
    it ("subreddits"; "" where the section itself is the list), and `entry` turns a handle
    into the entry written there (default: a mapping with the handle as `name`; discovery
    adds `tags` and, for auto-watched ones, `content`).
    """

    kind: str
    key: str
    entry: Callable[[str], Any] | None = None

    def entry_for(self, handle: str) -> Any:
        return self.entry(handle) if self.entry is not None else {"name": handle}


@dataclass(frozen=True)
class SourceSpec:
    """One source, declared once (see the module docstring)."""

    name: str
    platform: str
    kinds: tuple[str, ...]
    how: str  # one line for the docs table: "praw, OAuth API"
    fetcher: str  # "module:Class"; a Source subclass (api) or a Scrapy spider (scrapy)
    engine: Engine = "api"
    order: int = 100  # position in listings (DESIGN.md's order first)
    section: str | None = None  # watchlist section name; default: the source's name
    watch: Any = None  # the section's pydantic model (or a tuple annotation for list sections)
    watch_default: Any = None  # the section's value when the watchlist omits it
    targets: Callable[[Any, TargetMaker], list[WatchTarget]] | None = None
    watch_doc: tuple[str, ...] = ()  # the watchlist keys, as the docs table names them
    settings: Any = None  # a pydantic model for `[<name>]` in settings.toml, or None
    credentials: tuple[Credential, ...] = ()
    endpoints: tuple[Endpoint, ...] = ()
    metrics: tuple[str, ...] = ()  # metric names it records (the codebook documents each)
    # The figure a report leads with, per kind (default "members"): a model's downloads, a
    # bot's monthly users, a repository's stars.
    headline: tuple[tuple[str, str], ...] = ()
    shares: str | None = None  # another source whose communities this one's targets are
    notes: str = ""  # one line for the docs table
    # Which kinds discovery may add to this section, and how (see Follow).
    follows: tuple[Follow, ...] = ()

    @property
    def section_name(self) -> str:
        return self.section or self.name

    @property
    def required_env(self) -> tuple[str, ...]:
        return tuple(c.variable for c in self.credentials if c.required)

    @property
    def optional_env(self) -> tuple[str, ...]:
        return tuple(c.variable for c in self.credentials if not c.required)

    def targets_of(self, section: Any, maker: TargetMaker) -> list[WatchTarget]:
        return self.targets(section, maker) if self.targets and section is not None else []


@cache
def declared() -> tuple[SourceSpec, ...]:
    """Every declared source, in listing order (DESIGN.md's order, then by name)."""
    specs: list[SourceSpec] = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        spec = getattr(module, "SOURCE", None)
        if isinstance(spec, SourceSpec):
            specs.append(spec)
    names = [s.name for s in specs]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise RuntimeError(f"sources declared twice: {', '.join(sorted(dupes))}")
    return tuple(sorted(specs, key=lambda s: (s.order, s.name)))


def source_names() -> tuple[str, ...]:
    return tuple(s.name for s in declared())


def spec(name: str) -> SourceSpec:
    """The declaration of source `name`; KeyError if there is none."""
    for s in declared():
        if s.name == name:
            return s
    raise KeyError(name)


def headline_metrics() -> dict[tuple[str, str], str]:
    """(platform, kind) -> the metric a report leads with, where it is not `members`."""
    out: dict[tuple[str, str], str] = {}
    for s in declared():
        for kind, metric in s.headline:
            out.setdefault((s.platform, kind), metric)
    return out


def follow_for(platform: str, kind: str) -> tuple[SourceSpec, Follow] | None:
    """The source (first in listing order) whose watchlist section takes discovered
    communities of (platform, kind), and how; None where no source declares it."""
    for s in declared():
        if s.platform != platform:
            continue
        for f in s.follows:
            if f.kind == kind:
                return s, f
    return None


def endpoints() -> dict[str, Endpoint]:
    """Every declared endpoint by name, in declaration order."""
    out: dict[str, Endpoint] = {}
    for s in declared():
        for e in s.endpoints:
            out.setdefault(e.name, e)
    return out
