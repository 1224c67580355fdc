"""The codebook: what every table, view and column of the research database means.

This is the one source of those descriptions. docs/schema.md carries them in generated
blocks (between `<!-- codebook:NAME -->` markers) and `dfwatch browse` hands them to
Datasette as its metadata, so the two cannot drift; `tests/test_codebook.py` checks that
every model column is described here and that docs/schema.md is up to date.

    python -m crawler.codebook            # rewrite the generated blocks of docs/schema.md
    python -m crawler.codebook --check    # exit 1 if docs/schema.md is out of date

Descriptions are Markdown (backticks for names and values); Datasette gets them as plain text.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

NONE = "—"  # in a "NULL means" cell: the column is never NULL


@dataclass(frozen=True)
class Column:
    name: str
    meaning: str
    unit: str = ""  # unit, or the values it takes
    null: str = NONE  # what NULL means


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    view: bool = False

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _declared() -> tuple[str, str, str]:
    """Platforms, kinds and sources as the source declarations (crawler.plugins) name them."""
    from crawler.plugins import declared

    platforms = dict.fromkeys(s.platform for s in declared())
    kinds = dict.fromkeys(k for s in declared() for k in s.kinds)
    sources = [s.name for s in declared()]
    return (
        ", ".join(f"`{p}`" for p in platforms),
        ", ".join(f"`{k}`" for k in kinds),
        ", ".join(f"`{n}`" for n in sources),
    )


_PLATFORMS, _KINDS, _SOURCES = _declared()

C = Column
_ID = C("id", "surrogate key", "integer")
_COMMUNITY = C("community_id", "the community (`communities.id`)")

TABLES: tuple[Table, ...] = (
    Table(
        "communities",
        "One row per watched community, from its first crawl on — also when nothing could ever be "
        "fetched, so the database shows what was watched. Unique on `(platform, kind, lower(handle))`.",
        (
            _ID,
            C("platform", "where it lives", _PLATFORMS),
            C("kind", "what it is", _KINDS),
            C(
                "handle",
                "the name as written in the watchlist (first spelling seen); compared case-insensitively",
                "e.g. `SFWdeepfakes`, `iperov/DeepFaceLab`, `mastodon.social/deepfake`; Forgejo `owner/name` "
                "on Codeberg, `host/owner/name` on another instance; a Bluesky handle or DID, or a search's text; "
                "Hugging Face `owner/name`, a Civitai model id `827184`, a hub search `face swap` "
                "(`face swap@civitai.red` on an entry's own endpoint)",
            ),
            C(
                "external_id",
                "the platform's id",
                "e.g. Reddit `t5_…`, X user id, GitHub or Forgejo repo id, Bluesky DID, the Hub's `_id`, the "
                "Civitai model id",
                "not reported yet",
            ),
            C(
                "title",
                "display name or description the platform shows",
                "text",
                "not reported; a model under policy `counts` (NSFW, or a Civitai `poi` model)",
            ),
            C("url", "the community's public address", "URL", "not reported"),
            C("nsfw", "the platform marks it adult (over_18)", "boolean", "not reported"),
            C("created_at", "when the platform says it was created", "time", "not reported"),
            C(
                "status",
                "its current status (vocabulary below)",
                "text",
                "— (`unknown` until observed)",
            ),
            C(
                "status_reason",
                "the evidence for the current status: the platform's own words or the HTTP status",
                "text",
                "none given",
            ),
            C("first_seen_at", "when dfwatch first had it on its watchlist (or first met it)", "time"),
            C(
                "last_checked_at",
                "the time of the newest observation applied: the last check (a check skipped as not due "
                'is none; the report\'s "last checked")',
                "time",
                "never observed",
            ),
            C(
                "status_checks",
                "consecutive checks that found the current status (1 after a change); a `banned`, "
                "`not_found` or `suspended` community is checked again 2^status_checks days after "
                "`last_checked_at`, at most 7",
                "checks",
                "— (0: never observed)",
            ),
        ),
    ),
    Table(
        "metrics",
        "One row per observed value. Unique on `(community_id, metric, observed_at, source)`; "
        "observing the same key again updates `value` and nothing else (a daily bucket still filling).",
        (
            _ID,
            _COMMUNITY,
            C("metric", "what was measured (vocabulary below)", "text"),
            C("value", "the value", "see the vocabulary", "— (a hidden value has no row)"),
            C(
                "observed_at",
                'when the value held (the crawl time for "now" values; the bucket\'s day for history)',
                "time",
            ),
            C(
                "source",
                "where it came from: `reddit_api`, `post_field` (read off posts, e.g. "
                "`subreddit_subscribers`), `arctic_shift`, `x_api`, `github_api`, `discord_api`, "
                "`forgejo_api`, `telegram_preview` (a channel's t.me/s/ preview), `telegram_page` (the "
                "plain t.me/NAME page of a channel, group or bot), `forum_page`, `mastodon_api`, "
                "`bluesky_api`, …",
                "text",
            ),
            C(
                "run_id",
                "the crawl that first stored it (`crawl_runs.id`)",
                "",
                "written outside a crawl, or the run was deleted",
            ),
        ),
    ),
    Table(
        "status_changes",
        "A row only when a community's status differs from its current one — the status timeline.",
        (
            _ID,
            _COMMUNITY,
            C("observed_at", "when the new status was observed", "time"),
            C(
                "old_status",
                "the status before",
                "status vocabulary",
                "the first status ever observed (before it: `unknown`)",
            ),
            C("new_status", "the status observed", "status vocabulary"),
            C(
                "reason",
                "the evidence: the platform's own words or the HTTP status (`HTTP 404`, "
                "`This community has been banned`)",
                "text",
                "none given",
            ),
            C("run_id", "the crawl that observed it (`crawl_runs.id`)", "", "written outside a crawl"),
            C(
                "previous_check_at",
                "the last check before it, which still saw `old_status`: the change happened in "
                "(previous_check_at, observed_at] (days apart where a dead community was re-checked "
                "patiently)",
                "time",
                "no earlier check (the first status), or recorded before this column existed",
            ),
        ),
    ),
    Table(
        "posts",
        "One row per post, unique on `(platform, external_id)`. What a row holds depends on the "
        "watchlist entry's content policy: `counts` keeps only ids, times, score, comment count, link "
        "domain and tool mentions; `metadata` (the default) adds the pseudonymous author, title, "
        "permalink and flair; `full` adds the body. A model-hub search (kind `query` on `huggingface` "
        "or `civitai`) stores each model it finds as a post of the query: ids, `created_at` (the "
        "model's upload), likes as `score`, comments, nsfw, and nothing else whatever the policy (no "
        "title, URL or author); `first_seen_at` and `last_seen_at` then tell when a model first "
        "matched the query and when it last did: uploads and disappearances day by day.",
        (
            _ID,
            C("community_id", "the community it was posted in (`communities.id`)"),
            C(
                "platform",
                "copy of the community's platform (with `external_id`, the post's identity)",
                "text",
            ),
            C(
                "external_id",
                "the platform's id (Reddit base-36 id, X snowflake as decimal text, …)",
                "text",
            ),
            C("created_at", "when the platform says it was posted", "time", "not reported"),
            C("first_seen_at", "the crawl that first stored it (the run's start time)", "time"),
            C("last_seen_at", "the latest crawl that saw it", "time"),
            C(
                "author",
                "keyed pseudonym of the author (64 hex characters)",
                "text",
                "policy `counts`, author deleted, or post removed/deleted",
            ),
            C("title", "title or first line", "text", "policy `counts`, or removed/deleted"),
            C("body", "text of the post", "text", "policy not `full`, or removed/deleted"),
            C("url", "the post's permalink", "URL", "policy `counts`, or removed/deleted"),
            C(
                "link_domain",
                "the registered domain the post links to (never the full URL: no media URLs are kept)",
                "domain",
                "links nowhere",
            ),
            C(
                "score",
                "score (upvotes minus downvotes, likes) at `last_seen_at`",
                "points",
                "not reported",
            ),
            C("num_comments", "comments (replies) at `last_seen_at`", "comments", "not reported"),
            C("nsfw", "the platform marks it adult", "boolean", "not reported"),
            C("flair", "the post's flair or tag", "text", "none, or policy `counts`"),
            C(
                "state",
                "`visible`, `removed` (by moderators or the platform), `deleted` (by its author)",
                "text",
            ),
            C("run_id", "the crawl that first stored it (`crawl_runs.id`)", "", "written outside a crawl"),
        ),
    ),
    Table(
        "tools",
        "The tool taxonomy of `config/tools.yaml`.",
        (
            _ID,
            C("name", "the tool's canonical name (unique)", "text"),
            C(
                "category",
                "its kind (e.g. desktop app, model, service), from tools.yaml",
                "text",
                "not categorised",
            ),
        ),
    ),
    Table(
        "mentions",
        "Which tools a post names, matched on names and aliases before any text is dropped (so "
        "`counts` posts keep them). Primary key `(post_id, tool_id)`.",
        (
            C("post_id", "the post (`posts.id`)"),
            C("tool_id", "the tool named (`tools.id`)"),
        ),
    ),
    Table(
        "crawl_runs",
        "One row per crawl.",
        (
            C("id", "run id", "integer"),
            C(
                "started_at",
                "when the crawl started: when it took the run lock, after any wait for it (so two "
                "runs of one source never overlap in this table)",
                "time",
            ),
            C("finished_at", "when it finished (or was found dead)", "time", "still running"),
            C("trigger", "`manual` or `schedule`", "text"),
            C(
                "status",
                "`running`, `ok`, `partial` (some sources or targets failed, the rest stored), "
                "`failed`, `aborted` (its process died)",
                "text",
            ),
            C("requests", "HTTP requests sent by all sources, token grants and retries included", "requests"),
            C("items", "records the sources produced", "records"),
            C("errors", "targets or batches that failed", "count"),
            C(
                "error_summary",
                "why it failed or was aborted (`process 1234 died`)",
                "text",
                "nothing to report",
            ),
            C("version", "dfwatch version that ran it", "text"),
            C(
                "lock_wait_seconds",
                "how long the crawl waited for another crawl's run lock before `started_at`",
                "seconds",
                "not recorded (runs that never got the lock, runs written before the column existed)",
            ),
            C("pid", "operating-system process id of the crawl", "integer", "unknown"),
            C("host", "host name the crawl ran on", "text", "unknown"),
        ),
    ),
    Table(
        "run_sources",
        "What one source did within one run (in a distributed crawl, the sum of its `run_shards`); "
        "primary key `(run_id, source)`.",
        (
            C("run_id", "the run (`crawl_runs.id`)"),
            C("source", "a declared source (`dfwatch sources`; docs/sources.md)", _SOURCES),
            C(
                "status",
                "the run's vocabulary: `running`, `ok`, `partial`, `failed`, `aborted` (its run was "
                "aborted or killed while the source ran: a run marked aborted or failed marks its "
                "running sources the same), plus `skipped` (not run: no credentials)",
                "text",
            ),
            C("requests", "HTTP requests sent, token grants and retries included", "requests"),
            C("items", "records produced", "records"),
            C("errors", "targets that failed", "count"),
            C("retries", "requests repeated after a transient failure", "count"),
            C(
                "rate_limited_seconds",
                "time spent waiting for rate limits (a spider's requests waiting together count once)",
                "seconds",
            ),
            C(
                "error_summary",
                "`target: message; …` (first 2,000 characters), or the skip reason",
                "text",
                "nothing to report",
            ),
            C(
                "cost_usd",
                "the run's estimated platform charges: X's posts and users returned as data, each id "
                "billed once per UTC day, at `[x] price_post_read` / `price_user_read`, plus "
                "`price_count_request` per counts request",
                "USD",
                "the source charges nothing (every source but X)",
            ),
        ),
    ),
    Table(
        "run_shards",
        "One shard of a distributed crawl (`dfwatch crawl --distributed`): a part of one source's "
        "targets that one worker ran. A source's shards are summed into its `run_sources` row when the "
        "run closes. Primary key `(run_id, source, shard)`.",
        (
            C("run_id", "the run (`crawl_runs.id`)"),
            C("source", "a declared source", _SOURCES),
            C("shard", "its number within the source, from 1", "integer"),
            C(
                "targets",
                "the community keys it crawls, a JSON list of `[platform, kind, handle]` (empty for a "
                "`finale`)",
                "JSON",
            ),
            C(
                "steps",
                "`targets` (its part of the watchlist), `finale` (the source's once-per-run steps, e.g. "
                "Reddit's deletion sweep, run after every other shard of the source), `all` (the whole "
                "source in one shard)",
                "text",
            ),
            C(
                "status",
                "`queued`, `running`, `ok`, `partial` (some targets failed), `failed` (with the reason; "
                "after its retries, or never run before the run's timeout)",
                "text",
            ),
            C("attempts", "how often a worker started it (a redelivery after a crash counts again)", "count"),
            C(
                "requests",
                "HTTP requests sent by its last attempt, token grants and retries included",
                "requests",
            ),
            C("items", "records produced", "records"),
            C("errors", "targets that failed", "count"),
            C("retries", "requests repeated after a transient failure", "count"),
            C("rate_limited_seconds", "time spent waiting for rate limits and shared budgets", "seconds"),
            C("cost_usd", "estimated platform charges (X)", "USD", "the source charges nothing"),
            C("error_summary", "`target: message; …`, or why the shard failed", "text", "nothing to report"),
            C("worker", "`host:pid` of the worker that ran it last", "text", "not started"),
            C("started_at", "when its last attempt started", "time", "not started"),
            C("finished_at", "when it finished", "time", "not finished"),
        ),
    ),
    Table(
        "billed_reads",
        "What a paying source (X) read, per UTC day: the platform bills each id once a day, so the "
        "second crawl of a day is not charged again for it, and `max_cost_usd_per_day` sums the day's "
        "crawls. Written as soon as the items are read (billed, stored or not). Primary key "
        "`(source, day, kind, item_id)`; only the current day is needed, older rows keep the daily "
        "totals and may be deleted.",
        (
            C("source", "the source (`x`)", "text"),
            C("day", "the UTC date billed, `YYYY-MM-DD`", "text"),
            C(
                "kind",
                "`post` (an id), `user` (a lower-case username), `counts_request` (one row per request, "
                "never deduplicated)",
                "text",
            ),
            C("item_id", "the id billed", "text"),
            C("cost_usd", "its price when read", "USD"),
            C("read_at", "when it was read", "time"),
            C("run_id", "the crawl that read it", "", "the run was deleted"),
        ),
    ),
    Table(
        "run_locks",
        "The run lock: one row per scope (e.g. `source:reddit`) held by a running crawl, so that "
        "two crawls of the same scope never overlap. A crawl inserts all its scopes in one "
        "transaction or none. Rows disappear when the crawl ends.",
        (
            C("scope", "what is locked (primary key)", "text"),
            C("run_id", "the holding run (`crawl_runs.id`)", "", "taken before the run had an id"),
            C("holder", "`host:pid` of the holding process", "text"),
            C("acquired_at", "when it was taken", "time"),
            C(
                "heartbeat_at",
                "last sign of life; a lock silent for longer than `lock_stale_seconds`, or held by a "
                "dead process on the same host, is taken over",
                "time",
            ),
        ),
    ),
    Table(
        "pseudonym_key",
        "The fingerprint of the key the authors were pseudonymised with, so that a crawl with another "
        "key stops instead of giving authors a second pseudonym (docs/security.md). One row at most, "
        "written at the first pseudonymised write; the key itself is never stored.",
        (
            C("id", "always 1 (primary key)", "integer"),
            C("fingerprint", '`HMAC-SHA256(key, "dfwatch pseudonym key fingerprint v1")`', "hex text"),
            C("first_used_at", "when the first pseudonymised author was written with this key", "time"),
        ),
    ),
    Table(
        "source_state",
        "Small state a source keeps between crawls (cursors, newest ids seen, ETags).",
        (
            C("source", "the source (`reddit`, `arctic_shift`, …)", "text"),
            C("key", "what the value is about (e.g. `r/deepfakes`)", "text"),
            C("value", "the state, as text the source understands", "text"),
            C("updated_at", "when it was last written", "time"),
        ),
    ),
    Table(
        "community_links",
        "The evidence discovery reads (docs/discovery.md): one row per post and community it links "
        "to, read from the post's title, body and linked URL before the content policy drops any "
        "text. Unique on `(post_id, platform, kind, lower(handle))`. The target is a key as read "
        "from the text, watched or not; the store does not know which. Rows accumulate: a link "
        "once seen stays (as `posts.link_domain` does).",
        (
            _ID,
            C("post_id", "the linking post (`posts.id`)"),
            C("community_id", "the watched community the post is in (`communities.id`)"),
            C(
                "platform",
                "the linked community's platform",
                "`telegram`, `discord`, `reddit`, `github`, `forgejo`, `huggingface`, `civitai`, `bluesky`, `x`",
            ),
            C(
                "kind",
                "what it is",
                "`channel` (every t.me link), `server`, `subreddit`, `repo`, `model`, `space`, `account`",
            ),
            C(
                "handle",
                "as first written in a link (compared case-insensitively)",
                "e.g. `deepfake_refuge`, `AbCd12` (an invite code), `owner/repo`, `12345`",
            ),
            C("linked_at", "when the post was made (else when it was first stored)", "time"),
            C("first_seen_at", "the crawl that first stored the link (its start time)", "time"),
            C("run_id", "that crawl (`crawl_runs.id`)", "", "written outside a crawl"),
        ),
    ),
    Table(
        "candidates",
        "One row per linked community that was not watched when discovery first met it (a link "
        "to a community already watched is a link, never a candidate). Unique on "
        "`(platform, kind, lower(handle))`. Recomputed from `community_links` after every crawl.",
        (
            _ID,
            C("platform", "the linked community's platform, as in `community_links`", "text"),
            C("kind", "its kind, as in `community_links`", "text"),
            C("handle", "its handle (first spelling seen)", "text"),
            C("first_seen_at", "the earliest linking post", "time"),
            C("last_seen_at", "the latest linking post", "time"),
            C("posts", "distinct posts that link to it", "posts"),
            C("communities", "distinct watched communities those posts are in", "communities"),
            C(
                "status",
                "`new`, `watched` (added by hand or by auto-watch, or watched since), `ignored` "
                "(`dfwatch watch ignore`)",
                "text",
            ),
            C("status_changed_at", "when the status was last set", "time", "never set"),
            C(
                "promoted_by",
                "who watched it: `manual` (`dfwatch watch add`) or `auto` (`[discovery] auto_watch`)",
                "text",
                "not promoted, or watched by being on the watchlist",
            ),
            C("updated_at", "the last refresh that changed the row", "time"),
        ),
    ),
    Table(
        "alerts",
        "One row per alert event (docs/alerts.md), unique on `key`: an event is recorded and sent "
        "once, and retried only towards the URLs that failed.",
        (
            _ID,
            C("kind", "`growth`, `status_change`, `candidate`, `auto_watch`, `source_failing`", "text"),
            C(
                "community_id",
                "the community it is about (`communities.id`)",
                "",
                "not about one watched community (a candidate, a source)",
            ),
            C(
                "key",
                "the event's name: `growth:<community id>:<day>`, `status:<status_changes.id>`, "
                "`candidate:<platform>:<kind>:<handle>`, `watched:…`, `source:<source>:<first failed run>`",
                "text",
            ),
            C("title", "the notification's title", "text (counts and handles, never post text or authors)"),
            C(
                "body",
                "the notification's text, with the report link when `[alerts] report_path` is set",
                "text",
            ),
            C("created_at", "when the event was first recorded", "time"),
            C("sent_at", "the last delivery that reached at least one URL", "time", "never reached one"),
            C("delivered", "every URL it was pending for took it", "boolean"),
            C("attempts", "runs that tried to deliver it", "count"),
            C(
                "pending",
                "fingerprints (first 8 hex digits of SHA-256) of the URLs still to deliver to, comma "
                "separated; never the URLs",
                "text",
                "nothing pending (delivered, or given up after 10 runs)",
            ),
            C("error", "the last failure, URLs shown as `scheme://…#fingerprint`", "text", "no failure"),
            C(
                "run_id",
                "the crawl after which it was recorded (`crawl_runs.id`)",
                "",
                "recorded outside a crawl",
            ),
        ),
    ),
    Table(
        "latest_metrics",
        "View: the newest observation of every metric of every community (ties broken by the newest row).",
        (
            _COMMUNITY,
            C("metric", "what was measured (`metrics.metric`)", "text"),
            C("value", "the newest value", "see the metric vocabulary"),
            C("observed_at", "when that value held", "time"),
            C("source", "where it came from (`metrics.source`)", "text"),
            C("run_id", "the crawl that stored it", "", "written outside a crawl"),
        ),
        view=True,
    ),
    Table(
        "daily_metrics",
        "View: the last observation of each UTC day, per community and metric — the series reports use.",
        (
            _COMMUNITY,
            C("metric", "what was measured (`metrics.metric`)", "text"),
            C("day", "the UTC calendar day", "date"),
            C("value", "the day's last value", "see the metric vocabulary"),
            C("observed_at", "when that value held", "time"),
            C("source", "where it came from (`metrics.source`)", "text"),
            C("run_id", "the crawl that stored it", "", "written outside a crawl"),
        ),
        view=True,
    ),
)
BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}


# --------------------------------------------------------------------------- Markdown


def _md_cell(text: str) -> str:
    return (text or "").replace("|", "\\|") or ""


def markdown_block(table: Table) -> str:
    """The generated text of one table: its description and its column table."""
    lines = [table.description, "", "| column | meaning | unit / values | NULL means |", "|---|---|---|---|"]
    for c in table.columns:
        lines.append(
            f"| {c.name} | {_md_cell(c.meaning)} | {_md_cell(c.unit) or NONE} | {_md_cell(c.null)} |"
        )
    return "\n".join(lines)


_BLOCK = re.compile(
    r"(<!-- codebook:(?P<name>[a-z_]+) [^>]*-->\n)(?P<body>.*?)(\n<!-- /codebook:(?P=name) -->)", re.S
)
MARKER_NOTE = "generated from crawler/codebook.py: edit there, then run `python -m crawler.codebook`"


def blocks_in(markdown: str) -> dict[str, str]:
    """The generated blocks found in a Markdown text, by table name."""
    return {m.group("name"): m.group("body") for m in _BLOCK.finditer(markdown)}


def regenerate(markdown: str) -> str:
    """`markdown` with every generated block rewritten from the codebook."""

    def repl(m: re.Match[str]) -> str:
        name = m.group("name")
        if name not in BY_NAME:
            raise KeyError(f"docs/schema.md has a block for {name!r}, which the codebook does not know")
        return m.group(1) + markdown_block(BY_NAME[name]) + m.group(4)

    return _BLOCK.sub(repl, markdown)


# --------------------------------------------------------------------------- Datasette


def plain(text: str) -> str:
    """Markdown inline code as plain text, for Datasette's descriptions."""
    return text.replace("`", "")


