"""Reading config/ from disk: YAML and TOML parsing, validation, messages that name the entry.

Invalid input raises `ConfigError` naming the file, the entry and the problem, before any
request is sent. The checks of each watchlist section live in its source's declaration
(crawler.plugins); this module reads files, merges `watchlist.d/*.yaml` after
`watchlist.yaml`, and turns pydantic's errors into one sentence.

Commands that need no watchlist (query, report, export, db upgrade, sources, ...) load with
`need_watchlist=False`: without a config directory they run on the defaults and the
environment.
"""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from crawler.config.core import Config
from crawler.config.models import (
    SETTINGS_FILE,
    TOOLS_FILE,
    WATCHLIST_DIR,
    WATCHLIST_FILE,
    CoreSettings,
    Settings,
    Tool,
    Watchlist,
)
from crawler.entries import EntryError, Section, brief
from crawler.errors import ConfigError
from crawler.plugins import declared

log = logging.getLogger("dfwatch.config")

MAX_CONFIG_BYTES = 20 * 1024 * 1024  # a watchlist of 100,000 entries is about 3 MB
MAX_YAML_NODES = 2_000_000  # nodes after alias expansion; an alias bomb has billions
MAX_YAML_ALIASES = 10_000


def config_dir(explicit: str | Path | None = None, env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(explicit or env.get("DFWATCH_CONFIG") or "config")


def _read_text(path: Path) -> str:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ConfigError("file not found", file=str(path)) from None
    if size > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"file is {size:,} bytes, more than the {MAX_CONFIG_BYTES:,} a config file may have",
            file=str(path),
        )
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot be read: {exc.strerror}", file=str(path)) from None


def _expanded_size(root: yaml.Node) -> int:
    """Nodes the document would have with every alias expanded (memoised: no expansion)."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        if done or not children:
            sizes[id(node)] = 1 + sum(sizes.get(id(c), 0) for c in children)
            if sizes[id(node)] > MAX_YAML_NODES:
                return sizes[id(node)]
            continue
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes.get(id(root), 0)


def _read_yaml(path: Path) -> Any:
    text = _read_text(path)
    try:
        aliases = sum(
            1 for event in yaml.parse(text, Loader=yaml.SafeLoader) if isinstance(event, yaml.AliasEvent)
        )
        if aliases > MAX_YAML_ALIASES:
            raise ConfigError(
                f"{aliases:,} YAML aliases; at most {MAX_YAML_ALIASES:,} are accepted", file=str(path)
            )
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        if node is not None and _expanded_size(node) > MAX_YAML_NODES:
            raise ConfigError(
                f"YAML aliases would expand to more than {MAX_YAML_NODES:,} values (an alias bomb?)",
                file=str(path),
            )
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        raise ConfigError(f"YAML syntax error: {problem}", file=str(path), entry=where) from None
    except RecursionError:
        raise ConfigError("YAML nested too deeply", file=str(path)) from None


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _shapes() -> dict[str, str]:
    """What a mapping of each declared model should look like, for "expected ..." messages."""
    shapes: dict[str, str] = {}
    todo: list[Any] = [s.watch for s in declared() if s.watch is not None]
    while todo:
        t = todo.pop()
        for arg in getattr(t, "__args__", ()):
            todo.append(arg)
        if isinstance(t, type) and issubclass(t, BaseModel) and t.__name__ not in shapes:
            shape = t.shape() if issubclass(t, Section) else getattr(t, "SHAPE", "")
            if shape:
                shapes[t.__name__] = shape
            todo.extend(f.annotation for f in t.model_fields.values())
    return shapes


_POLICY_FIELDS = frozenset({"content", "default_policy", "nsfw_policy"})
_TYPE_WORDS: dict[str, str] = {
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "string_type": "a string",
    "tuple_type": "a list",
    "list_type": "a list",
    "dict_type": "a mapping",
}


def _validation_message(err: Mapping[str, Any], loc: tuple[int | str, ...]) -> str:
    """One plain sentence for a pydantic error: what is wrong and what was given."""
    kind, given = err["type"], err.get("input")
    field_name = loc[-1] if loc else None
    if kind == "extra_forbidden":
        return f"unknown key {field_name!r}" if loc else "unknown key"
    if kind == "missing":
        return f"missing required key {field_name!r}"
    if kind == "literal_error":
        allowed = err.get("ctx", {}).get("expected", "").replace("'", "")
        if field_name in _POLICY_FIELDS:
            return f"unknown content policy {brief(given)} (known: {allowed.replace(' or ', ', ')})"
        return f"{brief(given)} is not allowed (expected {allowed})"
    if kind == "model_type":
        cls = err.get("ctx", {}).get("class_name", "")
        return f"expected {_shapes().get(cls, 'a mapping')}, got {brief(given)}"
    error = err.get("ctx", {}).get("error")
    if isinstance(error, EntryError):
        return error.message
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        return msg[len("Value error, ") :]
    if kind in _TYPE_WORDS:
        return f"expected {_TYPE_WORDS[kind]}, got {brief(given)}"
    return f"{msg[0].lower()}{msg[1:]}, got {brief(given)}" if msg else f"invalid value {brief(given)}"


def _clean_loc(raw: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """pydantic's location without its internal parts (union branches, validator wrappers)."""
    return tuple(
        p
        for p in raw
        if isinstance(p, int)
        or not (p in ("str", "int") or p.startswith(("function-", "literal[", "nullable[")))
    )


