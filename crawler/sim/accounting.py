"""Request accounting: what every platform was asked, and what it answered.

The crawler's run log counts the requests it sent; these counts are the platform's side of
the ledger, so the two can be held against each other (DESIGN.md: crawl_runs.requests).
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class Accounting:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[tuple[str, str]] = Counter()
        self._statuses: Counter[tuple[str, int]] = Counter()
        self._faults: Counter[tuple[str, str]] = Counter()
        self._rate_limited: Counter[str] = Counter()

    def request(self, platform: str, endpoint: str) -> None:
        with self._lock:
            self._requests[(platform, endpoint)] += 1

    def answered(self, platform: str, status: int) -> None:
        with self._lock:
            self._statuses[(platform, status)] += 1

    def fault(self, platform: str, kind: str) -> None:
        with self._lock:
            self._faults[(platform, kind)] += 1

    def rate_limited(self, platform: str) -> None:
        with self._lock:
            self._rate_limited[platform] += 1

    def count(self, platform: str | None = None, endpoint: str | None = None) -> int:
        """Requests received, optionally for one platform and endpoint."""
        with self._lock:
            return sum(
                n
                for (p, e), n in self._requests.items()
                if (platform is None or p == platform) and (endpoint is None or e == endpoint)
            )

    def status_count(self, platform: str, status: int) -> int:
        with self._lock:
            return self._statuses[(platform, status)]

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._statuses.clear()
            self._faults.clear()
            self._rate_limited.clear()

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready totals: {"total", "platforms": {p: {"total", "endpoints", "statuses", ...}}}."""
        with self._lock:
            platforms: dict[str, dict[str, Any]] = {}

            def slot(p: str) -> dict[str, Any]:
                return platforms.setdefault(
                    p, {"total": 0, "endpoints": {}, "statuses": {}, "faults": {}, "rate_limited": 0}
                )

            for (p, e), n in sorted(self._requests.items()):
                s = slot(p)
                s["total"] += n
                s["endpoints"][e] = n
            for (p, status), n in sorted(self._statuses.items()):
                slot(p)["statuses"][str(status)] = n
            for (p, kind), n in sorted(self._faults.items()):
                slot(p)["faults"][kind] = n
            for p, n in self._rate_limited.items():
                slot(p)["rate_limited"] = n
            return {"total": sum(self._requests.values()), "platforms": platforms}
