"""The pseudonym key cannot change silently: the database remembers its fingerprint.

Authors are stored as HMAC pseudonyms; a crawl run with another key (a key file created
afresh because the crawl started in another directory, or after the file was moved) would
give every returning author a second pseudonym, and nothing downstream could tell. So the
first pseudonymised write records the key's fingerprint (`pseudonym_key`, one row), and
every crawl checks it before any request: another key stops the crawl (exit 2) with what to
do. A key file created by that very crawl is removed again, so nothing is left behind.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy import Engine, Table, insert, select
from sqlalchemy.exc import IntegrityError

from crawler.db.models import Base
from crawler.errors import ConfigError, StoreError

log = logging.getLogger("dfwatch.store")

TABLE: Table = Base.metadata.tables["pseudonym_key"]
ROW_ID = 1
SHOWN = 12  # hex characters of a fingerprint shown in messages
KEY_ENV = "DFWATCH_PSEUDONYM_KEY"


class Key(Protocol):
    """What the guard needs of a key (crawler.enrich.pseudonym.PseudonymKey), never the key."""

    @property
    def fingerprint(self) -> str: ...
    @property
    def origin(self) -> str: ...  # KEY_ENV or the key file's path
    @property
    def created(self) -> Path | None: ...  # the key file, if the crawl just created it


class PseudonymKeyMismatch(ConfigError, StoreError):
    """The key differs from the one this database's authors were pseudonymised with.

    A ConfigError (exit 2) before the crawl; a StoreError to the run when a concurrent crawl
    recorded another key first (the batch is not stored, the source fails).
    """


def stored_fingerprint(engine: Engine) -> str | None:
    with engine.connect() as conn:
        value = conn.execute(select(TABLE.c.fingerprint).where(TABLE.c.id == ROW_ID)).scalar()
    return str(value) if value is not None else None


def _mismatch(key: Key, stored: str, *, created: Path | None) -> PseudonymKeyMismatch:
    if created is not None:
        try:
            created.unlink()  # we made it a moment ago (O_EXCL): it holds nothing of value
            where = f"there was no key file at {created} (a new key was made and removed again)"
        except OSError:
            where = f"the key file {created} was just created with a new key"
    elif key.origin == KEY_ENV:
        where = f"the key comes from {KEY_ENV}"
    else:
        where = f"the key comes from {key.origin}"
    return PseudonymKeyMismatch(
        f"this database's authors were pseudonymised with another key (fingerprint "
        f"{stored[:SHOWN]}…, this key {key.fingerprint[:SHOWN]}…); {where}. Nothing was crawled: "
        f"restore the original key file, point [privacy] key_file at it (relative paths are "
        f"relative to the config directory) or set {KEY_ENV}; to start new pseudonyms on "
        f"purpose, see docs/security.md",
        entry="privacy.key_file",
    )


def check_key(engine: Engine, key: Key) -> None:
    """Raise PseudonymKeyMismatch if the database knows another key. Call before any request."""
    stored = stored_fingerprint(engine)
    if stored is not None and stored != key.fingerprint:
        raise _mismatch(key, stored, created=key.created)


def record_key(engine: Engine, key: Key) -> None:
    """Remember the key at the first pseudonymised write (race-safe: one row, id 1).

    If another process recorded a different key meanwhile, raise PseudonymKeyMismatch: the
    batch about to be written must not mix two keys' pseudonyms.
    """
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(TABLE).values(id=ROW_ID, fingerprint=key.fingerprint, first_used_at=datetime.now(UTC))
            )
        log.info("recorded the pseudonym key's fingerprint %s…", key.fingerprint[:SHOWN])
    except IntegrityError:
        pass  # already recorded
    stored = stored_fingerprint(engine)
    if stored is not None and stored != key.fingerprint:
        raise _mismatch(key, stored, created=None)  # the file is in use by now: keep it
