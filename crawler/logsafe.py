"""Logs keep the ethics: no post text, no author identifiers, no credentials, at any level.

dfwatch's own log lines name communities, counts and reasons. The libraries it drives are
less careful at DEBUG (`-vv`):

* tweepy logs every request's headers (the bearer token) and body, and every response's
  raw content (tweet text, author ids and names);
* prawcore logs each request's form data;
* Scrapy logs every scraped item ("Scraped from <200 url>" and the record: title, body,
  author name before pseudonymisation) and the item of every dropped or failed one.

`EthicsFilter`, set on the log handlers by crawler.logs, rewrites those records: the
request line, status and parameters stay (they name endpoints, communities and cursors);
headers, bodies, form data and items are replaced by a note of what was withheld. It also
replaces control characters in every message (crawler.textsafe): a server's error text
must not move the cursor or clear the terminal of whoever reads the log.
"""

from __future__ import annotations

import logging

from crawler.textsafe import has_control, terminal

WITHHELD = "<withheld: may hold post text or author identifiers>"


def _tweepy(record: logging.LogRecord) -> None:
    message = record.getMessage()
    if not message.startswith(("Making API request:", "Received API response:")):
        return
    kept = [line for line in message.split("\n") if line.startswith(("Making", "Received", "Parameters:"))]
    record.msg = "\n".join(kept) + f"\n(headers and body {WITHHELD})"
    record.args = ()


def _prawcore(record: logging.LogRecord) -> None:
    if isinstance(record.msg, str) and record.msg.startswith("Data:"):
        record.msg, record.args = f"Data: {WITHHELD}", ()


def _scrapy(record: logging.LogRecord) -> None:
    args = record.args
    if isinstance(args, dict) and "item" in args:
        record.args = {**args, "item": f"{type(args['item']).__name__} {WITHHELD}"}


_RULES = (("tweepy", _tweepy), ("prawcore", _prawcore), ("scrapy", _scrapy))


class EthicsFilter(logging.Filter):
    """Rewrites library records that would carry bodies, items or credentials (see module)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for prefix, rule in _RULES:
            if record.name == prefix or record.name.startswith(prefix + "."):
                rule(record)
                break
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a library's own formatting bug: leave it to logging
            return True
        if has_control(message.replace("\n", "")):
            record.msg, record.args = terminal(message), ()
        return True
