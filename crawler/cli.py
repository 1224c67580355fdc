"""The `dfwatch` command: a thin face over the library.

Library functions raise `DfwatchError`s; this module turns them into an exit code and one
sentence on stderr. Exit codes: 0 ok, 4 partial, 1 failed, 2 usage or config error.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from crawler import __version__
from crawler.config import SOURCE_NAMES, Config, load_config
from crawler.config.loader import config_dir as _config_dir
from crawler.errors import ConfigError, DfwatchError

if TYPE_CHECKING:
    from crawler.plugins import SourceSpec

log = logging.getLogger("dfwatch.cli")

# Help texts name settings as `[section] key`; Rich markup would take `[cluster]` for a style
# tag and print nothing, so help is plain text.

app = typer.Typer(
    rich_markup_mode=None,
    help="dfwatch: watch the online communities around deepfake tools, for research.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(rich_markup_mode=None, help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")
watch_app = typer.Typer(
    rich_markup_mode=None,
    help="Promote or silence discovered communities (config/watchlist.d/discovered.yaml).",
    no_args_is_help=True,
)
app.add_typer(watch_app, name="watch")
alerts_app = typer.Typer(
    rich_markup_mode=None,
    help="Alerts through apprise (DFWATCH_ALERT_URLS or [alerts] urls).",
    no_args_is_help=True,
)
app.add_typer(alerts_app, name="alerts")

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", help="Config directory (default: $DFWATCH_CONFIG, else ./config).", show_default=False
    ),
]
RawCsvOpt = Annotated[
    bool,
    typer.Option(
        "--raw-csv",
        help="CSV: write text exactly as stored (default: text starting with = + - @ gets a leading ' "
        "so spreadsheets do not run it as a formula).",
    ),
]
T = TypeVar("T")
_state: dict[str, Any] = {"debug": False}


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"dfwatch: {message}", err=True)
    return typer.Exit(code)


def guarded(fn: Callable[[], T]) -> T:
    """Run a command body, mapping dfwatch errors to one sentence and an exit code."""
    try:
        return fn()
    except DfwatchError as exc:
        raise _fail(str(exc), exc.exit_code) from None
    except KeyboardInterrupt:
        raise _fail("interrupted", 130) from None
    except Exception as exc:
        from crawler.db.engine import explain_error

        known = explain_error(exc)  # a database that cannot be opened is no internal error
        if known is not None:
            raise _fail(str(known), known.exit_code) from None
        if _state["debug"]:
            raise
        log.debug("internal error", exc_info=True)
        raise _fail(
            f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", 1
        ) from None


def _config(directory: Path | None, *, command: str | None = None) -> Config:
    """The config. `command` names a command that needs a watchlist (crawl, schedule, ...);
    the others run on the defaults and the environment where there is no config directory."""
    if command is None:
        return load_config(directory, need_watchlist=False)
    try:
        return load_config(directory)
    except ConfigError as exc:
        if exc.problem.startswith("config directory not found"):
            where = _config_dir(directory)
            raise ConfigError(
                f"dfwatch {command} needs a watchlist: no config directory at {where} "
                "(use --config DIR or $DFWATCH_CONFIG; `make demo` runs without one)"
            ) from None
        raise


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"dfwatch {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More log detail (-vv: libraries too).")
    ] = 0,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of internal errors.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", is_eager=True, callback=_print_version, help="Print the version and exit."),
    ] = False,
) -> None:
    from crawler.logs import setup_logging

    _state["debug"] = debug
    setup_logging(verbose)
    if os.environ.get("DFWATCH_PARENT_WATCH"):  # started by the scheduler: end with it, even killed
        from crawler.schedule.parentwatch import watch_parent

        watch_parent()


@app.command()
def crawl(
    only: Annotated[
        str | None, typer.Option("--only", help=f"Comma-separated sources ({', '.join(SOURCE_NAMES)}).")
    ] = None,
    config: ConfigOpt = None,
    trigger: Annotated[
        str, typer.Option("--trigger", help="Recorded in crawl_runs.trigger: manual or schedule.")
    ] = "manual",
    distributed: Annotated[
        bool,
        typer.Option(
            "--distributed",
            help="Plan the crawl as shards on the queue ([cluster] broker) and wait for the workers.",
        ),
    ] = False,
) -> None:
    """One crawl of everything enabled. Exit 0 ok, 4 partial, 1 failed, 2 config error."""
    if trigger not in ("manual", "schedule"):
        raise _fail(f"--trigger must be manual or schedule, not {trigger!r}", 2)
    names = [s.strip() for s in only.split(",") if s.strip()] if only else None

    def body() -> int:
        from crawler.progress import CrawlProgress
        from crawler.run import run_crawl

        cfg = _config(config, command="crawl")
        with CrawlProgress() as progress:
            if distributed:
                from crawler.cluster.coordinator import run_distributed

                result = run_distributed(cfg, only=names, trigger=trigger, on_source=progress.update)
            else:
                result = run_crawl(cfg, only=names, trigger=trigger, on_source=progress.update)
        progress.summary(result, cfg.database_url)
        return result.exit_code

    raise typer.Exit(guarded(body))


@app.command()
def worker(
    processes: Annotated[
        int, typer.Option("--processes", min=1, max=64, help="Worker processes to start on this machine.")
    ] = 1,
    threads: Annotated[
        int, typer.Option("--threads", min=1, max=64, help="Shards each process runs at once.")
    ] = 4,
    config: ConfigOpt = None,
) -> None:
    """Take crawl shards from the queue ([cluster] broker) until SIGTERM."""

    def body() -> int:
        from crawler.cluster.worker import run_workers

        cfg = _config(config, command="worker")
        directory = str(cfg.directory.resolve()) if cfg.directory is not None else None
        return run_workers(cfg, directory, processes=processes, threads=threads)

    raise typer.Exit(guarded(body))


@app.command()
def schedule(
    config: ConfigOpt = None,
    list_: Annotated[
        bool, typer.Option("--list", help="Show the jobs and their next run times, then exit.")
    ] = False,
) -> None:
    """The long-running daily scheduler (APScheduler, UTC)."""

    def body() -> int:
        from crawler.config import config_dir
        from crawler.schedule import list_jobs, run_scheduler

        cfg = _config(config, command="schedule")
        if list_:
            for job in list_jobs(cfg):
                nxt = job.next_run_time.isoformat() if job.next_run_time else "paused"
                typer.echo(f"{job.id:<24} {job.cron:<16} next {nxt}  sources: {', '.join(job.sources)}")
            return 0
        return run_scheduler(cfg, config_dir=config_dir(config).resolve())

    raise typer.Exit(guarded(body))


@app.command()
def report(
    since: Annotated[
        str, typer.Option("--since", help="Window for status changes and trends: 30d, 12h, 2w.")
    ] = "30d",
    fmt: Annotated[str, typer.Option("--format", help="table, md, csv, json or html.")] = "table",
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to this file instead of standard output.")
    ] = None,
    platform: Annotated[str | None, typer.Option("--platform", help="Only this platform.")] = None,
    tag: Annotated[str | None, typer.Option("--tag", help="Only watchlist entries with this tag.")] = None,
    top: Annotated[
        int | None, typer.Option("--top", min=1, help="Only the N fastest growers (7 days).")
    ] = None,
    raw_csv: RawCsvOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Trend report: growth, status changes, tool mentions, link domains."""

    def body() -> int:
        from crawler.db.engine import make_engine
        from crawler.report import build_report, parse_since, render
        from crawler.report.provenance import config_sha256

        if fmt not in ("table", "md", "csv", "json", "html"):
            raise ConfigError(f"--format must be table, md, csv, json or html, not {fmt!r}")
        try:
            window = parse_since(since)
        except ValueError as exc:
            raise ConfigError(str(exc), entry="--since") from None
        cfg = _config(config)
        handles = None
        if tag:
            handles = {t.key.norm for t in cfg.all_targets() if tag in t.tags}
            if not handles:
                raise ConfigError(f"no watchlist entry has the tag {tag!r}", entry="--tag")
        engine = make_engine(cfg.database_url, read_only=True)
        try:
            data = build_report(
                engine,
                since=window,
                platform=platform,
                handles=handles,
                top=top,
                database=cfg.database_url,
                config_sha256=config_sha256(cfg.directory),
            )
        finally:
            engine.dispose()
        text = render(data, fmt, csv_guard=not raw_csv)
        if out:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(text, encoding="utf-8")
            typer.echo(f"report written to {out}", err=True)
        else:
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return 0

    raise typer.Exit(guarded(body))


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="One SQL statement; read-only (writes are refused).")],
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="Rows the table shows at most (csv and json write all).")
    ] = 1000,
    raw_csv: RawCsvOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Run a read-only SQL query against the research database."""

    def body() -> int:
        from crawler.db.query import format_rows, run_query

        if fmt not in ("table", "csv", "json"):
            raise ConfigError(f"--format must be table, csv or json, not {fmt!r}")
        cfg = _config(config)
        columns, rows = run_query(cfg.database_url, sql, timeout_seconds=cfg.settings.query.timeout_seconds)
        format_rows(columns, rows, fmt, sys.stdout, limit=limit, csv_guard=not raw_csv)
        return 0

    raise typer.Exit(guarded(body))


@app.command()
def export(
    fmt: Annotated[str, typer.Option("--format", help="csv, parquet, jsonl or sqlite.")] = "csv",
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="Directory for one file per table (sqlite: the snapshot file, e.g. snapshot.db)."
        ),
    ] = Path("data/export"),
    config: ConfigOpt = None,
) -> None:
    """Export every table, streamed: one file per table, or one SQLite snapshot of every table and view."""

    def body() -> int:
        from crawler.db.export import export_tables

        if fmt not in ("csv", "parquet", "jsonl", "sqlite"):
            raise ConfigError(f"--format must be csv, parquet, jsonl or sqlite, not {fmt!r}")
        cfg = _config(config)
        if fmt == "sqlite":
            return _export_snapshot(cfg.database_url, out)
        counts = export_tables(cfg.database_url, out, fmt)
        for table, n in counts.items():
            typer.echo(f"{table:<16} {n:>10} rows")
        typer.echo(f"exported to {out}", err=True)
        return 0

    raise typer.Exit(guarded(body))


def _export_snapshot(url: str, out: Path) -> int:
    from crawler.db.snapshot import export_sqlite, snapshot_path

    counts = export_sqlite(url, out)
    for table, n in counts.items():
        typer.echo(f"{table:<16} {n:>10} rows")
    path = snapshot_path(out)
    typer.echo(f"snapshot written to {path}; browse it with: dfwatch browse --db sqlite:///{path}", err=True)
    return 0


@app.command()
def sources(config: ConfigOpt = None) -> None:
    """What is configured, and which credentials are present (never their values)."""

    def body() -> int:
        from rich.console import Console
        from rich.table import Table

        from crawler.plugins import declared
        from crawler.sources.registry import get_source

        cfg = _config(config)
        spend = _spend_30d(cfg.database_url)
        table = Table("source", "targets", "credentials", "state")
        for spec in declared():
            n = len(cfg.targets(spec.name))
            creds = [
                f"{c.variable} {'set' if cfg.credential(c.variable) else ('missing' if c.required else 'unset (optional)')}"
                for c in spec.credentials
            ]
            missing = cfg.missing_credentials(spec.name)
            if not n:
                state = "nothing watched"
            elif get_source(spec.name) is None:
                state = "not available"
            elif missing:
                state = f"skipped: set {' and '.join(missing)}"
            else:
                state = "enabled" + _skipped_kinds(cfg, spec)
            table.add_row(spec.name, str(n), "\n".join(creds) or "none needed", state)
        Console().print(table)
        for name, (usd, runs) in sorted(spend.items()):
            typer.echo(
                f"{name}: ${usd:,.2f} spent in the last 30 days ({runs} runs; estimated platform charges)"
            )
        where = str(cfg.directory) if cfg.directory else "none (defaults and environment)"
        typer.echo(f"config: {where}   database: {_redact(cfg.database_url)}")
        return 0

    raise typer.Exit(guarded(body))


@app.command()
def demo(
    days: Annotated[int, typer.Option("--days", min=1, max=365, help="Simulated days to crawl.")] = 30,
    out: Annotated[Path, typer.Option("--out", help="Directory for the demo database and report.")] = Path(
        "data/demo"
    ),
    hub_days: Annotated[
        int,
        typer.Option("--hub-days", min=0, max=120, help="Days of the 2025 model-hub chapter (0 skips it)."),
    ] = 42,
) -> None:
    """The whole pipeline offline against simulated platforms; writes an HTML report."""

    def body() -> int:
        from crawler.sim.demo import WAVE_REPORT, run_demo

        def alert(sim_now: str, message: dict[str, Any]) -> None:
            typer.echo(f"alert (simulated {sim_now[:10]}): {message.get('title')}: {message.get('message')}")

        report_path = run_demo(days=days, out_dir=out, hub_days=hub_days, on_alert=alert)
        typer.echo(f"demo report: {report_path}")
        chapter = report_path.with_name("report-2025.html")
        if hub_days and chapter.exists():
            typer.echo(f"2025 chapter (model hubs): {chapter}")
        typer.echo(f"demo report of the 2024-2026 wave: {report_path.with_name(WAVE_REPORT)}")
        return 0

    raise typer.Exit(guarded(body))


@app.command()
def discover(
    since: Annotated[str, typer.Option("--since", help="Count links of this window: 30d, 12h, 2w.")] = "30d",
    min_posts: Annotated[
        int, typer.Option("--min-posts", min=1, help="Only candidates linked this often.")
    ] = 1,
    fmt: Annotated[str, typer.Option("--format", help="table, json or csv.")] = "table",
    all_: Annotated[
        bool, typer.Option("--all", help="Also the promoted (watched) and ignored ones.")
    ] = False,
    config: ConfigOpt = None,
) -> None:
    """Communities that watched communities link to and that are not watched yet."""

    def body() -> int:
        from crawler.db.engine import make_engine
        from crawler.discover import list_candidates
        from crawler.discover.render import FORMATS, render_candidates
        from crawler.records import utcnow
        from crawler.report import parse_since

        if fmt not in FORMATS:
            raise ConfigError(f"--format must be table, json or csv, not {fmt!r}")
        try:
            window = parse_since(since)
        except ValueError as exc:
            raise ConfigError(str(exc), entry="--since") from None
        cfg = _config(config)
        engine = make_engine(cfg.database_url, read_only=True)
        try:
            now = utcnow()
            found = list_candidates(
                engine, since=now - window, until=now, min_posts=min_posts, include_all=all_
            )
        finally:
            engine.dispose()
        sys.stdout.write(render_candidates(found, fmt))
        return 0

    raise typer.Exit(guarded(body))


KeysArg = Annotated[
    list[str], typer.Argument(help="PLATFORM:KIND:HANDLE (e.g. telegram:channel:name) or a link.")
]


def _watch(keys: list[str], config: Path | None, action: str) -> int:
    from crawler.discover import DiscoveredFile, parse_key, set_status

    cfg = _config(config)
    parsed = [parse_key(k) for k in keys]
    file = DiscoveredFile(cfg)
    outcome = file.add(parsed) if action == "add" else file.ignore(parsed)
    verb = "watching" if action == "add" else "ignoring"
    for key in outcome.added:
        typer.echo(f"{verb} {key}")
    for key, why in outcome.skipped:
        typer.echo(f"skipped {key}: {why}", err=True)
    try:
        from crawler.db.engine import make_engine, upgrade

        engine = make_engine(cfg.database_url)
        try:
            upgrade(engine)
            status = "watched" if action == "add" else "ignored"
            set_status(engine, [k.norm for k in outcome.added], status, by="manual")
        finally:
            engine.dispose()
    except DfwatchError as exc:  # the file is what counts; the next crawl brings the database along
        log.warning("candidates not updated in the database: %s", exc)
    typer.echo(f"written to {file.path}", err=True)
    return 0 if outcome.added or not outcome.skipped else 1


@watch_app.command("add")
def watch_add(keys: KeysArg, config: ConfigOpt = None) -> None:
    """Watch communities from the next crawl on (written to watchlist.d/discovered.yaml)."""
    raise typer.Exit(guarded(lambda: _watch(keys, config, "add")))


@watch_app.command("ignore")
def watch_ignore(keys: KeysArg, config: ConfigOpt = None) -> None:
    """Silence candidates: never auto-watched, never alerted, left out of `dfwatch discover`."""
    raise typer.Exit(guarded(lambda: _watch(keys, config, "ignore")))


@alerts_app.command("test")
def alerts_test(config: ConfigOpt = None) -> None:
    """Send one test notification to every configured URL (shown without its secrets)."""

    def body() -> int:
        from crawler.alerts import configured_urls, send_test

        cfg = _config(config)
        if not configured_urls(cfg):
            raise ConfigError("no alert URLs: set DFWATCH_ALERT_URLS or [alerts] urls in settings.toml")
        failed = 0
        for url, error in send_test(cfg):
            typer.echo(f"{url:<32} {'sent' if error is None else 'FAILED: ' + error}")
            failed += error is not None
        return 1 if failed else 0

    raise typer.Exit(guarded(body))


@alerts_app.command("list")
def alerts_list(
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    config: ConfigOpt = None,
) -> None:
    """What alerts were sent, and which are still pending."""

    def body() -> int:
        from crawler.alerts import list_alerts
        from crawler.alerts.render import FORMATS, render_alerts
        from crawler.db.engine import make_engine

        if fmt not in FORMATS:
            raise ConfigError(f"--format must be table or json, not {fmt!r}")
        cfg = _config(config)
        engine = make_engine(cfg.database_url, read_only=True)
        try:
            rows = list_alerts(engine)
        finally:
            engine.dispose()
        sys.stdout.write(render_alerts(rows, fmt))
        return 0

    raise typer.Exit(guarded(body))


@app.command()
def browse(
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on; anything but loopback is warned about.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8001,
    db: Annotated[
        str | None,
        typer.Option(
            "--db", help="SQLite database URL (default: the configured database).", show_default=False
        ),
    ] = None,
    report_path: Annotated[
        Path | None,
        typer.Option(
            "--report", help="Report to link from every page (default: report.html beside the database)."
        ),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Browse the database in Datasette, read-only, with the codebook; stops on Ctrl-C or SIGTERM."""

    def body() -> int:
        from crawler.browse import exposure_warning, is_loopback, serve, sqlite_path

        path = sqlite_path(db or _config(config).database_url)
        if not is_loopback(host):
            typer.echo(f"dfwatch: {exposure_warning(host, port)}", err=True)
        typer.echo(f"browse http://{host}:{port}/{path.stem} (Ctrl-C to stop)", err=True)
        serve(path, host=host, port=port, report=report_path)
        return 0

    raise typer.Exit(guarded(body))


