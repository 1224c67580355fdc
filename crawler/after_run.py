"""What runs after a crawl has finished: discovery (candidates, auto-watch), then alerts.

Called by crawler.run once the run's row is closed. Each hook's failure is logged and
swallowed: the crawl's rows are stored and its status recorded before any hook starts, and
nothing a hook does can change them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import Engine

from crawler.config import Config

log = logging.getLogger("dfwatch.run")


def _discovery(config: Config, engine: Engine, run_id: int) -> None:
    from crawler.discover import DiscoveredFile, auto_watch, refresh_candidates

    ignored = [k.norm for k in DiscoveredFile(config).ignored()] if config.directory is not None else []
    refresh_candidates(engine, watched=[t.key.norm for t in config.all_targets()], ignored=ignored)
    auto_watch(config, engine)


def _alerts(config: Config, engine: Engine, run_id: int) -> None:
    from crawler.alerts import run_alerts

    run_alerts(config, engine, run_id)


HOOKS: tuple[tuple[str, Callable[[Config, Engine, int], None]], ...] = (
    ("discovery", _discovery),
    ("alerts", _alerts),
)


def after_run(config: Config, engine: Engine, run_id: int) -> None:
    """Run every post-run hook in order; none of them can fail the crawl."""
    for name, hook in HOOKS:
        try:
            hook(config, engine, run_id)
        except Exception:  # a hook's failure is logged (log.exception); the crawl is already recorded
            log.exception("run=%d after-run hook %s failed (the crawl itself is recorded)", run_id, name)