def column_description(c: Column) -> str:
    """One line: the meaning, the unit, and what NULL means (when it can be NULL)."""
    out = plain(c.meaning)
    if c.unit:
        out += f" [{plain(c.unit)}]"
    if c.null and c.null != NONE:
        out += f"; NULL: {plain(c.null)}"
    return out


def datasette_tables() -> dict[str, dict[str, object]]:
    """`tables` of Datasette's metadata: each table's description and column descriptions."""
    return {
        t.name: {
            "description": plain(t.description),
            "columns": {c.name: column_description(c) for c in t.columns},
        }
        for t in TABLES
    }


SCHEMA_MD = Path(__file__).resolve().parents[1] / "docs" / "schema.md"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    check = "--check" in args
    paths = [a for a in args if not a.startswith("--")]
    path = Path(paths[0]) if paths else SCHEMA_MD
    old = path.read_text(encoding="utf-8")
    new = regenerate(old)
    missing = [t.name for t in TABLES if t.name not in blocks_in(old)]
    if missing:
        sys.stderr.write(f"{path}: no generated block for {', '.join(missing)}\n")
        return 1
    if check:
        if new != old:
            sys.stderr.write(f"{path} is out of date: run `python -m crawler.codebook`\n")
            return 1
        return 0
    if new != old:
        path.write_text(new, encoding="utf-8")
        sys.stderr.write(f"{path} rewritten\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
