"""Logging set-up: rich on a terminal, plain timestamped lines otherwise (cron, systemd)."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


def setup_logging(verbose: int = 0, *, stream: object = None) -> None:
    """Configure the root logger once; `verbose` 0 = INFO for dfwatch, 1+ = DEBUG."""
    level = logging.DEBUG if verbose else logging.INFO
    out = stream or sys.stderr
    handler: logging.Handler
    if getattr(out, "isatty", lambda: False)():
        from rich.console import Console
        from rich.logging import RichHandler

        global _console
        _console = Console(file=out)  # type: ignore[arg-type]
        handler = RichHandler(console=_console, show_path=False, markup=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(out)  # type: ignore[arg-type]
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    from crawler.logsafe import EthicsFilter

    handler.addFilter(EthicsFilter())  # no post text, authors or credentials, even at -vv
    handler.addFilter(_library_filter)  # holds even where a library resets its own levels
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("dfwatch").setLevel(level)
    logging.getLogger("crawler").setLevel(level)
    logging.getLogger("spiders").setLevel(level)
    # Libraries speak only when something is wrong, unless asked.
    global _library_level
    _library_level = logging.DEBUG if verbose > 1 else logging.WARNING
    quiet_libraries()


_console: Console | None = None  # the terminal's Console, shared with crawler.progress


def terminal_console() -> Console | None:
    """The Console the log lines go to on a terminal (None otherwise): the crawl's spinner
    must draw on the same one, or log lines and spinner frames interleave on one line."""
    return _console


NOISY = ("scrapy", "twisted", "praw", "prawcore", "tweepy", "urllib3", "alembic", "apscheduler")
_library_level = logging.WARNING


def _library_filter(record: logging.LogRecord) -> bool:
    if record.levelno >= _library_level:
        return True
    return not any(record.name == n or record.name.startswith(n + ".") for n in NOISY)


def quiet_libraries() -> None:
    """(Re)apply the libraries' level: Scrapy's CrawlerProcess sets its loggers to DEBUG
    (`configure_logging` applies its DEFAULT_LOGGING) and would print every request."""
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(_library_level)
