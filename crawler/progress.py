"""What a person sees while `dfwatch crawl` works: rich on a terminal, log lines otherwise."""

from __future__ import annotations

import logging
import sys
from types import TracebackType
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.status import Status
from rich.table import Table

from crawler.logs import terminal_console
from crawler.textsafe import terminal

if TYPE_CHECKING:
    from crawler.run import RunResult

log = logging.getLogger("dfwatch.crawl")


class CrawlProgress:
    """Shows which source is running; prints one summary table at the end."""

    def __init__(self) -> None:
        self.console = terminal_console() or Console(stderr=True)  # the log lines' console
        self.tty = sys.stderr.isatty()
        self._status: Status | None = None
        self._shards: dict[str, str] = {}  # source -> "done/total" (a distributed crawl)

    def __enter__(self) -> CrawlProgress:
        if self.tty:
            self._status = self.console.status("starting the crawl…")
            self._status.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._status:
            self._status.stop()

    def update(self, source: str, event: str) -> None:
        if event == "start":
            if self._status:
                self._status.update(f"crawling [bold]{source}[/]…")
            log.info("source=%s started", source)
        elif event.startswith("shards "):
            # A distributed crawl: the coordinator logs each change; the spinner holds them all.
            self._shards[source] = event.removeprefix("shards ")
            if self._status:
                counts = " · ".join(f"{name} {done}" for name, done in self._shards.items())
                self._status.update(f"waiting for the workers: shards {counts}")
        elif self.tty:
            self.console.print(f"  {source}: {event}")

    def summary(self, result: RunResult, database_url: str) -> None:
        table = Table(
            "source",
            "status",
            "requests",
            "items",
            "errors",
            "retries",
            "waited",
            title=f"run {result.run_id}: {result.status}",
        )
        for name, outcome in result.sources.items():
            s = outcome.stats
            table.add_row(
                name,
                outcome.status,
                str(s.requests),
                str(s.items),
                str(s.errors),
                str(s.retries),
                f"{s.rate_limited_seconds:.0f}s",
            )
        if not result.sources:
            self.console.print("nothing to crawl: the watchlist is empty for the chosen sources")
        else:
            self.console.print(table)
        for name, outcome in result.sources.items():
            if outcome.skipped_reason:
                self.console.print(f"{name}: skipped, {outcome.skipped_reason}", highlight=False)
            if outcome.stats.error_summary:
                # The summary quotes what servers answered: never markup, never escape codes.
                summary = escape(terminal(outcome.stats.error_summary))
                self.console.print(f"[yellow]{name}[/]: {summary}", highlight=False)
        if result.status == "failed":
            self.console.print(
                "nothing could be fetched. Without network access, `dfwatch demo` (make demo) runs the "
                "whole pipeline against simulated platforms."
            )
