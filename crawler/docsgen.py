"""The docs tables that derive from the source declarations, and a writer that keeps them so.

README.md (the environment table) and docs/sources.md (the sources table, endpoints and
credentials) carry generated blocks between `<!-- generated:NAME -->` and
`<!-- /generated:NAME -->`. `python -m crawler.docsgen` rewrites them from the
declarations; tests/test_docs.py fails when a block and the declarations disagree.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

from crawler.plugins import SourceSpec, declared, endpoints

ROOT = Path(__file__).resolve().parents[1]


def _code(names: list[str] | tuple[str, ...]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def _credentials(spec: SourceSpec) -> str:
    if not spec.credentials:
        return "none"
    parts = [f"`{c.variable}` ({'required' if c.required else 'optional'})" for c in spec.credentials]
    return ", ".join(parts)


def sources_table() -> str:
    """docs/sources.md: one row per source."""
    lines = [
        "| source | platform: kinds | how | credentials | watchlist section | endpoints |",
        "|---|---|---|---|---|---|",
    ]
    for s in declared():
        eps = _code([f"DFWATCH_ENDPOINT_{e.name.upper()}" for e in s.endpoints])
        if s.notes:
            eps = f"{eps} ({s.notes})" if eps else s.notes
        lines.append(
            f"| `{s.name}` | {s.platform}: {', '.join(s.kinds)} | {s.how} | {_credentials(s)} "
            f"| {_code(s.watch_doc) or '-'} | {eps or '-'} |"
        )
    return "\n".join(lines)


def endpoints_table() -> str:
    """docs/sources.md: every endpoint with its default."""
    lines = ["| variable | default | what |", "|---|---|---|"]
    for e in endpoints().values():
        about = e.about + (
            f" (follows `DFWATCH_ENDPOINT_{e.follows.upper()}` when unset)" if e.follows else ""
        )
        lines.append(f"| `DFWATCH_ENDPOINT_{e.name.upper()}` | `{e.default}` | {about} |")
    return "\n".join(lines)


def environment_table() -> str:
    """README.md: the credentials, one row per variable, and the endpoint overrides."""
    names = ", ".join(f"`{e.name.upper()}`" for e in endpoints().values())
    lines = [
        "| variable | effect |",
        "|---|---|",
        f"| `DFWATCH_ENDPOINT_<NAME>` | base URL of {names} ([docs/sources.md](docs/sources.md)) |",
    ]
    for s in declared():
        for c in s.credentials:
            what = f"enables {c.enables}" if c.required else f"optional: {c.enables}"
            lines.append(f"| `{c.variable}` | `{s.name}`: {what} |")
    return "\n".join(lines)


BLOCKS: dict[str, tuple[str, Callable[[], str]]] = {
    "sources": ("docs/sources.md", sources_table),
    "endpoints": ("docs/sources.md", endpoints_table),
    "environment": ("README.md", environment_table),
}


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- generated:{name} -->\n)(.*?)(<!-- /generated:{name} -->)", re.DOTALL)


def current(name: str, root: Path = ROOT) -> str | None:
    """The text of a generated block as it stands in its file, or None if it has none."""
    path, _ = BLOCKS[name]
    m = _pattern(name).search((root / path).read_text(encoding="utf-8"))
    return m.group(2).rstrip("\n") if m else None


def generate(name: str) -> str:
    _, fn = BLOCKS[name]
    return fn()


def write(root: Path = ROOT) -> list[str]:
    """Rewrite every generated block; returns the names of those that changed."""
    changed = []
    for name, (path, _) in BLOCKS.items():
        file = root / path
        text = file.read_text(encoding="utf-8")
        new = _pattern(name).sub(lambda m, n=name: m.group(1) + generate(n) + "\n" + m.group(3), text)  # type: ignore[misc]
        if new != text:
            file.write_text(new, encoding="utf-8")
            changed.append(name)
    return changed


if __name__ == "__main__":
    done = write()
    sys.stdout.write(
        ("updated: " + ", ".join(done) if done else "docs already match the declarations") + "\n"
    )
