"""What a paying source spends: reads priced per item, billed once per id per UTC day, capped.

Since 6 February 2026 X charges per read (about $0.005 a post, $0.010 a user), each id
once per UTC calendar day however often it is read that day. A `Meter` counts that spend
for one source in one run:

* before a request, `allow(worst_usd, what)` raises `BudgetExhausted` when the worst the
  request could cost would pass `max_run_usd` (this run) or `max_day_usd` (every run of the
  UTC day, from the ledger); the source stops there, before reading, so nothing is read, let
  alone stored, past the cap;
* after it, `charge(kind, ids)` bills the ids not yet billed today, writes them to the
  ledger at once (the platform has billed them whether or not the crawl lives to store
  them) and adds them to the run's `cost_usd`.

Prices are the operator's (`[x] price_post_read`, ...): dfwatch estimates, the platform's
invoice is the truth.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, date

from crawler.errors import BudgetExhausted
from crawler.sources.base import SourceContext

CENT = 1e-9  # rounding slack when comparing sums of prices with a cap (USD)


class Meter:
    """One source's spend in one run (see the module docstring)."""

    def __init__(
        self,
        ctx: SourceContext,
        prices: Mapping[str, float],
        *,
        max_run_usd: float | None = None,
        max_day_usd: float | None = None,
    ) -> None:
        self.ctx = ctx
        self.prices = dict(prices)
        self.max_run_usd = max_run_usd
        self.max_day_usd = max_day_usd
        self._day: date | None = None
        self._day_before = 0.0  # billed on self._day by earlier runs (read once per day)
        self._day_run = 0.0  # billed on self._day by this run
        if ctx.stats.cost_usd is None:
            ctx.stats.cost_usd = 0.0

    @property
    def spent(self) -> float:
        """USD this run has been billed so far."""
        return self.ctx.stats.cost_usd or 0.0

    def today(self) -> date:
        """The UTC day reads are billed to now (the run's clock)."""
        day = self.ctx.now().astimezone(UTC).date()
        if day != self._day:  # first read, or the run crossed midnight UTC
            self._day = day
            self._day_before = self.ctx.ledger.day_total(day)
            self._day_run = 0.0
        return day

    def price(self, kind: str) -> float:
        return self.prices.get(kind, 0.0)

    def unbilled(self, kind: str, ids: Iterable[str]) -> list[str]:
        """Those of `ids` a read now would be billed for (not yet billed today), in order."""
        wanted = list(dict.fromkeys(ids))
        if not wanted or self.price(kind) == 0:
            return wanted
        done = self.ctx.ledger.billed(self.today(), kind, wanted)
        return [i for i in wanted if i not in done]

    def worst(self, kind: str, n: int) -> float:
        """The most `n` reads of `kind` can cost."""
        return n * self.price(kind)

    def affordable(self, kind: str) -> int | None:
        """How many reads of `kind` the remaining budget covers at worst (None: no cap)."""
        price = self.price(kind)
        left = self.remaining()
        if price <= 0 or left is None:
            return None
        return int((left + CENT) // price)

    def remaining(self) -> float | None:
        """USD left before the nearer cap (None: no cap)."""
        caps = []
        if self.max_run_usd is not None:
            caps.append(self.max_run_usd - self.spent)
        if self.max_day_usd is not None:
            self.today()
            caps.append(self.max_day_usd - self._day_before - self._day_run)
        return max(0.0, min(caps)) if caps else None

    def allow(self, worst_usd: float, what: str) -> None:
        """Raise BudgetExhausted if a request costing up to `worst_usd` would pass a cap."""
        if worst_usd <= 0:
            return
        if self.max_run_usd is not None and self.spent + worst_usd > self.max_run_usd + CENT:
            raise BudgetExhausted(
                f"budget: {what} could cost ${worst_usd:.3f}, and this run has spent "
                f"${self.spent:.3f} of max_cost_usd_per_run ${self.max_run_usd:.2f}",
                target=self.ctx.name,
            )
        if self.max_day_usd is not None:
            self.today()
            day_spent = self._day_before + self._day_run
            if day_spent + worst_usd > self.max_day_usd + CENT:
                raise BudgetExhausted(
                    f"budget: {what} could cost ${worst_usd:.3f}, and {self._day} has cost "
                    f"${day_spent:.3f} of max_cost_usd_per_day ${self.max_day_usd:.2f}",
                    target=self.ctx.name,
                )

    def charge(self, kind: str, ids: Iterable[str]) -> float:
        """Bill the ids read now that were not billed today; returns the USD added."""
        price = self.price(kind)
        if price <= 0:
            return 0.0
        fresh = self.unbilled(kind, ids)
        if not fresh:
            return 0.0
        day = self.today()
        self.ctx.ledger.bill(day, kind, dict.fromkeys(fresh, price), self.ctx.now())
        return self._add(price * len(fresh))

    def charge_request(self, kind: str) -> float:
        """Bill one request of `kind` (priced per request, not per id: never deduplicated)."""
        price = self.price(kind)
        if price <= 0:
            return 0.0
        # A request has no id to deduplicate on: a unique one records it for the day's total.
        self.ctx.ledger.bill(self.today(), kind, {uuid.uuid4().hex: price}, self.ctx.now())
        return self._add(price)

    def _add(self, usd: float) -> float:
        self.ctx.stats.cost_usd = self.spent + usd
        self._day_run += usd
        return usd
