"""`python -m crawler.cluster.child [--config DIR]`: one spider shard in a process of its own.

The worker (crawler.cluster.actors) writes the shard's message on this process's standard
input and waits. Scrapy's reactor starts once per process, so every spider shard gets a
fresh one. Exit 0: the shard ran and its row is closed; 2: this machine cannot run it
(config, key, credentials: not retried); 1: it crashed (the worker retries it).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from crawler.cluster.actors import execute_shard, fail_shard
from crawler.cluster.shards import Shard
from crawler.config import load_config
from crawler.db.engine import make_engine
from crawler.errors import ConfigError
from crawler.logs import setup_logging

log = logging.getLogger("dfwatch.worker")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawler.cluster.child")
    parser.add_argument("--config", default=None)
    args = parser.parse_args(argv)
    setup_logging()
    shard = Shard.from_message(json.loads(sys.stdin.read()))
    try:
        config = load_config(args.config)
        engine = make_engine(config.database_url)
    except ConfigError as exc:
        log.error("run=%d shard=%s: %s", shard.run_id, shard, exc)
        return 2
    try:
        execute_shard(config, engine, shard)
    except ConfigError as exc:
        fail_shard(engine, shard, str(exc))
        return 2
    except Exception:
        log.exception("run=%d shard=%s crashed", shard.run_id, shard)
        return 1
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
