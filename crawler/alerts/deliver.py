"""Sending alerts through apprise, without ever showing the URLs (they hold tokens).

Each configured URL gets its own `apprise.Apprise`, so a failure is known per URL and only
the URLs that failed are tried again at the next run. A URL is shown as its scheme and a
fingerprint (`json://…#1a2b3c4d`, the first 8 hex digits of its SHA-256); while apprise
sends, its own log lines and urllib3's are captured instead of printed (at debug level they
name whole URLs), stripped of every part of every URL, and kept as the failure's reason.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

log = logging.getLogger("dfwatch.alerts")

ENV = "DFWATCH_ALERT_URLS"
_LIBRARY_LOGGERS = ("apprise", "urllib3", "requests")
_MIN_SECRET = 3  # URL parts shorter than this are left in messages (ports, "api", ...)


def alert_urls(env: Mapping[str, str], configured: Sequence[str]) -> list[str]:
    """DFWATCH_ALERT_URLS (space separated) if set, else `[alerts] urls`."""
    value = env.get(ENV, "")
    urls = value.split() if value.strip() else list(configured)
    return list(dict.fromkeys(u for u in urls if u))


def fingerprint(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:8]


def shown(url: str) -> str:
    """How a URL appears in logs and output: its scheme and fingerprint, nothing else."""
    scheme = url.split("://", 1)[0] if "://" in url else "?"
    return f"{scheme[:16]}://…#{fingerprint(url)}"


def secret_parts(urls: Sequence[str]) -> list[str]:
    """Every part of the URLs that could be a secret, longest first."""
    parts: set[str] = set()
    for url in urls:
        parts.add(url)
        rest = url.split("://", 1)[-1]
        parts.add(rest)
        parts.update(p for p in re.split(r"[/?#&=@:,;+]", rest) if len(p) >= _MIN_SECRET)
    return sorted(parts, key=len, reverse=True)


def redact(text: str, secrets: Sequence[str]) -> str:
    for s in secrets:
        if s and s in text:
            text = text.replace(s, "…")
    return text


class _Capture(logging.Handler):
    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__(logging.WARNING)
        self.secrets = secrets
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(redact(record.getMessage(), self.secrets)[:300])
        except Exception:  # noqa: BLE001 - a log line we cannot format is dropped, not raised
            self.lines.append("(unreadable log line)")


@contextlib.contextmanager
def _captured(secrets: Sequence[str]) -> Iterator[_Capture]:
    """apprise's, urllib3's and requests' log lines go to a capture, not to the handlers."""
    capture = _Capture(secrets)
    saved = []
    for name in _LIBRARY_LOGGERS:
        lg = logging.getLogger(name)
        saved.append((lg, lg.level, lg.propagate))
        lg.setLevel(logging.WARNING)
        lg.propagate = False
        lg.addHandler(capture)
    try:
        yield capture
    finally:
        for lg, level, propagate in saved:
            lg.removeHandler(capture)
            lg.setLevel(level)
            lg.propagate = propagate


@dataclass
class Delivery:
    """What one send did: fingerprints that took the message, and why the others did not."""

    ok: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # fingerprint -> reason (redacted)


def send(urls: Sequence[str], title: str, body: str) -> Delivery:
    """Send one message to each URL; never raises for a URL that fails, never logs one."""
    import apprise

    result = Delivery()
    secrets = secret_parts(urls)
    for url in urls:
        fp = fingerprint(url)
        with _captured(secrets) as capture:
            try:
                ap = apprise.Apprise()
                if not ap.add(url):
                    result.failed[fp] = "apprise does not understand this URL"
                    continue
                ok = bool(ap.notify(title=title, body=body))
            except Exception as exc:  # noqa: BLE001 - a notifier's bug must not stop the others
                ok = False
                capture.lines.append(redact(f"{type(exc).__name__}: {exc}", secrets)[:300])
        if ok:
            result.ok.append(fp)
        else:
            result.failed[fp] = "; ".join(capture.lines[-2:]) or "not delivered"
    return result
