"""Following the migration: links in stored posts to communities become candidates.

    links          crawler.enrich.community_links reads them at enrichment (pure)
    evidence       crawler.db.store_links stores them (`community_links`; the store knows no platform)
    candidates.py  unwatched linked communities, their counts and status (`candidates`)
    watchfile.py   config/watchlist.d/discovered.yaml, the one watchlist file dfwatch writes
    autowatch.py   after a run, watch candidates past the thresholds (never persons)

docs/discovery.md describes what is read, the thresholds and the ethics of following links.
"""

from crawler.discover.autowatch import COMMUNITY_KINDS, auto_watch, eligible
from crawler.discover.candidates import (
    Candidate,
    candidate_rows,
    list_candidates,
    refresh_candidates,
    set_status,
)
from crawler.discover.watchfile import DiscoveredFile, parse_key

__all__ = [
    "COMMUNITY_KINDS",
    "Candidate",
    "DiscoveredFile",
    "auto_watch",
    "candidate_rows",
    "eligible",
    "list_candidates",
    "parse_key",
    "refresh_candidates",
    "set_status",
]
