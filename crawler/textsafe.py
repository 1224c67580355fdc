"""Scraped text is data, never markup: one place that makes it safe for each output.

Community names, status reasons, link domains and query results come from platforms and
people we do not control. Each output format has its own ways to be hijacked, so each gets
its own function here; renderers call them on every piece of text they did not write.

    terminal(text)   control characters made visible (Rich markup is the renderer's job:
                     it passes the result as `rich.text.Text`, which no markup reaches)
    html_text(text)  control characters removed
    html(text)       html_text, then escaped for HTML and SVG (text and attribute values)
    bdi(text)        html(text) isolated in `<bdi>`, for scraped text inside a page
    md_text(text)    control characters become spaces, as a newline does in a table cell
    csv_cell(value)  a text cell that a spreadsheet would run as a formula gets a leading '
    CsvWriter        CSV rows ending in \n in which a field holding a bare CR is quoted too

Control characters are C0 (NUL, ESC, CR, ...), DEL, C1, the Unicode line and paragraph
separators and the bidirectional formatting characters (overrides, embeddings, isolates,
marks), which can make text read in a different order than it is stored ("Trojan Source").

Pure: strings in, strings out; no dependency on any renderer.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from html import escape
from typing import Any, TextIO

# C0 controls, DEL, C1 controls; U+2028/U+2029 line/paragraph separators; bidi controls:
# ALM (U+061C), LRM/RLM (U+200E-F), LRE/RLE/PDF/LRO/RLO (U+202A-E), LRI/RLI/FSI/PDI
# (U+2066-9).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_WHITESPACE = frozenset("\t\n\r\x0b\x0c\u2028\u2029")
REPLACEMENT = "\ufffd"  # what an invisible control character shows as in a terminal

# What makes a spreadsheet (Excel, LibreOffice, Google Sheets) read a cell as a formula.
CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CSV_GUARD = "'"


def has_control(text: str) -> bool:
    return _CONTROL.search(text) is not None


def _visible(match: re.Match[str]) -> str:
    return " " if match.group() in _WHITESPACE else REPLACEMENT


def terminal(text: str) -> str:
    """For a terminal: line breaks and tabs become spaces, other controls U+FFFD.

    ESC would start an escape sequence (clear the screen, set the title, an OSC-8 link), CR
    would overwrite what was printed before, bidi overrides would reorder what is shown.
    """
    return _CONTROL.sub(_visible, text)


def html_text(text: str) -> str:
    """For HTML and SVG (before `html.escape`): control characters removed.

    A browser shows most of them as nothing, but bidi overrides reorder the page around the
    text and NUL is a parse error; tab and newline are kept (HTML folds them into spaces).
    """
    return _CONTROL.sub(lambda m: m.group() if m.group() in "\t\n" else "", text)


def html(text: object) -> str:
    """Text for HTML or SVG, in element content or a quoted attribute."""
    return escape(html_text(str(text)), quote=True)


def bdi(text: object) -> str:
    """Scraped text in an HTML page: escaped and isolated, so right-to-left text in a name
    cannot reorder the words around it."""
    return f"<bdi>{html(text)}</bdi>"


def md_text(text: str) -> str:
    """For a Markdown table cell (before markup escaping): every control becomes a space.

    A newline ends the table row; a bare CR does too in some renderers and can start a
    heading outside the table.
    """
    return _CONTROL.sub(" ", text)


def csv_cell(value: Any, *, guard: bool = True) -> Any:
    """A CSV cell: text starting like a formula gets a leading `'` (the spreadsheet
    convention for "this is text"); numbers and everything else pass unchanged.

    `guard=False` (`--raw-csv`) writes the text exactly as stored, for programs that read
    the file rather than spreadsheets that run it.
    """
    if guard and isinstance(value, str) and value.startswith(CSV_FORMULA_START):
        return CSV_GUARD + value
    return value


class CsvWriter:
    """`csv.writer` with `\n` line ends, guarded cells, and every CR or LF inside a quoted field.

    Python's writer quotes a field only for the characters of its own line terminator, so
    with `\n` line ends a bare CR in scraped text went out unquoted, and readers that accept
    CR as a line end (Python's csv, spreadsheets) split the row there. Each row is written
    with `\r\n` (both characters quoted) and ends in `\n`.
    """

    def __init__(self, out: TextIO, *, guard: bool = True) -> None:
        self.out = out
        self.guard = guard
        self._buf = io.StringIO()
        self._writer = csv.writer(self._buf, lineterminator="\r\n")

    def writerow(self, values: Iterable[Any]) -> None:
        self._buf.seek(0)
        self._buf.truncate()
        self._writer.writerow([csv_cell(v, guard=self.guard) for v in values])
        self.out.write(self._buf.getvalue()[:-2] + "\n")
