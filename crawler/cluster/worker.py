"""`dfwatch worker [--processes N] [--threads M]`: take shards from the queue until stopped.

Each process runs one Dramatiq `Worker` (in-process, not the dramatiq CLI) with M threads
on the `[cluster] queue`; `--processes N` starts N such processes
(`python -m crawler.cluster.worker`) and forwards SIGTERM and SIGINT to them.

SIGTERM (or Ctrl-C): the worker takes no new shard, hands the ones it prefetched back to
the queue, and gives the shards it is running `[schedule] shutdown_grace_seconds` to
finish. A shard still running after that is left unacknowledged: the broker gives it to
another worker once this one's heartbeat is older than `[cluster] heartbeat_seconds`, and
that worker runs it again (nothing half-written counts: see crawler.cluster.actors).
"""

from __future__ import annotations

import argparse
import logging
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import FrameType

import dramatiq

from crawler.cluster.actors import declare
from crawler.cluster.broker import broker_label, connect
from crawler.config import Config, load_config
from crawler.errors import ConfigError, DfwatchError
from crawler.logs import setup_logging

log = logging.getLogger("dfwatch.worker")

WORKER_TIMEOUT_MS = 1000  # how long an idle worker thread waits for a message before it checks for stop
CHILD_STOP_SECONDS = 30.0  # beyond the grace, how long --processes waits for a child before killing it


def _broker_url(config: Config) -> str:
    url = config.broker_url
    if not url:
        raise ConfigError(
            "a worker needs a broker: set [cluster] broker or DFWATCH_BROKER_URL", entry="worker"
        )
    return url


def serve(
    config: Config, config_dir: str | None, *, threads: int, stop: threading.Event | None = None
) -> int:
    """Run one Dramatiq worker in this process until `stop` is set (or SIGTERM/SIGINT)."""
    url = _broker_url(config)
    cluster = config.settings.cluster
    broker = connect(url, queue=cluster.queue, heartbeat_seconds=cluster.heartbeat_seconds)
    declare(broker, config, config_dir)
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            log.info("worker: %s: no new shards; finishing the current ones", signal.Signals(signum).name)
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    worker = dramatiq.Worker(
        broker, queues={cluster.queue}, worker_threads=threads, worker_timeout=WORKER_TIMEOUT_MS
    )
    worker.start()
    log.info("worker: taking shards from %s queue=%s threads=%d", broker_label(url), cluster.queue, threads)
    try:
        while not stop.wait(1.0):  # a server loop: it ends when asked to
            pass
    finally:
        grace_ms = int(config.settings.schedule.shutdown_grace_seconds * 1000)
        worker.stop(timeout=max(grace_ms, 1000))
        broker.close()
        log.info("worker: stopped")
    return 0


def run_workers(config: Config, config_dir: str | None, *, processes: int, threads: int) -> int:
    """`dfwatch worker`: one worker here, or `processes` child workers (see the module docstring)."""
    _broker_url(config)
    if processes <= 1:
        return serve(config, config_dir, threads=threads)
    cmd = [sys.executable, "-m", "crawler.cluster.worker", "--threads", str(threads)]
    if config_dir is not None:
        cmd += ["--config", str(Path(config_dir).resolve())]
    children = [subprocess.Popen(cmd) for _ in range(processes)]
    stopping = threading.Event()

    def forward(signum: int, _frame: FrameType | None) -> None:
        stopping.set()
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    log.info("worker: %d processes of %d threads", processes, threads)
    while any(c.poll() is None for c in children):  # a server loop: it ends with its children
        stopping.wait(1.0)
    codes = [c.returncode for c in children]
    return 0 if stopping.is_set() or all(code == 0 for code in codes) else 1


def main(argv: list[str] | None = None) -> int:
    """`python -m crawler.cluster.worker`: one worker process (started by `--processes`)."""
    parser = argparse.ArgumentParser(prog="python -m crawler.cluster.worker")
    parser.add_argument("--config", default=None)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args(argv)
    setup_logging()
    try:
        config = load_config(args.config)
        return serve(config, args.config, threads=args.threads)
    except DfwatchError as exc:
        log.error("worker: %s", exc)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
