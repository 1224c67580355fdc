"""Alerts: the rules, once per event, retries, and real apprise deliveries to a local
HTTP receiver (`json://127.0.0.1:PORT/...`), never a mock; secrets in URLs never shown."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from crawler import after_run
from crawler.alerts import list_alerts, run_alerts, send_test
from crawler.alerts.deliver import alert_urls, send, shown
from crawler.cli import app
from crawler.db import runlog
from crawler.db.engine import make_engine, upgrade
from crawler.db.store import Store
from crawler.discover import refresh_candidates
from crawler.enrich import Enricher
from crawler.records import CommunityKey, CommunityObservation, Post
from crawler.run import run_crawl
from crawler.sim.httpserver import LocalHTTPServer
from crawler.stats import SourceStats
from tests.conftest import Sleeps

runner = CliRunner()
NOW = datetime(2018, 2, 8, 12, tzinfo=UTC)
SUB = CommunityKey("reddit", "subreddit", "deepfakes")
SECRET = "s3cr3t-T0KEN-value"


class Receiver:
    """A local HTTP server that records JSON posts; `fail` answers 500 to that many first."""

    def __init__(self, fail: int = 0) -> None:
        self.received: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.fail = fail
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if outer.fail > 0:
                    outer.fail -= 1
                    self.send_response(500)
                    self.end_headers()
                    return
                outer.received.append(json.loads(body))
                outer.paths.append(self.path)
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = LocalHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, path: str = "hook") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def closed_port() -> int:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


def alert_config(make_config: Any, urls: list[str], settings: str = "", db_url: str | None = None) -> Any:
    return make_config(
        {"reddit": {"subreddits": ["deepfakes", "SFWdeepfakes"]}},
        settings,
        env={"DFWATCH_ALERT_URLS": " ".join(urls)},
        db_url=db_url,
    )


def observe(engine: Engine, status: str, when: datetime, members: float | None = None) -> None:
    metrics = {"members": members} if members is not None else {}
    Store(engine).write(
        [CommunityObservation(SUB, when, "reddit_api", status=status, status_reason=status, metrics=metrics)],
        None,
        now=when,
    )


# --------------------------------------------------------------------------- delivery


def test_apprise_delivers_to_a_local_json_receiver(receiver: Receiver) -> None:
    outcome = send([receiver.url("dfwatch")], "dfwatch: r/deepfakes banned", "active → banned")
    assert outcome.failed == {} and len(outcome.ok) == 1
    (msg,) = receiver.received
    assert msg["title"] == "dfwatch: r/deepfakes banned" and msg["message"] == "active → banned"
    assert receiver.paths == ["/dfwatch"]


def test_urls_come_from_the_environment_before_the_settings() -> None:
    assert alert_urls({"DFWATCH_ALERT_URLS": "json://a/x  ntfy://b/t"}, ["json://c/y"]) == [
        "json://a/x",
        "ntfy://b/t",
    ]
    assert alert_urls({}, ["json://c/y"]) == ["json://c/y"]
    assert shown(f"json://user:{SECRET}@host/{SECRET}").startswith("json://…#")


# --------------------------------------------------------------------------- once per event


def test_a_status_change_is_alerted_once_over_repeated_runs(
    engine: Engine, make_config: Any, receiver: Receiver, db_url: str
) -> None:
    config = alert_config(make_config, [receiver.url()], db_url=db_url)
    observe(engine, "active", NOW - timedelta(days=1))
    observe(engine, "banned", NOW)
    for _ in range(3):
        run_alerts(config, engine, now=NOW + timedelta(hours=1))
    assert [m["title"] for m in receiver.received] == ["dfwatch: r/deepfakes banned"]
    assert "active → banned" in receiver.received[0]["message"]
    (row,) = list_alerts(engine)
    assert row["kind"] == "status_change" and row["delivered"] and row["attempts"] == 1


def test_a_community_back_from_a_dead_status_says_it_is_active_again(
    engine: Engine, make_config: Any, receiver: Receiver, db_url: str
) -> None:
    config = alert_config(make_config, [receiver.url()], db_url=db_url)
    observe(engine, "not_found", NOW - timedelta(days=1))
    observe(engine, "active", NOW)
    run_alerts(config, engine, now=NOW + timedelta(hours=1))
    assert [m["title"] for m in receiver.received] == ["dfwatch: r/deepfakes active again (was not_found)"]
    assert "not_found → active" in receiver.received[0]["message"]


def test_a_first_observation_out_of_unknown_is_no_event(
    engine: Engine, db_url: str, make_config: Any, receiver: Receiver
) -> None:
    config = alert_config(make_config, [receiver.url()], db_url=db_url)
    observe(engine, "banned", NOW)
    run_alerts(config, engine, now=NOW)
    assert receiver.received == []


def test_growth_spike_against_an_observation_at_least_20_hours_older(
    engine: Engine, db_url: str, make_config: Any, receiver: Receiver
) -> None:
    config = alert_config(
        make_config, [receiver.url()], "[alerts]\ngrowth_pct_1d = 50\nmin_members = 100\n", db_url=db_url
    )
    observe(engine, "active", NOW - timedelta(hours=24), members=100)
    observe(engine, "active", NOW - timedelta(hours=10), members=140)  # too recent to compare with
    observe(engine, "active", NOW, members=180)
    run_alerts(config, engine, now=NOW)
    run_alerts(config, engine, now=NOW + timedelta(hours=2))
    (msg,) = receiver.received
    assert msg["title"] == "dfwatch: r/deepfakes grew 80 %"
    assert "100 → 180 members" in msg["message"]


def test_small_or_slow_growth_is_no_event(
    engine: Engine, db_url: str, make_config: Any, receiver: Receiver
) -> None:
    config = alert_config(make_config, [receiver.url()], "[alerts]\nmin_members = 1000\n", db_url=db_url)
    observe(engine, "active", NOW - timedelta(days=1), members=100)
    observe(engine, "active", NOW, members=500)  # +400 %, but below min_members
    run_alerts(config, engine, now=NOW)
    assert receiver.received == []


def test_a_source_failing_in_a_row_is_alerted_once_per_streak(
    engine: Engine, db_url: str, make_config: Any, receiver: Receiver
) -> None:
    config = alert_config(make_config, [receiver.url()], "[alerts]\nsource_failing_runs = 2\n", db_url=db_url)
    for status in ("ok", "failed", "failed", "failed"):
        run_id = runlog.start_run(engine, trigger="manual", version="t", pid=1, host="test")
        runlog.start_source(engine, run_id, "reddit")
        runlog.finish_source(engine, run_id, "reddit", status, SourceStats(), None)
        runlog.finish_run(engine, run_id, status)
        run_alerts(config, engine, now=NOW)
    (msg,) = receiver.received
    assert msg["title"] == "dfwatch: source reddit failing"
    assert "failed 2 runs in a row" in msg["message"]


def test_a_candidate_alert_carries_counts_and_handles_never_post_text_or_authors(
    engine: Engine, db_url: str, make_config: Any, receiver: Receiver
) -> None:
    config = alert_config(
        make_config,
        [receiver.url()],
        '[alerts]\nnew_candidate_posts = 3\nreport_path = "https://example.org/r.html"\n',
        db_url=db_url,
    )
    enricher = Enricher(config)
    posts = [
        Post(
            SUB,
            f"p{i}",
            created_at=NOW,
            author="RealName_Author",
            title=f"PRIVATE TITLE {i} t.me/new_refuge",
            body="BODY TEXT",
        )
        for i in range(3)
    ]
    Store(engine).write([enricher(p) for p in posts], None, now=NOW)
    refresh_candidates(engine, now=NOW)
    run_alerts(config, engine, now=NOW)
    (msg,) = receiver.received
    assert msg["title"] == "dfwatch: new candidate t.me/new_refuge"
    assert "linked by 3 posts in 1 watched communities (r/deepfakes)" in msg["message"]
    assert msg["message"].endswith("Report: https://example.org/r.html")
    for private in ("PRIVATE TITLE", "BODY TEXT", "RealName_Author"):
        assert private not in json.dumps(msg)


# --------------------------------------------------------------------------- failures


def test_a_receiver_that_fails_once_gets_the_alert_at_the_next_run(
    engine: Engine, db_url: str, make_config: Any, caplog: pytest.LogCaptureFixture
) -> None:
    flaky, steady = Receiver(fail=1), Receiver()
    try:
        config = alert_config(make_config, [flaky.url(), steady.url()], db_url=db_url)
        observe(engine, "active", NOW - timedelta(days=1))
        observe(engine, "banned", NOW)
        with caplog.at_level(logging.WARNING, logger="dfwatch"):
            first = run_alerts(config, engine, now=NOW)
        assert (first.new, first.sent, first.failed) == (1, 0, 1)
        assert "retried next run" in caplog.text
        assert len(steady.received) == 1 and flaky.received == []
        (row,) = list_alerts(engine)
        assert not row["delivered"] and row["pending"] == 1 and "json://…#" in row["error"]
        second = run_alerts(config, engine, now=NOW + timedelta(hours=1))
        assert (second.new, second.sent, second.failed) == (0, 1, 0)
        assert (
            len(flaky.received) == 1 and len(steady.received) == 1
        )  # the one that took it is not sent again
        (row,) = list_alerts(engine)
        assert row["delivered"] and row["attempts"] == 2 and row["error"] is None
    finally:
        flaky.close()
        steady.close()


def test_secrets_in_urls_are_never_printed_logged_or_stored(
    engine: Engine,
    db_url: str,
    make_config: Any,
    receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
    capsys: Any,
) -> None:
    dead = f"json://alice:{SECRET}@127.0.0.1:{closed_port()}/hooks/{SECRET}"
    good = f"json://bob:{SECRET}x@127.0.0.1:{receiver.port}/path/{SECRET}"
    config = alert_config(make_config, [dead, good], db_url=db_url)
    observe(engine, "active", NOW - timedelta(days=1))
    observe(engine, "banned", NOW)
    with caplog.at_level(logging.DEBUG):  # every logger, apprise's and urllib3's included
        run_alerts(config, engine, now=NOW)
        run_alerts(config, engine, now=NOW + timedelta(hours=1))
        results = send_test(config)
    assert len(receiver.received) == 2  # the alert and the test
    assert [error is None for _, error in results] == [False, True]
    out = capsys.readouterr()
    with engine.connect() as conn:
        stored = json.dumps([list(r) for r in conn.execute(text("select * from alerts"))], default=str)
    env = {**config.env}
    cli = runner.invoke(app, ["alerts", "test", "--config", str(config.directory)], env=env)
    listed = runner.invoke(
        app, ["alerts", "list", "--format", "json", "--config", str(config.directory)], env=env
    )
    assert cli.exit_code == 1 and "FAILED" in cli.output and "sent" in cli.output
    assert listed.exit_code == 0 and json.loads(listed.output)["alerts"][0]["kind"] == "status_change"
    for where in (caplog.text, out.out, out.err, stored, cli.output, listed.output, repr(config.settings)):
        assert SECRET not in where
        assert "alice" not in where and "bob" not in where


def test_no_urls_means_nothing_is_evaluated_or_recorded(
    engine: Engine, db_url: str, make_config: Any
) -> None:
    config = alert_config(make_config, [], db_url=db_url)
    observe(engine, "active", NOW - timedelta(days=1))
    observe(engine, "banned", NOW)
    assert run_alerts(config, engine, now=NOW).new == 0
    assert list_alerts(engine) == []
    result = runner.invoke(app, ["alerts", "test", "--config", str(config.directory)], env=dict(config.env))
    assert result.exit_code == 2 and "DFWATCH_ALERT_URLS" in result.output


def test_a_failing_hook_never_fails_the_crawl(make_config: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: Any) -> None:
        raise RuntimeError("hook bug")

    monkeypatch.setattr(after_run, "HOOKS", (("discovery", broken), ("alerts", broken)))
    config = make_config({"reddit": {"subreddits": ["deepfakes"]}})  # no credentials: reddit is skipped
    result = run_crawl(config, sleep=Sleeps())
    assert result.status == "ok"
    eng = make_engine(config.database_url)
    upgrade(eng)
    with eng.connect() as conn:
        assert conn.execute(text("select status from crawl_runs")).scalar() == "ok"
    eng.dispose()
