"""What a source spent and suffered in one run: the counters behind its `run_sources` row.

A neutral module: sources fill it in, the run log writes it, and neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_ERROR_SUMMARY = 2000  # characters of error text kept per run_sources row


@dataclass
class SourceStats:
    """Counters that become the source's `run_sources` row."""

    requests: int = 0
    items: int = 0
    errors: int = 0
    retries: int = 0
    rate_limited_seconds: float = 0.0
    cost_usd: float | None = None  # estimated platform charges; None: the source charges nothing
    deferred: int = 0  # checks of dead communities skipped as not due (crawler.recheck)
    failures: list[str] = field(default_factory=list)  # "target: message", in order

    @property
    def error_summary(self) -> str | None:
        """The failures, grouped by message: "msg (3 targets: a, b, c); other msg (d)"."""
        if not self.failures:
            return None
        by_message: dict[str, list[str]] = {}
        for failure in self.failures:
            target, sep, message = failure.partition(": ")
            if not sep:
                target, message = "", failure
            by_message.setdefault(message, []).append(target)
        parts = []
        for message, targets in by_message.items():
            named = [t for t in dict.fromkeys(targets) if t]
            if not named:
                parts.append(message)
            elif len(named) == 1:
                parts.append(f"{named[0]}: {message}")
            else:
                parts.append(f"{message} ({len(named)} targets: {', '.join(named)})")
        text = "; ".join(parts)
        return text if len(text) <= MAX_ERROR_SUMMARY else text[: MAX_ERROR_SUMMARY - 1] + "…"

    def add(self, other: SourceStats) -> None:
        """Sum another's counters into this one (shards of one source, one row)."""
        self.requests += other.requests
        self.items += other.items
        self.errors += other.errors
        self.retries += other.retries
        self.rate_limited_seconds += other.rate_limited_seconds
        if other.cost_usd is not None:
            self.cost_usd = (self.cost_usd or 0.0) + other.cost_usd
        self.deferred += other.deferred
        self.failures.extend(other.failures)
