"""The crawl's terminal progress (crawler.progress): what a person at a terminal sees."""

from __future__ import annotations

import io

from rich.console import Console

from crawler.progress import CrawlProgress


def _progress() -> tuple[CrawlProgress, io.StringIO]:
    out = io.StringIO()
    progress = CrawlProgress()
    progress.console = Console(file=out, force_terminal=True, width=120)
    progress.tty = True
    return progress, out


def test_source_outcomes_are_printed_one_line_each() -> None:
    progress, out = _progress()
    with progress:
        progress.update("reddit", "start")
        progress.update("reddit", "ok")
        progress.update("x", "skipped: set X_BEARER_TOKEN")
    text = out.getvalue()
    assert "  reddit: ok" in text and "  x: skipped: set X_BEARER_TOKEN" in text


def test_shard_counts_of_a_distributed_crawl_update_the_spinner_not_the_scrollback() -> None:
    progress, out = _progress()
    with progress:
        progress.update("reddit", "shards 0/4")
        progress.update("github", "shards 0/1")
        progress.update("reddit", "shards 2/4")
        assert progress._status is not None
        shown = str(progress._status.renderable.text)  # type: ignore[attr-defined]
    assert shown == "waiting for the workers: shards reddit 2/4 · github 0/1"
    assert "reddit: shards" not in out.getvalue()  # no line per change (the log has them)
