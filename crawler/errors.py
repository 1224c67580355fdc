"""The one exception tree of dfwatch.

    DfwatchError                 anything dfwatch raises on purpose
    ├── ConfigError              you asked wrongly: bad config, bad CLI input (exit 2)
    ├── StoreError               the database refused or is unreachable
    │   ├── DatabaseFull         no room left in the database or on its disk
    │   └── ReadOnlyViolation    a write was sent through `dfwatch query`
    ├── LockTimeout              another crawl holds the run lock
    └── SourceError              a platform said no, or answered nonsense
        ├── RateLimited          waited as long as we may, still limited
        ├── AccessDenied         the app's plan or credentials do not reach an endpoint
        ├── HostUnreachable      DNS failed or the connection was refused (retried once a run)
        └── BudgetExhausted      the next read would pass a spending cap

The CLI maps each to an exit code and one sentence; a traceback is a bug.
"""

from __future__ import annotations


class DfwatchError(Exception):
    """Base of every error dfwatch raises on purpose."""

    exit_code = 1


class ConfigError(DfwatchError):
    """Invalid configuration or usage: names the file, the entry and the problem."""

    exit_code = 2

    def __init__(self, message: str, *, file: str | None = None, entry: str | None = None):
        self.file = file
        self.entry = entry
        self.problem = message
        where = ": ".join(p for p in (file, entry) if p)
        super().__init__(f"{where}: {message}" if where else message)


class StoreError(DfwatchError):
    """The database could not do what was asked."""


class DatabaseFull(StoreError):
    """The database (or the disk under it) has no room for the write; nothing was stored."""


class ReadOnlyViolation(StoreError):
    """A statement sent through the read-only query path tried to write."""

    exit_code = 2


class LockTimeout(DfwatchError):
    """Another crawl held the run lock for longer than we were willing to wait."""

    exit_code = 1


class SourceError(DfwatchError):
    """A platform refused, failed, or answered something we cannot read."""

    def __init__(self, message: str, *, target: str | None = None):
        self.target = target
        super().__init__(f"{target}: {message}" if target else message)


class RateLimited(SourceError):
    """Still rate limited after the bounded wait."""


class AccessDenied(SourceError):
    """The credentials or the API plan do not give access to this endpoint (401/403)."""


class HostUnreachable(SourceError):
    """The host did not resolve or refused the connection; later targets on it fail at once."""


class BudgetExhausted(SourceError):
    """Reading on would pass `max_cost_usd_per_run` or `max_cost_usd_per_day`: stopped before it."""
