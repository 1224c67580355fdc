"""Keyed pseudonyms for authors: `HMAC-SHA256(key, "platform:name")`, hex.

The same key and name always give the same pseudonym, so a researcher can count how many
distinct authors a community has and how often one returns, without the database ever
holding a name. The key lives outside the database: `DFWATCH_PSEUDONYM_KEY`, else the key
file (`[privacy] key_file`, relative to the config directory, default
`../data/pseudonym.key`, i.e. `data/pseudonym.key` beside `config/`), created on first use
with 32 random bytes (hex-encoded) and mode 0600. Whoever has the key can test a guessed
name against the stored pseudonyms, so a key file readable by others is refused.

A new key gives new pseudonyms that cannot be linked to the old ones (docs/ethics.md), so
the database remembers the key's fingerprint (`key_fingerprint`, an HMAC of a fixed text:
it does not reveal the key) and a crawl with another key stops (crawler.db.keyguard).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from crawler.errors import ConfigError

log = logging.getLogger("dfwatch.enrich")

KEY_ENV = "DFWATCH_PSEUDONYM_KEY"
KEY_BYTES = 32  # random bytes in a generated key (written as 64 hex characters)
MIN_KEY_CHARS = 16  # shorter keys make guessing names against pseudonyms cheaper: warn
FINGERPRINT_TEXT = b"dfwatch pseudonym key fingerprint v1"

# What platforms put where an author's name was (deleted accounts, removed posts).
NO_AUTHOR: frozenset[str] = frozenset({"", "[deleted]", "[removed]", "[unknown]"})
# GitHub shows every deleted account as the one user "ghost"; counting it as an author
# would merge strangers into one pseudonym.
NO_AUTHOR_BY_PLATFORM: dict[str, frozenset[str]] = {"github": frozenset({"ghost"})}


def pseudonymise(key: bytes, platform: str, name: str | None) -> str | None:
    """The pseudonym of `name` on `platform`, or None when there is no real author."""
    if name is None:
        return None
    name = name.strip()
    if name.lower() in NO_AUTHOR or name.lower() in NO_AUTHOR_BY_PLATFORM.get(platform, frozenset()):
        return None
    return hmac.new(key, f"{platform}:{name}".encode(), hashlib.sha256).hexdigest()


def key_fingerprint(key: bytes) -> str:
    """What the database keeps to recognise the key: HMAC-SHA256(key, a fixed text), hex.

    It cannot be turned back into the key; like the pseudonyms themselves, it only lets
    someone holding a candidate key check it.
    """
    return hmac.new(key, FINGERPRINT_TEXT, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class PseudonymKey:
    """The key, where it came from (for messages), and the file if this call created it."""

    key: bytes = field(repr=False)
    origin: str  # "DFWATCH_PSEUDONYM_KEY" or the key file's path
    created: Path | None = None

    @property
    def fingerprint(self) -> str:
        return key_fingerprint(self.key)


def load_key(env: Mapping[str, str], key_file: Path) -> bytes:
    """The pseudonym key: the environment's, else the key file's (created when absent).

    The file holds the key as text; its stripped content is used exactly like the
    environment variable, so moving the key from one to the other keeps every pseudonym.
    Raises ConfigError for an empty key or a key file that others can read.
    """
    return open_key(env, key_file).key


def open_key(env: Mapping[str, str], key_file: Path) -> PseudonymKey:
    """`load_key`, also saying where the key came from and whether the file is new."""
    value = env.get(KEY_ENV)
    if value:
        if len(value) < MIN_KEY_CHARS:
            log.warning("%s is shorter than %d characters; use a long random key", KEY_ENV, MIN_KEY_CHARS)
        return PseudonymKey(value.encode(), KEY_ENV)
    key, created = _key_from_file(key_file)
    return PseudonymKey(key, str(key_file), key_file if created else None)


def _key_from_file(path: Path) -> tuple[bytes, bool]:
    try:
        return _read_key_file(path), False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: if another process created the file meanwhile, use theirs, never overwrite.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key_file(path), False
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(secrets.token_hex(KEY_BYTES) + "\n")
    log.info("created pseudonym key file=%s mode=0600 (keep it outside the database and backed up)", path)
    return _read_key_file(path), True


def _read_key_file(path: Path) -> bytes:
    """Read an existing key file; refuse it when group or others may read or write it."""
    with open(path, "rb") as fh:
        mode = os.fstat(fh.fileno()).st_mode
        if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(
                f"the pseudonym key file is accessible to other users (mode {stat.S_IMODE(mode):04o}); "
                f"run `chmod 600 {path}` (or set {KEY_ENV})",
                file=str(path),
            )
        key = fh.read().strip()
    if not key:
        raise ConfigError(
            f"the pseudonym key file is empty; delete it to create a new key or set {KEY_ENV}", file=str(path)
        )
    return key
