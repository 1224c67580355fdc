"""Logs keep the ethics: a crawl at -vv (libraries at DEBUG) against the fakes writes no post
text, no author identifier and no credential to its log; library records that would are
rewritten by crawler.logsafe."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crawler.logsafe import WITHHELD, EthicsFilter
from crawler.records import CommunityKey, Post
from tests.conftest import write_config
from tests.fakes.reddit import FakeReddit
from tests.fakes.x import TOKEN, FakeX

ROOT = Path(__file__).resolve().parent.parent
TWEET_TEXT = "secret tweet text 7f3a about DeepFaceLab"
TWEET_AUTHOR_ID = "998877665544332211"
REDDIT_TITLE = "secret reddit title 8b2c"
REDDIT_BODY = "secret reddit body 5d1e"
REDDIT_AUTHOR = "real_person_42"


def test_crawl_at_debug_level_never_logs_post_text_authors_or_tokens(tmp_path: Path) -> None:
    with FakeX() as x, FakeReddit() as reddit:
        tweets = x.make_tweets(2, author_id=TWEET_AUTHOR_ID)
        tweets[0]["text"] = TWEET_TEXT
        x.add_tweets("DeepFaceLab", tweets)
        x.add_user("watched_acct")
        reddit.add_subreddit("Alpha", subscribers=100)
        reddit.add_post(
            "Alpha", time.time() - 3600, title=REDDIT_TITLE, selftext=REDDIT_BODY, author=REDDIT_AUTHOR
        )
        cfg = write_config(
            tmp_path / "cfg",
            {
                "x": {"accounts": ["watched_acct"], "queries": ["DeepFaceLab"]},
                "reddit": {"subreddits": [{"name": "Alpha", "content": "full"}]},
            },
        )
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DFWATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
            "DFWATCH_PSEUDONYM_KEY": "a-test-key-long-enough",
            "DFWATCH_ENDPOINT_X": x.url,
            "X_BEARER_TOKEN": TOKEN,
            "DFWATCH_ENDPOINT_REDDIT": reddit.url,
            "REDDIT_CLIENT_ID": reddit.client_id,
            "REDDIT_CLIENT_SECRET": reddit.client_secret,
        }
        done = subprocess.run(
            [sys.executable, "-m", "crawler.cli", "-vv", "crawl", "--config", str(cfg)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    log = done.stdout + done.stderr
    assert done.returncode == 0, log
    assert "DEBUG tweepy" in log and "DEBUG urllib3" in log  # the libraries did speak
    for secret in (TWEET_TEXT, "7f3a", TWEET_AUTHOR_ID, REDDIT_TITLE, REDDIT_BODY, REDDIT_AUTHOR, TOKEN):
        assert secret not in log, f"{secret!r} reached the log"
    assert "Received API response: 200" in log and WITHHELD in log
    assert reddit.client_secret not in log


def _record(name: str, msg: str, args: object = None) -> logging.LogRecord:
    return logging.LogRecord(name, logging.DEBUG, __file__, 1, msg, args, None)  # type: ignore[arg-type]


def test_scrapy_item_dumps_are_withheld() -> None:
    post = Post(CommunityKey("forum", "forum", "f"), "1", title=REDDIT_TITLE, author=REDDIT_AUTHOR)
    for msg in (
        "Scraped from %(src)s\n%(item)s",
        "Dropped: %(exception)s\n%(item)s",
        "Error processing %(item)s",
    ):
        record = _record(
            "scrapy.core.scraper", msg, {"src": "<200 http://f>", "item": post, "exception": "x"}
        )
        assert EthicsFilter().filter(record)
        out = record.getMessage()
        assert REDDIT_TITLE not in out and REDDIT_AUTHOR not in out and f"Post {WITHHELD}" in out


def test_prawcore_form_data_is_withheld_and_params_kept() -> None:
    data = _record("prawcore.sessions", "Data: %s", ("{'password': 'hunter2'}",))
    params = _record("prawcore.sessions", "Params: %s", ("{'limit': 100}",))
    EthicsFilter().filter(data)
    EthicsFilter().filter(params)
    assert "hunter2" not in data.getMessage() and "limit" in params.getMessage()


def test_escape_codes_in_any_log_message_are_made_harmless() -> None:
    record = _record("dfwatch.run", "target failed: %s", ("\x1b]0;pwned\x07 \x1b[2J",))
    EthicsFilter().filter(record)
    assert "\x1b" not in record.getMessage() and "pwned" in record.getMessage()


@pytest.mark.parametrize(("verbose", "shown"), [(0, False), (1, False), (2, True)])
def test_scrapy_debug_lines_stay_hidden_after_scrapy_resets_its_levels(verbose: int, shown: bool) -> None:
    """CrawlerProcess sets the `scrapy` loggers to DEBUG; only -vv may print what they say."""
    import io

    from crawler import logs
    from crawler.logs import setup_logging

    level = logs._library_level
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, {n: logging.getLogger(n).level for n in ("scrapy", "dfwatch")})
    out = io.StringIO()
    try:
        setup_logging(verbose, stream=out)
        logging.getLogger("scrapy").setLevel(logging.DEBUG)  # what configure_logging does
        logging.getLogger("scrapy.core.engine").debug("Crawled (404) <GET http://127.0.0.1/x>")
        logging.getLogger("scrapy.core.engine").warning("a warning always shows")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for name, was in saved[2].items():
            logging.getLogger(name).setLevel(was)
        logs._library_level = level
    assert ("Crawled (404)" in out.getvalue()) is shown
    assert "a warning always shows" in out.getvalue()
