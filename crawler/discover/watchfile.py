"""`config/watchlist.d/discovered.yaml`: the one watchlist file dfwatch writes.

`dfwatch watch add`, `dfwatch watch ignore` and auto-watch write here; `watchlist.yaml`
is never rewritten. The loader merges this file after `watchlist.yaml` (an entry already
watched there is skipped), so the next crawl follows what was added. Its `ignored` list
holds the candidates silenced with `watch ignore` (the loader sets it aside: it watches
nothing).

Where a candidate of (platform, kind) goes is declared by the sources (`SourceSpec.follows`
in crawler/plugins): the section, the list in it, and the entry a handle becomes. The file
is validated by the loader's own checks before it replaces the old one (written beside it,
then renamed), under a lock, so a crawl never reads half a file and two writers never lose
each other's entries.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from crawler.config import Config
from crawler.config.loader import IGNORED_KEY, check_watchlist_file
from crawler.config.models import WATCHLIST_DIR
from crawler.errors import ConfigError
from crawler.plugins import follow_for
from crawler.records import CommunityKey, namespace_key

log = logging.getLogger("dfwatch.discover")

FILE_NAME = "discovered.yaml"
HEADER = (
    "# Written by dfwatch (`dfwatch watch add`, `dfwatch watch ignore`, [discovery] auto_watch).\n"
    "# dfwatch rewrites this file; hand-written entries belong in watchlist.yaml, which dfwatch\n"
    "# never rewrites. Merged after watchlist.yaml; `ignored` lists silenced candidates.\n"
)
DISCOVERED_TAG = "discovered"


def parse_key(text: str) -> CommunityKey:
    """`PLATFORM:KIND:HANDLE` (the handle may hold colons, as a Bluesky DID does), or a link."""
    from crawler.enrich.community_links import community_links

    if "://" in text or text.startswith(("r/", "/r/")) or "." in text.split(":", 1)[0]:
        found = community_links(text)
        if len(found) == 1:
            return found[0]
        raise ConfigError(f"{text!r} is not a link to one community", entry="PLATFORM:KIND:HANDLE")
    parts = text.split(":", 2)
    if len(parts) != 3 or not all(p.strip() for p in parts):
        raise ConfigError(f"{text!r} is not PLATFORM:KIND:HANDLE (e.g. telegram:channel:name)")
    return CommunityKey(parts[0].strip().lower(), parts[1].strip().lower(), parts[2].strip())


def _key_text(key: CommunityKey) -> str:
    return f"{key.platform}:{key.kind}:{key.handle}"


@dataclass
class Outcome:
    """What one write did with each key asked for."""

    added: list[CommunityKey]
    skipped: list[tuple[CommunityKey, str]]  # (key, why)


class DiscoveredFile:
    """The file of one config directory; every change is one locked, validated rewrite."""

    def __init__(self, config: Config) -> None:
        if config.directory is None:
            raise ConfigError("dfwatch watch needs a config directory (use --config DIR or $DFWATCH_CONFIG)")
        self.config = config
        self.path = config.directory / WATCHLIST_DIR / FILE_NAME

    # -- reading --------------------------------------------------------------------
    def read(self) -> dict[str, Any]:
        if not self.path.exists():
            return {}
        raw = yaml.safe_load(self.path.read_text(encoding="utf-8")) or {}
        if not isinstance(raw, dict):
            raise ConfigError("expected a mapping of platforms", file=str(self.path))
        return raw

    def ignored(self) -> list[CommunityKey]:
        """The keys `dfwatch watch ignore` silenced."""
        out = []
        for item in self.read().get(IGNORED_KEY) or []:
            try:
                out.append(parse_key(str(item)))
            except ConfigError:
                log.warning("%s: %r in %s is not PLATFORM:KIND:HANDLE; ignored", self.path, item, IGNORED_KEY)
        return out

    # -- writing --------------------------------------------------------------------
    def add(self, keys: Iterable[CommunityKey], *, auto: bool = False) -> Outcome:
        """Watch `keys`: each becomes its source's entry (tagged `discovered`; auto-watched
        ones under the `counts` content policy until a person looks at them)."""
        outcome = Outcome([], [])
        watched = {namespace_key(t.key.norm) for t in self.config.all_targets()}
        with self._locked() as raw:
            watched |= self._keys_in(raw)  # the file may have changed since the config was read
            ignored = [str(i) for i in raw.get(IGNORED_KEY) or []]
            for key in keys:
                if namespace_key(key.norm) in watched:
                    outcome.skipped.append((key, "already watched"))
                    continue
                found = follow_for(key.platform, key.kind)
                if found is None:
                    outcome.skipped.append((key, f"no source watches {key.platform} {key.kind}s yet"))
                    continue
                spec, follow = found
                entry = follow.entry_for(key.handle)
                if isinstance(entry, dict):
                    entry = {**entry, "tags": [*entry.get("tags", ()), DISCOVERED_TAG]}
                    if auto:
                        entry.setdefault("content", "counts")
                section = raw.setdefault(spec.section_name, [] if not follow.key else {})
                entries = section if not follow.key else section.setdefault(follow.key, [])
                entries.append(entry)
                watched.add(namespace_key(key.norm))
                ignored = [i for i in ignored if not _same(i, key)]
                outcome.added.append(key)
            if ignored:
                raw[IGNORED_KEY] = ignored
            else:
                raw.pop(IGNORED_KEY, None)
        for key in outcome.added:
            log.info("watch add %s by=%s file=%s", _key_text(key), "auto" if auto else "manual", self.path)
        return outcome

    def ignore(self, keys: Iterable[CommunityKey]) -> Outcome:
        """Silence `keys`: never auto-watched, never alerted, left out of `dfwatch discover`."""
        outcome = Outcome([], [])
        with self._locked() as raw:
            ignored = [str(i) for i in raw.get(IGNORED_KEY) or []]
            for key in keys:
                if any(_same(i, key) for i in ignored):
                    outcome.skipped.append((key, "already ignored"))
                    continue
                ignored.append(_key_text(key))
                outcome.added.append(key)
            raw[IGNORED_KEY] = ignored
        return outcome

    def _keys_in(self, raw: dict[str, Any]) -> set[tuple[str, str, str]]:
        """The communities the file's entries watch, as the sources' declarations read them."""
        from crawler.config.models import Watchlist
        from crawler.entries import TargetMaker
        from crawler.plugins import declared

        sections = {k: v for k, v in raw.items() if k != IGNORED_KEY and v is not None}
        context = {"allow_private_hosts": self.config.settings.crawler.allow_private_hosts}
        try:
            model = Watchlist.model_validate(sections, context=context)
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            raise ConfigError(f"is not a valid watchlist file: {exc}", file=str(self.path)) from None
        maker = TargetMaker(lambda content, _nsfw: content or "metadata")
        return {
            namespace_key(t.key.norm)
            for s in declared()
            for t in s.targets_of(getattr(model, s.section_name, None), maker)
        }

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        """The file's content to change in place; validated and written on leaving."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(f".{FILE_NAME}.lock")
        with open(lock_path, "a", encoding="utf-8") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                raw = self.read()
                before = yaml.safe_dump(raw, sort_keys=False)
                yield raw
                if yaml.safe_dump(raw, sort_keys=False) != before:
                    self._write(raw)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _write(self, raw: dict[str, Any]) -> None:
        ordered = {k: raw[k] for k in raw if k != IGNORED_KEY}
        if raw.get(IGNORED_KEY):
            ordered[IGNORED_KEY] = raw[IGNORED_KEY]
        # "pending" is not *.yaml: the loader never reads a half-checked file.
        tmp = self.path.with_name(f".{FILE_NAME}.pending")
        tmp.write_text(
            HEADER + yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True), encoding="utf-8"
        )
        try:
            check_watchlist_file(tmp, self.config.settings)
        except ConfigError as exc:
            tmp.unlink(missing_ok=True)
            raise ConfigError(f"refused to write {self.path}: {exc.problem}", entry=exc.entry) from None
        os.replace(tmp, self.path)


def _same(item: str, key: CommunityKey) -> bool:
    try:
        other = parse_key(item)
    except ConfigError:
        return False
    return namespace_key(other.norm) == namespace_key(key.norm)


def watchfile_path(directory: Path) -> Path:
    return directory / WATCHLIST_DIR / FILE_NAME
