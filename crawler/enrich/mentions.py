"""Tag posts with the tools they mention, from the taxonomy in config/tools.yaml.

The rule (docs/ethics.md, tests/test_mentions.py):

* names and aliases match case-insensitively;
* a match must stand on word boundaries, where letters, digits and `_` are word
  characters: "roop" does not match in "droop", "roops" or "roop2", "faceswap" not in
  "faceswapper"; punctuation ends a word, so "DeepFaceLab's", "(roop)", "#FaceFusion" and
  "github.com/s0md3v/roop" match;
* a space, hyphen or underscore inside a name matches any run of spaces, hyphens and
  underscores, so "Deep-Live-Cam" also finds "Deep Live Cam" and "deep_live_cam"; writing
  a name without separators ("DeepLiveCam") needs its own alias;
* longer names are tried first, so "roop-unleashed" is one mention of roop, not two.

One regular expression covers the whole taxonomy, so a post is scanned once however many
tools are listed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crawler.config import Tool

_SEPARATORS = re.compile(r"[\s_-]+")
_SEPARATOR_RUN = r"[\s_\-]+"


def _pattern(name: str) -> str:
    parts = [re.escape(p) for p in _SEPARATORS.split(name.strip()) if p]
    return _SEPARATOR_RUN.join(parts)


class MentionMatcher:
    """Finds canonical tool names in text. Build once per crawl; `find` is pure."""

    def __init__(self, tools: Sequence[Tool]) -> None:
        self._canonical: dict[str, str] = {}  # normalised spelling -> tool name
        spellings: list[str] = []
        for tool in tools:
            for spelling in (tool.name, *tool.aliases):
                norm = self._normalise(spelling)
                if norm and norm not in self._canonical:
                    self._canonical[norm] = tool.name
                    spellings.append(spelling)
        spellings.sort(key=lambda s: (-len(s), s))
        self._regex: re.Pattern[str] | None = None
        if spellings:
            alternation = "|".join(_pattern(s) for s in spellings)
            self._regex = re.compile(rf"(?<!\w)(?:{alternation})(?!\w)", re.IGNORECASE)

    @staticmethod
    def _normalise(text: str) -> str:
        return _SEPARATORS.sub(" ", text.strip()).casefold()

    def find(self, *texts: str | None) -> tuple[str, ...]:
        """Canonical names of the tools mentioned in any of `texts`, sorted and unique."""
        if self._regex is None:
            return ()
        found: set[str] = set()
        for text in texts:
            if not text:
                continue
            for m in self._regex.finditer(text):
                name = self._canonical.get(self._normalise(m.group(0)))
                if name is not None:
                    found.add(name)
        return tuple(sorted(found))
