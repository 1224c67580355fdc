"""The docs agree with the code: source declarations, credentials, endpoints, CLI options.

As sqlite-utils checks its commands against its docs: a source, credential, endpoint or CLI
option that exists in the code and not in the docs (or the other way round) fails here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer.main

from crawler import docsgen
from crawler.cli import app
from crawler.plugins import declared, endpoints

ROOT = Path(__file__).resolve().parent.parent
DOCS = (
    "\n".join(p.read_text() for p in sorted((ROOT / "docs").glob("*.md"))) + (ROOT / "README.md").read_text()
)


@pytest.mark.parametrize("block", sorted(docsgen.BLOCKS))
def test_generated_docs_match_the_declarations(block: str) -> None:
    assert docsgen.current(block) == docsgen.generate(block), (
        f"the {block} table is out of date: run `python -m crawler.docsgen`"
    )


@pytest.mark.parametrize("name", [s.name for s in declared()])
def test_every_source_has_its_docs_section(name: str) -> None:
    sources_md = (ROOT / "docs" / "sources.md").read_text()
    assert re.search(rf"^#{{2,3}} .*\(`{name}`\)", sources_md, re.MULTILINE), (
        f"docs/sources.md has no section for {name}"
    )


def test_every_credential_and_endpoint_is_documented() -> None:
    readme = (ROOT / "README.md").read_text()
    for s in declared():
        for c in s.credentials:
            assert f"`{c.variable}`" in readme, c.variable
    for name in endpoints():
        assert f"DFWATCH_ENDPOINT_{name.upper()}" in DOCS, name


def test_every_declared_metric_and_kind_is_in_the_codebook() -> None:
    schema = (ROOT / "docs" / "schema.md").read_text()
    for s in declared():
        for metric in s.metrics:
            assert re.search(rf"^\| `?{metric}`? \|", schema, re.MULTILINE), (
                f"docs/schema.md does not describe the metric {metric} ({s.name})"
            )
        for kind in s.kinds:
            assert re.search(rf"\b{kind}\b", schema), (
                f"docs/schema.md does not name the kind {kind} ({s.name})"
            )


def _commands() -> list[tuple[str, Any]]:
    """Every command as (`name` or `group name`, its click-like command object)."""
    root: Any = typer.main.get_command(app)
    out: list[tuple[str, Any]] = []
    for name, cmd in root.commands.items():
        if hasattr(cmd, "commands"):
            out += [(f"{name} {sub}", c) for sub, c in cmd.commands.items()]
        else:
            out.append((name, cmd))
    return out


@pytest.mark.parametrize(("command", "cmd"), _commands(), ids=[c for c, _ in _commands()])
def test_every_cli_command_and_option_is_documented(command: str, cmd: Any) -> None:
    assert re.search(rf"`dfwatch {command}\b", DOCS), f"`dfwatch {command}` is not documented"
    for param in cmd.params:
        for opt in getattr(param, "opts", []):
            if opt.startswith("--") and opt not in ("--help",):
                assert opt in DOCS, f"`dfwatch {command} {opt}` is not documented"