def _raise_validation(path: Path, exc: ValidationError) -> None:
    """Turn the first pydantic error into a ConfigError naming file, entry and problem."""
    err = exc.errors()[0]
    loc = _clean_loc(tuple(err["loc"]))
    error = err.get("ctx", {}).get("error")
    msg = _validation_message(err, loc)
    if isinstance(error, EntryError):
        if error.also is not None:
            msg = f"{msg} (also at {_loc((*loc, *error.also))})"
        loc = (*loc, *error.where)
    if err["type"] == "extra_forbidden" and len(loc) == 1 and path.name == WATCHLIST_FILE:
        msg = f"unknown platform {loc[-1]!r} (known: {', '.join(Watchlist.model_fields)})"
    raise ConfigError(msg, file=str(path), entry=_loc(loc) or None) from None


def _watchlist_context(settings: CoreSettings) -> dict[str, Any]:
    return {"allow_private_hosts": settings.crawler.allow_private_hosts}


# In watchlist.d files: candidates silenced with `dfwatch watch ignore` (crawler.discover reads them).
IGNORED_KEY = "ignored"


def _drop_ignored(path: Path, raw: dict[Any, Any]) -> None:
    """Take the `ignored` list out of a watchlist.d file (it watches nothing), checking its shape."""
    if path.parent.name != WATCHLIST_DIR or IGNORED_KEY not in raw:
        return
    ignored = raw.pop(IGNORED_KEY) or []
    if not isinstance(ignored, list):
        raise ConfigError("expected a list of PLATFORM:KIND:HANDLE", file=str(path), entry=IGNORED_KEY)
    for i, item in enumerate(ignored):
        if not isinstance(item, str) or item.count(":") < 2:
            raise ConfigError(
                f"{brief(item)} is not PLATFORM:KIND:HANDLE", file=str(path), entry=f"{IGNORED_KEY}[{i}]"
            )


def _load_watchlist_file(path: Path, settings: CoreSettings) -> BaseModel:
    raw = _read_yaml(path) or {}
    if not isinstance(raw, dict):
        raise ConfigError("expected a mapping of platforms", file=str(path))
    _drop_ignored(path, raw)
    for platform in raw:
        if platform not in Watchlist.model_fields:
            known = ", ".join(Watchlist.model_fields)
            raise ConfigError(
                f"unknown platform {platform!r} (known: {known})", file=str(path), entry=str(platform)
            )
    raw = {k: v for k, v in raw.items() if v is not None}  # a platform whose entries are all commented out
    try:
        return Watchlist.model_validate(raw, context=_watchlist_context(settings))
    except ValidationError as exc:
        _raise_validation(path, exc)
        raise  # unreachable


def check_watchlist_file(path: Path, settings: CoreSettings) -> BaseModel:
    """One watchlist file validated as `load_config` reads it (raises ConfigError)."""
    return _load_watchlist_file(path, settings)


def _identity(entry: Any) -> str | None:
    return entry.identity() if hasattr(entry, "identity") else None


def _merge(base: BaseModel, extra: BaseModel, extra_path: Path) -> BaseModel:
    """`extra`'s entries appended to `base`'s; an entry `base` already has is skipped (logged)."""
    update: dict[str, Any] = {}

    def combined(a: tuple[Any, ...], b: tuple[Any, ...], where: str) -> tuple[Any, ...]:
        have = {_identity(e) for e in a}
        kept = []
        for e in b:
            if _identity(e) in have:
                log.info(
                    "config: %s %s: %s is already watched; skipped", extra_path.name, where, _identity(e)
                )
                continue
            kept.append(e)
        return a + tuple(kept)

    for name in Watchlist.model_fields:
        a, b = getattr(base, name), getattr(extra, name)
        if isinstance(a, tuple):
            update[name] = combined(a, b, name)
        elif isinstance(a, BaseModel):
            update[name] = a.model_copy(
                update={
                    f: combined(getattr(a, f), getattr(b, f), f"{name}.{f}") for f in type(a).model_fields
                }
            )
    return base.model_copy(update=update)