@db_app.command("upgrade")
def db_upgrade(config: ConfigOpt = None) -> None:
    """Create or upgrade the schema (Alembic); `dfwatch crawl` does this first anyway."""

    def body() -> int:
        from crawler.db.engine import current_revision, make_engine, upgrade

        cfg = _config(config)
        engine = make_engine(cfg.database_url)
        try:
            upgrade(engine)
            typer.echo(f"database {_redact(cfg.database_url)} at revision {current_revision(engine)}")
        finally:
            engine.dispose()
        return 0

    raise typer.Exit(guarded(body))


def _spend_30d(database_url: str) -> dict[str, tuple[float, int]]:
    """Estimated platform charges per source over the last 30 days (run_sources.cost_usd);
    empty where there is no database yet, or one from before spend was recorded."""
    from datetime import timedelta

    from sqlalchemy.exc import SQLAlchemyError

    from crawler.db.engine import make_engine
    from crawler.db.runlog import spend_since
    from crawler.records import utcnow

    try:
        engine = make_engine(database_url, read_only=True)
    except DfwatchError:
        return {}
    try:
        return spend_since(engine, utcnow() - timedelta(days=30))
    except SQLAlchemyError as exc:
        log.debug("no spend to show: %s", exc)
        return {}
    finally:
        engine.dispose()


def _skipped_kinds(cfg: Config, spec: SourceSpec) -> str:
    """ "; 2 queries skipped: set A and B" where optional credentials some targets need are unset."""
    unset = [c for c in spec.credentials if c.kinds and not cfg.credential(c.variable)]
    kinds = {k for c in unset for k in c.kinds}
    n = sum(1 for t in cfg.targets(spec.name) if t.key.kind in kinds)
    if not n:
        return ""
    names = " and ".join(dict.fromkeys(c.variable for c in unset))
    return f"; {n} {'/'.join(sorted(kinds))} {'target' if n == 1 else 'targets'} skipped: set {names}"


def _redact(url: str) -> str:
    """A database URL without its password, for display."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - display only
        return "<unparsable URL>"


def main() -> None:
    app()


if __name__ == "__main__":
    main()
