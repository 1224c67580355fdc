"""What the reliability tests share: gated fakes, the CLI as a subprocess, database reads.

The crawl under test always runs as a real `python -m crawler.cli crawl` process (so it can
be killed with SIGKILL, and its exit code and stderr are the user's); the fakes run in the
test process. Where a test needs the crawl to be at a given point, a `Gate` holds one
request at the fake until the test lets it go: the crawl is then provably mid-request, and
no assertion depends on timing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import write_config
from tests.fakes.reddit import FakeReddit
from tests.fakes.x import SEARCH, FakeX, _handler

ROOT = Path(__file__).resolve().parents[2]
PSEUDONYM_KEY = "reliability-test-key-not-secret"
CLI_TIMEOUT = 25.0  # seconds; every test must finish in 30
GATE_TIMEOUT = 20.0  # a held request is released after this even if the test forgot to

FAST_RETRIES = """
[rate_limits]
max_retries = 2          # initial request + 2 retries = 3 requests at most
backoff_seconds = 0.05
max_wait_seconds = 2
timeout_seconds = 5
"""


def settings(batch_size: int = 10, *, lock_wait: float = 0, extra: str = "") -> str:
    """settings.toml for a test: small batches, no waiting for a lock, fast retries.

    `lock_wait_seconds = 0` makes a lock that is not taken over at once fail the crawl,
    and `lock_stale_seconds` is an hour: a dead holder's lock must be recognised as dead,
    not waited out.
    """
    return (
        f"[crawler]\nbatch_size = {batch_size}\nlock_wait_seconds = {lock_wait}\n"
        f"lock_stale_seconds = 3600\n{FAST_RETRIES}{extra}"
    )


# --------------------------------------------------------------------------- gates


@dataclass
class Gate:
    """Holds the `nth` request matching (1-based) until `release()`; `reached` tells it came."""

    nth: int
    seen: int = 0
    reached: threading.Event = field(default_factory=threading.Event)
    opened: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def passing(self) -> None:
        """Called by the fake's handler thread for each matching request."""
        with self.lock:
            self.seen += 1
            hold = self.seen == self.nth
        if hold:
            self.reached.set()
            self.opened.wait(GATE_TIMEOUT)

    def wait_reached(self, timeout: float = CLI_TIMEOUT) -> None:
        if not self.reached.wait(timeout):
            raise AssertionError(f"the crawl never sent request {self.nth} to the gated path")

    def release(self) -> None:
        self.opened.set()


def quiet_on_dead_clients(server: Any) -> None:
    """A held answer written to a killed crawl fails with a broken pipe: expected, not news."""
    original = server.handle_error

    def handle_error(request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], BrokenPipeError | ConnectionResetError):
            return
        original(request, client_address)

    server.handle_error = handle_error


class Malformed(bytes):
    """A body sent as these raw bytes instead of JSON (a truncated or non-JSON answer)."""


class GatedX(FakeX):
    """FakeX with gates per path and raw (malformed) bodies for scripted faults."""

    def __init__(self) -> None:
        super().__init__()
        self.gates: dict[str, Gate] = {}

    def gate(self, path: str, nth: int) -> Gate:
        self.gates[path] = Gate(nth)
        return self.gates[path]

    def _pass(self, path: str) -> None:
        gate = self.gates.get(path)
        if gate is not None:
            gate.passing()

    def answer_search(self, params: dict[str, str]) -> tuple[int, Any]:
        self._pass(SEARCH)
        return super().answer_search(params)

    def requests_per_call(self) -> Counter[tuple[str, tuple[tuple[str, str], ...]]]:
        """How often each distinct request (path and parameters) reached the fake."""
        return Counter((path, tuple(sorted(params.items()))) for path, params in self.log)

    def __enter__(self) -> GatedX:
        base = _handler(self)

        class Handler(base):  # type: ignore[valid-type,misc]
            def reply(self, status: int, body: Any, headers: dict[str, str], now: float) -> None:
                if not isinstance(body, Malformed):
                    return super().reply(status, body, headers, now)
                self.send_response_only(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(bytes(body))
                return None

        from crawler.sim.httpserver import LocalHTTPServer

        self.server = LocalHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        quiet_on_dead_clients(self.server)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self


class GatedReddit(FakeReddit):
    """FakeReddit whose combined listings can be held at a gate."""

    listing_gate: Gate | None = None

    def start(self) -> GatedReddit:
        super().start()
        quiet_on_dead_clients(self._server)
        return self

    def _listing(self, req: Any, names: list[str], query: dict[str, list[str]]) -> None:
        if self.listing_gate is not None:
            self.listing_gate.passing()
        super()._listing(req, names, query)


# --------------------------------------------------------------------------- the CLI


@dataclass
class Crawl:
    """One `dfwatch crawl` process: its environment and config directory."""

    config_dir: Path
    env: dict[str, str]
    only: str | None = None
    program: tuple[str, ...] = ("-m", "crawler.cli")  # or a wrapper script (capped_cli.py)

    def argv(self) -> list[str]:
        args = [sys.executable, *self.program, "crawl", "--config", str(self.config_dir)]
        return [*args, "--only", self.only] if self.only else args

    def start(self) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.argv(), cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def run(self, timeout: float = CLI_TIMEOUT) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(), cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )


def make_crawl(
    directory: Path,
    db_url: str,
    watchlist: dict[str, Any],
    settings_toml: str,
    *,
    endpoints: Mapping[str, str] | None = None,
    credentials: Mapping[str, str] | None = None,
    only: str | None = None,
) -> Crawl:
    """A config directory and the environment DESIGN.md names (URL, endpoints, credentials)."""
    write_config(directory, watchlist, settings_toml)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DFWATCH_", "REDDIT_", "X_", "GITHUB_"))}
    env.update(
        {
            "DFWATCH_DATABASE_URL": db_url,
            "DFWATCH_PSEUDONYM_KEY": PSEUDONYM_KEY,
            "PYTHONPATH": str(ROOT),
            "COLUMNS": "200",
        }
    )
    env.update({f"DFWATCH_ENDPOINT_{k.upper()}": v for k, v in (endpoints or {}).items()})
    env.update(credentials or {})
    return Crawl(directory, env, only)


def kill9(proc: subprocess.Popen[str]) -> str:
    """SIGKILL the crawl (no handler, no finally, no atexit runs) and return its stderr."""
    proc.send_signal(signal.SIGKILL)
    _out, err = proc.communicate(timeout=CLI_TIMEOUT)
    assert proc.returncode == -signal.SIGKILL
    return err


# --------------------------------------------------------------------------- the database


def query(db_url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """Rows of one read, on a connection of its own (never the crawl's)."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


def scalar(db_url: str, sql: str, **params: Any) -> Any:
    ((value,),) = query(db_url, sql, **params)
    return value


def wait_until(condition: Callable[[], bool], what: str, timeout: float = CLI_TIMEOUT) -> None:
    """Poll `condition` (a database read) until it holds; fail naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def sqlite_path(db_url: str) -> Path:
    return Path(make_url(db_url).database or "")


def integrity(db_url: str) -> str:
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(sqlite_path(db_url))) as conn:
        (result,) = conn.execute("PRAGMA integrity_check").fetchone()
    return str(result)
