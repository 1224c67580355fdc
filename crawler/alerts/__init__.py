"""Alerts after every run: growth spikes, status changes, new candidates, failing sources.

    rules.py    the events the database shows now, each with a key that names it once
    deliver.py  apprise, one URL at a time, the URLs never shown (they hold tokens)

`run_alerts` records each event the first time it is seen (the `alerts` table is unique on
the key), sends it to every URL in DFWATCH_ALERT_URLS or `[alerts] urls`, and keeps the
URLs that failed to try again at the next run (at most MAX_ATTEMPTS runs). A failure is
logged and never fails the crawl. Without URLs nothing is evaluated or recorded.
docs/alerts.md has the rules and URL forms.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Table, select, update
from sqlalchemy.exc import OperationalError, ProgrammingError

from crawler.alerts.deliver import alert_urls, fingerprint, send, shown
from crawler.alerts.rules import Event, evaluate
from crawler.config import Config
from crawler.db import models
from crawler.db.store_writes import insert_for
from crawler.errors import StoreError
from crawler.records import utcnow

__all__ = ["Event", "alert_urls", "configured_urls", "list_alerts", "run_alerts", "send_test", "shown"]

log = logging.getLogger("dfwatch.alerts")

ALERTS: Table = models.Base.metadata.tables["alerts"]
MAX_ATTEMPTS = 10  # runs an undelivered alert is tried at; then it is given up (and says so)
MAX_PER_RUN = 100  # alerts sent per run at most; the rest wait for the next run (a flood is a bug)


def configured_urls(config: Config) -> list[str]:
    return alert_urls(config.env, [u.get_secret_value() for u in config.settings.alerts.urls])


@dataclass
class AlertRun:
    """What one evaluation did."""

    new: int = 0
    sent: int = 0
    failed: int = 0


def _with_report(event: Event, report: str | None) -> tuple[str, str]:
    body = event.body if not report else f"{event.body}\nReport: {report}"
    return event.title, body


def record(
    engine: Engine, events: list[Event], urls: list[str], run_id: int | None, report: str | None
) -> int:
    """Insert the events not recorded yet (pending for every URL); returns how many were new."""
    if not events:
        return 0
    now = utcnow()
    pending = ",".join(fingerprint(u) for u in urls)
    with engine.begin() as conn:
        known = {
            k for (k,) in conn.execute(select(ALERTS.c.key).where(ALERTS.c.key.in_([e.key for e in events])))
        }
        rows = []
        for e in dict((e.key, e) for e in events).values():
            if e.key in known:
                continue
            title, body = _with_report(e, report)
            rows.append(
                {
                    "kind": e.kind,
                    "community_id": e.community_id,
                    "key": e.key,
                    "title": title,
                    "body": body,
                    "created_at": now,
                    "sent_at": None,
                    "delivered": False,
                    "attempts": 0,
                    "pending": pending,
                    "error": None,
                    "run_id": run_id,
                }
            )
        if rows:
            conn.execute(insert_for(conn, ALERTS).on_conflict_do_nothing(), rows)
    return len(rows)


def deliver_pending(engine: Engine, urls: list[str], result: AlertRun) -> None:
    """Send every alert still pending, to the URLs it is still pending for."""
    by_fp = {fingerprint(u): u for u in urls}
    c = ALERTS.c
    with engine.connect() as conn:
        rows = list(
            conn.execute(
                select(c.id, c.key, c.title, c.body, c.attempts, c.pending)
                .where(c.delivered.is_(False), c.pending.is_not(None))
                .order_by(c.id)
                .limit(MAX_PER_RUN)
            )
        )
    for r in rows:
        wanted = [f for f in (r.pending or "").split(",") if f]
        targets = [by_fp[f] for f in wanted if f in by_fp]
        values: dict[str, Any] = {"attempts": r.attempts + 1}
        if not targets:
            values.update(pending=None, error="none of its URLs is configured any more")
        else:
            outcome = send(targets, r.title, r.body)
            # Still pending: the URLs that failed; a URL no longer configured is dropped.
            still = [f for f in wanted if f in outcome.failed]
            if outcome.ok:
                values["sent_at"] = utcnow()
            if not still:
                values.update(delivered=True, pending=None, error=None)
                result.sent += 1
                log.info("alert sent key=%s urls=%d", r.key, len(outcome.ok))
            else:
                reasons = "; ".join(f"{shown(by_fp[f])}: {outcome.failed[f]}" for f in still)
                values.update(pending=",".join(still), error=reasons[:1000])
                result.failed += 1
                if r.attempts + 1 >= MAX_ATTEMPTS:
                    values.update(pending=None, error=f"given up after {MAX_ATTEMPTS} runs: {reasons}"[:1000])
                log.warning(
                    "alert key=%s not delivered to %d of %d URL(s) (attempt %d, retried next run): %s",
                    r.key,
                    len(still),
                    len(targets),
                    r.attempts + 1,
                    reasons,
                )
        with engine.begin() as conn:
            conn.execute(update(ALERTS).where(c.id == r.id).values(**values))


def run_alerts(
    config: Config, engine: Engine, run_id: int | None = None, now: datetime | None = None
) -> AlertRun:
    """Evaluate the rules, record new events, deliver what is pending (see the module docstring)."""
    result = AlertRun()
    urls = configured_urls(config)
    if not urls:
        log.debug("alerts: no URLs configured (DFWATCH_ALERT_URLS or [alerts] urls)")
        return result
    settings = config.settings.alerts
    with engine.connect() as conn:
        events = evaluate(conn, settings, now or utcnow())
    result.new = record(engine, events, urls, run_id, settings.report_path)
    deliver_pending(engine, urls, result)
    if result.new or result.sent or result.failed:
        log.info("alerts new=%d sent=%d failed=%d", result.new, result.sent, result.failed)
    return result


def send_test(config: Config) -> list[tuple[str, str | None]]:
    """One test notification to every configured URL: (shown URL, None or why it failed)."""
    urls = configured_urls(config)
    title = "dfwatch: test notification"
    body = "This is a test from `dfwatch alerts test`. Alerts after each crawl will look like this."
    if config.settings.alerts.report_path:
        body += f"\nReport: {config.settings.alerts.report_path}"
    outcome = send(urls, title, body)
    return [(shown(u), outcome.failed.get(fingerprint(u))) for u in urls]


def list_alerts(engine: Engine, limit: int = 1000) -> list[dict[str, Any]]:
    """The recorded alerts, newest first (what was sent, and what is still pending)."""
    from crawler.discover.candidates import iso

    c = ALERTS.c
    try:
        with engine.connect() as conn:
            rows = list(conn.execute(select(ALERTS).order_by(c.id.desc()).limit(limit)))
    except (OperationalError, ProgrammingError) as exc:
        raise StoreError(
            f"cannot read the alerts table ({exc.orig}): run `dfwatch db upgrade` or a crawl first"
        ) from None
    return [
        {
            "id": r.id,
            "kind": r.kind,
            "key": r.key,
            "title": r.title,
            "body": r.body,
            "created_at": iso(r.created_at),
            "sent_at": iso(r.sent_at),
            "delivered": bool(r.delivered),
            "attempts": r.attempts,
            "pending": len((r.pending or "").split(",")) if r.pending else 0,
            "error": r.error,
        }
        for r in rows
    ]
