"""Reduce a linked URL to its registrable domain ("i.imgur.com/x.jpg" -> "imgur.com").

dfwatch stores where links point, never what they point to: no media URL is kept, only the
domain, which is enough for "where do the files live" (DESIGN.md, link-domain shares).

tldextract normally downloads the public suffix list; here it is built with no URLs and no
cache directory, so it uses the snapshot bundled with the package and never touches the
network or the disk (tests/test_enrich.py checks this with sockets disabled). Only the
ICANN part of the list is used: "user.github.io" reduces to "github.io", which keeps the
domain statistic about sites rather than about individual users' pages.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from urllib.parse import urlsplit

import tldextract

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_MAX_URL = 4096  # longer strings are not links anyone wrote; refuse rather than parse


@functools.lru_cache(maxsize=1)
def _extractor() -> tldextract.TLDExtract:
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)


def _host(url: str) -> str | None:
    text = url.strip()
    if not text or len(text) > _MAX_URL or any(c.isspace() for c in text):
        return None
    if not _SCHEME.match(text):
        if text.startswith("//"):
            text = "http:" + text
        elif ":" in text.split("/", 1)[0] and not re.match(r"^[^:/]+:\d+(/|$)", text):
            return None  # mailto:, javascript:, data: and the like are not web links
        else:
            text = "http://" + text
    try:
        host = urlsplit(text).hostname
    except ValueError:  # e.g. an unbalanced "[" in the host
        return None
    if not host:
        return None
    return host.rstrip(".").lower()


def link_domain(url: str | None) -> str | None:
    """The registrable domain a URL points to, lower-case; None for no URL or nonsense.

    An IP address is its own domain; a host without a public suffix ("localhost") has none.
    """
    if not url:
        return None
    host = _host(url)
    if not host:
        return None
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    ext = _extractor()(host)
    if not ext.suffix or not ext.domain:
        return None
    return f"{ext.domain}.{ext.suffix}".lower()