def _watchlist_files(d: Path) -> list[Path]:
    extra = d / WATCHLIST_DIR
    return [d / WATCHLIST_FILE, *(sorted(extra.glob("*.yaml")) if extra.is_dir() else [])]


def load_settings(path: Path) -> CoreSettings:
    raw: dict[str, Any] = {}
    if path.exists():
        try:
            raw = tomllib.loads(_read_text(path))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"TOML syntax error: {exc}", file=str(path)) from None
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        _raise_validation(path, exc)
        raise  # unreachable


def _load_tools(tpath: Path) -> tuple[Tool, ...]:
    raw_tools = _read_yaml(tpath) if tpath.exists() else {"tools": []}
    if isinstance(raw_tools, dict):
        raw_tools = raw_tools.get("tools", [])
    if not isinstance(raw_tools, list):
        raise ConfigError("expected a list of tools (name, aliases, category, repository)", file=str(tpath))
    tools: list[Tool] = []
    names: dict[str, str] = {}  # lower-cased name or alias -> the tool it names
    for i, t in enumerate(raw_tools):
        try:
            tool = Tool.model_validate(t)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = _loc((f"tools[{i}]", *err["loc"])) if err["loc"] else f"tools[{i}]"
            if err["type"] == "model_type":
                msg = (
                    "expected a mapping with name and optional aliases, category, repository, "
                    f"got {brief(err.get('input'))}"
                )
            else:
                msg = _validation_message(err, tuple(err["loc"]))
            raise ConfigError(msg, file=str(tpath), entry=loc) from None
        for n in dict.fromkeys((tool.name, *tool.aliases)):
            other = names.get(n.lower())
            if other is not None:
                what = "itself" if other == tool.name else f"the tool {other!r}"
                raise ConfigError(
                    f"{n!r} already names {what}; a name or alias may name one tool only",
                    file=str(tpath),
                    entry=f"tools[{i}]",
                )
            names[n.lower()] = tool.name
        tools.append(tool)
    return tuple(tools)


def load_config(
    directory: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    *,
    need_watchlist: bool = True,
) -> Config:
    """Read and validate the config files; raise ConfigError on the first problem.

    Without `need_watchlist`, a config directory that was not asked for explicitly (no
    argument, no $DFWATCH_CONFIG) and does not exist means "the defaults and the
    environment": an empty watchlist, no tools.
    """
    env = dict(os.environ if env is None else env)
    explicit = directory is not None or bool(env.get("DFWATCH_CONFIG"))
    d = config_dir(directory, env)
    if not d.is_dir():
        if not need_watchlist and not explicit:
            return Config(directory=None, settings=Settings(), watchlist=Watchlist(), tools=(), env=env)
        raise ConfigError("config directory not found (use --config DIR or $DFWATCH_CONFIG)", file=str(d))

    spath = d / SETTINGS_FILE
    settings = load_settings(spath)
    files = [spath] if spath.exists() else []

    wfiles = _watchlist_files(d)
    if not wfiles[0].exists() and not need_watchlist:
        watchlist: BaseModel = Watchlist()
    else:
        watchlist = _load_watchlist_file(wfiles[0], settings)
        files.append(wfiles[0])
        for extra in wfiles[1:]:
            more = _load_watchlist_file(extra, settings)
            watchlist = _merge(watchlist, more, extra)
            files.append(extra)

    tpath = d / TOOLS_FILE
    tools = _load_tools(tpath)
    if tpath.exists():
        files.append(tpath)
    config = Config(
        directory=d, settings=settings, watchlist=watchlist, tools=tools, env=env, files=tuple(files)
    )
    if need_watchlist:
        check_cluster(config, spath)
    return config


def check_cluster(config: Config, settings_path: Path | None = None) -> None:
    """A broker needs a database every worker reaches: SQLite with a broker is refused.

    Checked for the commands that crawl (crawl, schedule, worker); a `dfwatch query` on a
    SQLite copy runs whatever DFWATCH_BROKER_URL says.
    """
    if config.broker_url and config.database_url.startswith("sqlite"):
        raise ConfigError(
            "a broker ([cluster] broker or DFWATCH_BROKER_URL) needs a PostgreSQL database that every "
            "worker reaches; SQLite is one machine's file (set [database] url or DFWATCH_DATABASE_URL "
            "to postgresql+psycopg://..., or unset the broker)",
            file=str(settings_path) if settings_path else None,
            entry="cluster.broker",
        )
