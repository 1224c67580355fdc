"""WaitClock: rate-limit waits of requests in flight together count once (crawler.stats)."""

from __future__ import annotations

from crawler.stats import SourceStats, WaitClock


def test_overlapping_waits_count_their_union_and_separate_ones_their_sum() -> None:
    now = [0.0]
    stats = SourceStats()
    clock = WaitClock(stats, clock=lambda: now[0])
    # Four requests of one spider wait for the same spent budget from t=0: they end at
    # 600, 600, 601 and 602 s. Summed that was 2,403 s; the spider waited 602 s.
    for end, waited in [(600.0, 600.0), (600.0, 600.0), (601.0, 601.0), (602.0, 602.0)]:
        now[0] = end
        clock.add(waited)
    assert stats.rate_limited_seconds == 602.0
    # A later wait of 30 s, after a pause, counts whole; one of 0 s counts nothing.
    now[0] = 700.0
    assert clock.add(30.0) == 30.0
    assert clock.add(0.0) == 0.0
    assert stats.rate_limited_seconds == 632.0
