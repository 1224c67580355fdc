"""Each scheduled crawl runs as a child process, watched by the `Supervisor`.

A child process keeps a crash, a leak or the Twisted reactor (which runs once per process)
away from the scheduler. The supervisor starts `dfwatch crawl --trigger schedule`, kills it
at the per-run timeout (SIGTERM to its process group, SIGKILL after a short grace), closes
the run row of a child it had to kill, writes the report afterwards if asked, and at
shutdown gives running children a grace period before it terminates them.

Children get their own session (process group), so a Ctrl-C on the scheduler's terminal
does not reach them: a crawl is ended by the supervisor, on purpose, or when the scheduler
itself dies (even by SIGKILL: crawler.schedule.parentwatch).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from crawler import __version__
from crawler.config import SOURCE_NAMES, Config
from crawler.db.runlog import close_child_run, release_locks_of
from crawler.schedule.parentwatch import watch_pipe

log = logging.getLogger("dfwatch.schedule")

KILL_GRACE_SECONDS = 10.0  # between SIGTERM and SIGKILL of a child we end
REPORT_TIMEOUT_SECONDS = 600.0  # a report is SQL over the store; ten minutes is plenty
EXIT_OK, EXIT_PARTIAL = 0, 4


def default_cli_command() -> list[str]:
    """How the scheduler runs dfwatch: this interpreter, so the same virtualenv."""
    return [sys.executable, "-m", "crawler.cli"]


@dataclass(eq=False)  # identity: kept in a set
class _Child:
    proc: subprocess.Popen[bytes]
    label: str
    spawned_at: datetime
    end_reason: str | None = None  # set when we ended it: why
    end_status: str = "failed"  # failed (timeout) or aborted (shutdown)
    done: threading.Event = field(default_factory=threading.Event)
    lifeline: int | None = None  # write end of the pipe the child watches (parentwatch)


class Supervisor:
    """Starts, times and ends the scheduler's child processes; one per scheduler process."""

    def __init__(
        self,
        config: Config,
        engine: Engine,
        *,
        cli_command: Sequence[str] | None = None,
        kill_grace_seconds: float = KILL_GRACE_SECONDS,
    ) -> None:
        self.config = config
        self.engine = engine
        self.cli_command = list(cli_command or default_cli_command())
        self.kill_grace = kill_grace_seconds
        self.host = socket.gethostname()
        # The children see the scheduler's environment plus the config's (in tests the
        # config carries DFWATCH_DATABASE_URL without it being in os.environ).
        self.env = {**os.environ, **config.env}
        self._lock = threading.Lock()
        self._children: set[_Child] = set()
        self._stopping = False

    # -- one scheduled crawl --------------------------------------------------------
    def run_crawl(self, config_dir: str, sources: Sequence[str], trigger: str = "schedule") -> int | None:
        """Run one crawl child to its end; its exit code, or None if not started (stopping)."""
        argv = [*self.cli_command, "crawl", "--trigger", trigger, "--config", config_dir]
        if set(sources) != set(SOURCE_NAMES):
            argv += ["--only", ",".join(sources)]
        if self.config.broker_url:  # [cluster] broker: the crawl is planned as shards for the workers
            argv.append("--distributed")
        label = f"crawl sources={','.join(sources)}"
        minutes = self.config.settings.schedule.timeout_minutes
        child = self._spawn(argv, label)
        if child is None:
            return None
        started = time.monotonic()
        code = self._wait(child, minutes * 60, f"killed after timeout of {minutes:g} minutes")
        self._record(child, code, trigger)
        log.log(
            logging.INFO if code in (EXIT_OK, EXIT_PARTIAL) else logging.ERROR,
            "%s pid=%d exit=%s duration=%.1fs%s",
            label,
            child.proc.pid,
            code,
            time.monotonic() - started,
            f" ({child.end_reason})" if child.end_reason else "",
        )
        if child.end_reason is None and self.config.settings.schedule.report_path:
            self.write_report(config_dir)
        return code

    def write_report(self, config_dir: str) -> int | None:
        """`dfwatch report --format F --out PATH` in a child, so a report bug stays there."""
        s = self.config.settings.schedule
        assert s.report_path is not None
        argv = [
            *self.cli_command,
            "report",
            "--format",
            s.report_format,
            "--out",
            s.report_path,
            "--config",
            config_dir,
        ]
        child = self._spawn(argv, "report")
        if child is None:
            return None
        code = self._wait(child, REPORT_TIMEOUT_SECONDS, f"killed after {REPORT_TIMEOUT_SECONDS:g} s")
        if code == 0:
            log.info("report written to %s (%s)", s.report_path, s.report_format)
        else:
            log.error("report to %s failed: exit=%s", s.report_path, code)
        return code

    # -- process handling -----------------------------------------------------------
    def _spawn(self, argv: list[str], label: str) -> _Child | None:
        with self._lock:
            if self._stopping:
                log.warning("%s not started: the scheduler is stopping", label)
                return None
            watch_env, child_end, lifeline = watch_pipe()  # the child dies with us
            try:
                proc = subprocess.Popen(
                    argv, env={**self.env, **watch_env}, start_new_session=True, pass_fds=(child_end,)
                )
            except BaseException:
                os.close(lifeline)
                raise
            finally:
                os.close(child_end)
            child = _Child(proc, label, datetime.now(UTC), lifeline=lifeline)
            self._children.add(child)
        log.info("%s started pid=%d", label, proc.pid)
        return child

    def _wait(self, child: _Child, timeout: float, timeout_reason: str) -> int:
        try:
            try:
                return child.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log.error(
                    "%s pid=%d still running after %.0fs: ending it", child.label, child.proc.pid, timeout
                )
                self._end(child, timeout_reason, "failed")
                return child.proc.wait()
        finally:
            with self._lock:
                self._children.discard(child)
            if child.lifeline is not None:
                os.close(child.lifeline)
                child.lifeline = None
            child.done.set()

    def _end(self, child: _Child, reason: str, status: str) -> None:
        """SIGTERM the child's process group, SIGKILL it after the kill grace."""
        if child.end_reason is None:
            child.end_reason, child.end_status = reason, status
        self._signal(child, signal.SIGTERM)
        try:
            child.proc.wait(timeout=self.kill_grace)
        except subprocess.TimeoutExpired:
            log.error(
                "%s pid=%d ignored SIGTERM for %.0fs: SIGKILL", child.label, child.proc.pid, self.kill_grace
            )
            self._signal(child, signal.SIGKILL)
            child.proc.wait()

    @staticmethod
    def _signal(child: _Child, sig: signal.Signals) -> None:
        if child.proc.poll() is not None:
            return
        try:
            os.killpg(child.proc.pid, sig)  # the child leads its own group (start_new_session)
        except ProcessLookupError:
            pass

    def _record(self, child: _Child, code: int, trigger: str) -> None:
        """Close the run row of a child that could not close it itself; free its locks."""
        pid = child.proc.pid
        if child.end_reason is not None:
            close_child_run(
                self.engine,
                pid=pid,
                host=self.host,
                spawned_at=child.spawned_at,
                status=child.end_status,
                reason=child.end_reason,
                trigger=trigger,
                version=__version__,
                insert_if_missing=True,
            )
        elif code not in (EXIT_OK, EXIT_PARTIAL):
            reason = (
                f"crawl process killed by signal {signal.Signals(-code).name}"
                if code < 0
                else f"crawl process exited with code {code} without finishing its run"
            )
            close_child_run(
                self.engine,
                pid=pid,
                host=self.host,
                spawned_at=child.spawned_at,
                status="failed",
                reason=reason,
                trigger=trigger,
                version=__version__,
            )
        release_locks_of(self.engine, pid=pid, host=self.host)

    # -- shutdown -------------------------------------------------------------------
    def stop(self, grace_seconds: float, hurry: Callable[[], bool] = lambda: False) -> None:
        """Start nothing new; let running children finish within the grace, then end them."""
        with self._lock:
            self._stopping = True
            children = list(self._children)
        if not children:
            return
        log.info(
            "waiting up to %.0fs for %d running child(ren) to finish: %s",
            grace_seconds,
            len(children),
            ", ".join(f"{c.label} pid={c.proc.pid}" for c in children),
        )
        deadline = time.monotonic() + grace_seconds
        for child in children:
            while not child.done.is_set() and not hurry():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                child.done.wait(min(remaining, 0.2))
        reason = f"aborted: the scheduler stopped and the shutdown grace of {grace_seconds:g} s ran out"
        for child in children:
            if not child.done.is_set():
                log.warning(
                    "%s pid=%d did not finish within the shutdown grace: ending it",
                    child.label,
                    child.proc.pid,
                )
                self._end(child, reason, "aborted")
        for child in children:
            child.done.wait(self.kill_grace + 5)


# The scheduler process's supervisor, for the job function (jobs are pickled by reference,
# so they cannot carry it). Set by run_scheduler for its lifetime.
_active: Supervisor | None = None
_active_lock = threading.Lock()


def activate(supervisor: Supervisor | None) -> None:
    global _active
    with _active_lock:
        _active = supervisor


def active_supervisor(config_dir: str) -> Supervisor:
    """The running scheduler's supervisor; outside a scheduler, a fresh one for `config_dir`."""
    with _active_lock:
        if _active is not None:
            return _active
    from crawler.config import load_config
    from crawler.db.engine import make_engine

    config = load_config(Path(config_dir))
    return Supervisor(config, make_engine(config.database_url))
