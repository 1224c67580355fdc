"""Read links to communities out of post text: the patterns of "Following the migration".

A post that says "we moved to t.me/newchannel" or links `https://discord.gg/AbCd` names a
community; `community_links(title, body, url)` returns those communities as
`CommunityKey(platform, kind, handle)`, one per community however it was written:

    t.me/NAME, telegram.me/NAME, t.me/s/NAME   telegram channel, or bot when NAME ends in "bot" (until a crawl shows a
                                               group or a bot)
    discord.gg/CODE, discord.com/invite/CODE   discord server
    reddit.com/r/NAME, r/NAME, /r/NAME         reddit subreddit
    github.com/OWNER/REPO                      github repo
    codeberg.org/OWNER/REPO                    forgejo repo (handle owner/repo)
    huggingface.co/OWNER/NAME                  huggingface model
    huggingface.co/spaces/OWNER/NAME           huggingface space
    civitai.com/models/ID                      civitai model
    bsky.app/profile/HANDLE                    bluesky account
    x.com/NAME, twitter.com/NAME               x account (profile links only, not posts)

What varies between spellings of one link and is ignored: the scheme (or none), the case of
the host, `www.`, `m.`, `old.` and the like, trailing slashes and punctuation, deeper paths
(`/r/NAME/comments/...`, `/OWNER/REPO/releases`), query strings (tracking parameters,
`?start=`) and fragments. Handles keep the spelling first seen; like every community key
they compare case-insensitively (`CommunityKey.norm`).

What is never read as a community: e-mail addresses (`someone@x.com`), hosts that only end
like a known one (`fox.com`, `notreddit.com`, `t.me.example.org`), a known host inside
another URL's path, the site's own pages (`github.com/features/...`, `t.me/joinchat/...`,
`x.com/search`), private invite hashes (`t.me/+...`), reddit's pseudo-subreddits
(`r/all`) and user pages (`r/u_name`).

Pure: text in, keys out; no network. One compiled expression finds every candidate link,
so a post is scanned once (bench/enrich.py measures the cost).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from crawler.records import SHARED_NAMESPACES, CommunityKey, namespace_key

__all__ = ["MAX_LINKS", "SHARED_NAMESPACES", "community_links", "namespace_key", "same_community"]

MAX_LINKS = 50  # community links kept per post: more is spam, not a migration
MAX_TEXT = 100_000  # characters of one text scanned (a post longer than this is cut)

_HOSTS = (
    r"t\.me|telegram\.me|telegram\.dog|discord\.gg|discord(?:app)?\.com|reddit\.com|github\.com"
    r"|codeberg\.org|huggingface\.co|hf\.co|civitai\.com|civitai\.red|bsky\.app|twitter\.com|x\.com"
)
_LINK = re.compile(
    # A link starts a token: not inside a word, a host name, a path or an e-mail address.
    r"(?<![\w.@/\\%+-])(?:https?:)?(?://)?"
    r"(?:(?:www|m|old|new|np|i|mobile)\.)?"
    rf"(?P<host>{_HOSTS})"
    r"(?P<path>/[^\s<>\"'`\\)\]}|^]*)"
    # A bare r/NAME or /r/NAME, as people write subreddits in text.
    r"|(?<![\w.@/\\%+-])/?(?-i:r)/(?P<sub>[A-Za-z0-9_]{2,21})(?![\w+-])",
    re.IGNORECASE,
)
_TRAILING = ".,;:!?*'\"…"

_TG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{3,31}")
_DISCORD_CODE = re.compile(r"[A-Za-z0-9-]{2,32}")
_SUBREDDIT = re.compile(r"[A-Za-z0-9_]{2,21}")
_GIT_OWNER = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})")
_GIT_REPO = re.compile(r"[A-Za-z0-9._-]{1,100}")
_HF_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}")
_CIVITAI_ID = re.compile(r"[0-9]{1,12}")
_BSKY_HANDLE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))+")
_BSKY_DID = re.compile(r"did:(?:plc:[a-z2-7]{24}|web:[A-Za-z0-9.-]{1,253})")
_X_NAME = re.compile(r"[A-Za-z0-9_]{1,15}")

# The sites' own pages, which look like communities in the path but are not.
_TG_RESERVED = frozenset(
    {"joinchat", "addstickers", "addemoji", "addtheme", "share", "proxy", "socks", "iv", "login",
     "setlanguage", "boost", "contact", "confirmphone", "invoice", "addlist", "blog", "faq", "apps"}
)  # fmt: skip
_SUB_RESERVED = frozenset({"all", "popular", "random", "randnsfw", "myrandom", "friends", "mod", "home"})
_GITHUB_RESERVED = frozenset(
    {"about", "apps", "collections", "customer-stories", "enterprise", "events", "explore", "features",
     "login", "join", "marketplace", "new", "notifications", "orgs", "organizations", "pricing", "pulls",
     "issues", "search", "security", "settings", "site", "sponsors", "team", "topics", "trending",
     "users", "codespaces", "readme", "signup", "logout", "contact", "solutions", "resources", "git"}
)  # fmt: skip
_CODEBERG_RESERVED = frozenset(
    {"user", "explore", "api", "assets", "org", "repo", "admin", "notifications", "issues", "pulls",
     "milestones", "-", "swagger", "login"}
)  # fmt: skip
_HF_RESERVED = frozenset(
    {"datasets", "models", "docs", "blog", "join", "login", "settings", "organizations", "papers",
     "pricing", "api", "collections", "learn", "tasks", "posts", "chat", "enterprise", "new",
     "welcome", "terms-of-service", "privacy", "notifications", "search", "spaces", "inference-api",
     "pro", "hardware", "jobs", "changelog", "new-space", "new-dataset", "oauth", "billing"}
)  # fmt: skip
_X_RESERVED = frozenset(
    {"home", "i", "search", "explore", "hashtag", "intent", "share", "settings", "login", "signup",
     "messages", "notifications", "tos", "privacy", "compose", "about", "jobs", "download", "logout",
     "account", "help", "rules", "en", "status", "statuses", "lists", "communities", "premium"}
)  # fmt: skip

Parsed = tuple[str, str, str] | None


def _telegram(segs: list[str]) -> Parsed:
    name = segs[1] if segs[0].lower() == "s" and len(segs) > 1 else segs[0]
    if name.lower() in _TG_RESERVED or not _TG_NAME.fullmatch(name):
        return None  # includes private invites (t.me/+hash) and t.me/c/... message links
    # Telegram requires a bot's username to end in "bot"; any other name is a channel until a
    # crawl shows a group (the kinds share one namespace, so the key still matches later).
    return ("telegram", "bot" if name.lower().endswith("bot") else "channel", name)


def _discord(host: str, segs: list[str]) -> Parsed:
    if segs[0].lower() == "invite":
        segs = segs[1:]
    elif host != "discord.gg":
        return None  # discord.com/channels/..., /developers: not an invite
    if not segs or not _DISCORD_CODE.fullmatch(segs[0]):
        return None
    return ("discord", "server", segs[0])  # invite codes are case-sensitive: kept as written


def _reddit(segs: list[str]) -> Parsed:
    if len(segs) < 2 or segs[0].lower() != "r":
        return None
    return _subreddit(segs[1])


def _subreddit(name: str) -> Parsed:
    if not _SUBREDDIT.fullmatch(name) or name.lower() in _SUB_RESERVED or name.lower().startswith("u_"):
        return None
    return ("reddit", "subreddit", name)


def _git(platform: str, reserved: frozenset[str], segs: list[str]) -> Parsed:
    if len(segs) < 2 or segs[0].lower() in reserved or not _GIT_OWNER.fullmatch(segs[0]):
        return None
    repo = segs[1][:-4] if segs[1].lower().endswith(".git") else segs[1]
    repo = repo.rstrip(".")
    if not repo or not _GIT_REPO.fullmatch(repo):
        return None
    return (platform, "repo", f"{segs[0]}/{repo}")


def _huggingface(segs: list[str]) -> Parsed:
    kind = "model"
    if segs[0].lower() == "spaces":
        kind, segs = "space", segs[1:]
    elif segs[0].lower() in _HF_RESERVED:
        return None
    if len(segs) < 2 or not _HF_NAME.fullmatch(segs[0]) or not _HF_NAME.fullmatch(segs[1].rstrip(".")):
        return None
    return ("huggingface", kind, f"{segs[0]}/{segs[1].rstrip('.')}")


def _civitai(segs: list[str]) -> Parsed:
    if len(segs) < 2 or segs[0].lower() != "models" or not _CIVITAI_ID.fullmatch(segs[1]):
        return None
    return ("civitai", "model", str(int(segs[1])))


def _bluesky(segs: list[str]) -> Parsed:
    if len(segs) < 2 or segs[0].lower() != "profile":
        return None
    handle = segs[1].rstrip(".")
    if not (_BSKY_HANDLE.fullmatch(handle) or _BSKY_DID.fullmatch(handle)):
        return None
    return ("bluesky", "account", handle)


def _x(segs: list[str]) -> Parsed:
    if len(segs) != 1 or segs[0].lower() in _X_RESERVED or not _X_NAME.fullmatch(segs[0]):
        return None  # a post (/NAME/status/ID) or a site page is not a profile link
    return ("x", "account", segs[0])


_BY_HOST: dict[str, Callable[[str, list[str]], Parsed]] = {
    "t.me": lambda _h, s: _telegram(s),
    "telegram.me": lambda _h, s: _telegram(s),
    "telegram.dog": lambda _h, s: _telegram(s),
    "discord.gg": _discord,
    "discord.com": _discord,
    "discordapp.com": _discord,
    "reddit.com": lambda _h, s: _reddit(s),
    "github.com": lambda _h, s: _git("github", _GITHUB_RESERVED, s),
    "codeberg.org": lambda _h, s: _git("forgejo", _CODEBERG_RESERVED, s),
    "huggingface.co": lambda _h, s: _huggingface(s),
    "hf.co": lambda _h, s: _huggingface(s),
    "civitai.com": lambda _h, s: _civitai(s),
    "civitai.red": lambda _h, s: _civitai(s),
    "bsky.app": lambda _h, s: _bluesky(s),
    "twitter.com": lambda _h, s: _x(s),
    "x.com": lambda _h, s: _x(s),
}


def _parse(host: str, path: str) -> Parsed:
    path = path.split("?", 1)[0].split("#", 1)[0].rstrip(_TRAILING)
    segs = [s for s in path.split("/") if s]
    if not segs:
        return None
    return _BY_HOST[host.lower()](host.lower(), segs)


def community_links(*texts: str | None) -> tuple[CommunityKey, ...]:
    """The communities the texts link to, once each (first spelling kept), in order of appearance."""
    found: dict[tuple[str, str, str], CommunityKey] = {}
    for text in texts:
        # Every form has a "/", and none spans whitespace: most texts are skipped at C speed,
        # and the expression runs only over the few words that could be links
        # (bench/enrich.py measured a whole-text scan at 0.6x of enrichment without links).
        if not text or "/" not in text:
            continue
        for word in text[:MAX_TEXT].split():
            if "/" not in word:
                continue
            for m in _LINK.finditer(word):
                sub = m.group("sub")
                parsed = _subreddit(sub) if sub is not None else _parse(m.group("host"), m.group("path"))
                if parsed is None:
                    continue
                key = CommunityKey(*parsed)
                if key.norm not in found:
                    found[key.norm] = key
                    if len(found) >= MAX_LINKS:
                        return tuple(found.values())
    return tuple(found.values())


def same_community(a: tuple[str, str, str], b: tuple[str, str, str]) -> bool:
    """Whether two normalised keys name one community (telegram kinds share their names)."""
    if a == b:
        return True
    kinds = SHARED_NAMESPACES.get(a[0], ())
    return a[0] == b[0] and a[2] == b[2] and a[1] in kinds and b[1] in kinds
