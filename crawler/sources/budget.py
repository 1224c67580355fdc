"""Request budgets: how many requests a credential may send per window, shared or not.

A platform's limit belongs to a credential (an OAuth client, a bearer token), not to a
process. On one machine the clients' own pacing keeps it (prawcore and the x-ratelimit
headers, `call_with_retries` on 429). When many workers share a credential, each must ask
a shared budget before it sends (`crawler.cluster.budget.RedisBudget`), and a 429 seen by
one must slow all of them (`penalize`). The clients speak to this neutral protocol only:

* `RequestBudget.acquire(key)` blocks (bounded) until one request under `key` may be sent
  and returns the seconds it waited;
* `RequestBudget.penalize(key, seconds)`: the platform said "wait" (a 429's Retry-After,
  an exhausted window's reset); nobody sharing `key` sends before then.

`UNMETERED` (the default on every `SourceContext`) does nothing: the single-machine crawl
behaves exactly as before and needs no Redis.

A key names the credential by its fingerprint (`fingerprint`): a truncated SHA-256 of the
platform and the credential, so budgets of one client meet in Redis while the key itself
says nothing about the secret (64 bits of a hash of a high-entropy token cannot be turned
back into it, and no prefix of the secret is kept).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

__all__ = ["UNMETERED", "BudgetKey", "RequestBudget", "Unmetered", "fingerprint"]

FINGERPRINT_CHARS = 16  # hex digits kept: 64 bits, no collision among a team's credentials
_DOMAIN = b"dfwatch request budget v1\x00"  # separates these hashes from any other use of SHA-256


def fingerprint(platform: str, credential: str) -> str:
    """A stable, non-reversible name for one credential of one platform (16 hex digits)."""
    digest = hashlib.sha256(_DOMAIN + platform.encode() + b"\x00" + credential.encode()).hexdigest()
    return digest[:FINGERPRINT_CHARS]


@dataclass(frozen=True)
class BudgetKey:
    """One budget: `limit` requests per sliding `window_seconds` for one credential (and scope).

    `scope` separates limits a platform keeps apart for one credential (X limits each
    endpoint on its own); it is empty where one limit covers all of a credential's calls.
    """

    platform: str
    credential: str  # the fingerprint, never the credential itself
    limit: int
    window_seconds: int
    scope: str = ""

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window_seconds < 1:
            raise ValueError("a budget needs limit >= 1 and window_seconds >= 1")

    @classmethod
    def of(
        cls, platform: str, credential: str, *, limit: int, window_seconds: int, scope: str = ""
    ) -> BudgetKey:
        """The key of `credential` (fingerprinted here; the secret goes no further)."""
        return cls(platform, fingerprint(platform, credential), limit, window_seconds, scope)

    @property
    def name(self) -> str:
        """`platform:fingerprint[:scope]`, the name the shared store keeps it under."""
        base = f"{self.platform}:{self.credential}"
        return f"{base}:{self.scope}" if self.scope else base

    def __str__(self) -> str:
        return self.name


class RequestBudget(Protocol):
    """Where requests are counted against a credential's limit before they are sent."""

    def acquire(self, key: BudgetKey) -> float:
        """Block until one request under `key` may be sent; the seconds waited (bounded)."""
        ...

    def penalize(self, key: BudgetKey, seconds: float) -> None:
        """Nobody sharing `key` sends for `seconds` from now (the platform said wait)."""
        ...


class Unmetered:
    """The single-machine budget: nothing shared, nothing counted, no wait."""

    def acquire(self, key: BudgetKey) -> float:
        return 0.0

    def penalize(self, key: BudgetKey, seconds: float) -> None:
        return None


UNMETERED = Unmetered()
