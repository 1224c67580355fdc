"""What communities post: titles that mention tools, links to hosting sites, fates.

Tool adoption and link hosting change over time the way the phenomenon did: a tool is not
mentioned before its release, spreads over a few weeks, and may fade; a hosting site that
banned the material (Gfycat, in the story) stops appearing from that day on.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crawler.sim.world import Entity, World

DAY = 86400.0


def _t(s: str) -> float:
    return datetime.fromisoformat(s).replace(tzinfo=UTC).timestamp()


# name, release (approximate public release), weight, spread (days to take hold), fade start or None
TOOLS: tuple[tuple[str, float, float, float, float | None], ...] = (
    ("InsightFace", _t("2017-10-01"), 0.3, 60, None),
    ("faceswap", _t("2017-12-19"), 0.8, 20, None),
    ("FakeApp", _t("2018-01-12"), 2.0, 8, _t("2018-06-01")),
    ("DeepFaceLab", _t("2018-06-04"), 1.6, 40, None),
    ("SimSwap", _t("2021-06-01"), 0.5, 30, None),
    ("DeepFaceLive", _t("2021-07-01"), 0.8, 30, None),
    ("inswapper", _t("2023-04-01"), 0.6, 20, None),
    ("roop", _t("2023-05-28"), 1.2, 10, _t("2023-09-01")),
    ("ReActor", _t("2023-07-15"), 0.8, 20, None),
    ("FaceFusion", _t("2023-08-20"), 1.2, 20, None),
    ("Deep-Live-Cam", _t("2024-08-01"), 1.5, 10, None),
)
TOOL_NAMES = tuple(t[0] for t in TOOLS)

# domain, weight, available from (epoch) — hosting sites links point to.
DOMAINS: tuple[tuple[str, float, float], ...] = (
    ("imgur.com", 0.22, 0.0),
    ("gfycat.com", 0.18, 0.0),
    ("redgifs.com", 0.10, _t("2018-09-01")),
    ("youtube.com", 0.15, 0.0),
    ("github.com", 0.08, 0.0),
    ("mega.nz", 0.07, 0.0),
    ("streamable.com", 0.04, 0.0),
)
SELF_WEIGHT = 0.18

WITH_TOOL = (
    "{t} results after three days of training",
    "Trying {t} on a GTX 1060",
    "{t} vs {u}: side by side",
    "Guide: installing {t} on Windows",
    "{t} crashes at the merge step, any ideas?",
    "New {t} build is out",
    "My first swap with {t}",
    "Best settings for {t}?",
    "{t} tutorial for beginners",
)
WITHOUT_TOOL = (
    "Feedback on my latest render",
    "Which GPU for training?",
    "Dataset tips for better results",
    "Weekly discussion thread",
    "Lighting mismatch, help",
    "How long should training take?",
    "Collection of face sets",
    "Mods: please read the rules before posting",
)
FLAIRS = (None, None, "Question", "Guide", "Discussion", "Release", "Result")

REDDIT_ID_EPOCH = 1_100_000_000  # seconds; base of the simulated base36 post ids
TWITTER_EPOCH_MS = 1288834974657  # X's snowflake epoch (documented in the snowflake scheme)


@dataclass(frozen=True)
class Item:
    """One post, tweet, channel message or hashtag use, with what will happen to it."""

    entity: int
    seq: int
    id_num: int
    created: float  # epoch seconds
    title: str
    text: str
    domain: str | None
    url: str | None
    tools: tuple[str, ...]
    author: str
    score: int  # the score it settles at
    comments: int
    views: int
    flair: str | None
    fate: str = "visible"  # visible | removed | deleted
    fate_at: float | None = None
    settled: bool = False  # scripted by a test (scenario.post): its counts hold from the start

    def state(self, now: float) -> str:
        return self.fate if self.fate_at is not None and now >= self.fate_at else "visible"

    def grown(self, value: int, now: float, days: float = 2.0) -> int:
        """A count that climbs to `value` over the first `days` after posting."""
        if self.settled:
            return value
        age = max(0.0, now - self.created)
        return round(value * min(1.0, age / (days * DAY)))


def tool_share(when: float) -> list[tuple[str, float]]:
    """Each tool's relative weight in conversation at `when`."""
    out = []
    for name, release, weight, spread, fade in TOOLS:
        if when < release:
            continue
        w = weight / (1.0 + math.exp(-(when - release) / DAY / spread * 4 + 4))
        if fade is not None and when > fade:
            w *= math.exp(-(when - fade) / DAY / 60)
        out.append((name, w))
    return out


def pick_domain(world: World, r: random.Random, when: float) -> str | None:
    """A link domain (None: a text post) from the hosts alive at `when`."""
    choices: list[tuple[str | None, float]] = [(None, SELF_WEIGHT)]
    for domain, weight, since in DOMAINS:
        banned = world.domain_bans.get(domain)
        if when >= since and (banned is None or when < banned.timestamp()):
            choices.append((domain, weight))
    total = sum(w for _, w in choices)
    x = r.random() * total
    for choice, w in choices:
        x -= w
        if x <= 0:
            return choice
    return choices[-1][0]


def pick_tools(r: random.Random, when: float, boost: str | None = None) -> tuple[str, ...]:
    """Zero, one or two tool names, likelier the more tools are in the air."""
    shares = tool_share(when)
    total = sum(w for _, w in shares)
    if boost and r.random() < 0.6:
        return (boost,)
    if not shares or r.random() > min(0.6, 0.25 + 0.2 * total):
        return ()
    picked: list[str] = []
    for _ in range(2 if r.random() < 0.12 else 1):
        x = r.random() * total
        for name, w in shares:
            x -= w
            if x <= 0:
                if name not in picked:
                    picked.append(name)
                break
    return tuple(picked)


def title_for(r: random.Random, tools: tuple[str, ...]) -> str:
    if not tools:
        return r.choice(WITHOUT_TOOL)
    other = tools[1] if len(tools) > 1 else r.choice([t for t in TOOL_NAMES if t != tools[0]])
    template = r.choice(WITH_TOOL) if len(tools) == 1 else "{t} vs {u}: side by side"
    return template.format(t=tools[0], u=other)


def link_for(r: random.Random, domain: str) -> str:
    token = "".join(r.choice("abcdefghijkmnopqrstuvwxyz0123456789") for _ in range(8))
    paths = {
        "youtube.com": f"https://www.youtube.com/watch?v={token}",
        "github.com": f"https://github.com/sim-{token}/tool",
        "mega.nz": f"https://mega.nz/file/{token}",
        "imgur.com": f"https://imgur.com/{token}",
    }
    return paths.get(domain, f"https://{domain}/{token}")


def poisson(r: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(r.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= r.random()
        if p <= limit:
            return k
        k += 1


def generate_day(world: World, e: Entity, day: int) -> list[Item]:
    """Every item `e` creates on world day `day`, oldest first; a pure function of its inputs."""
    start = world.day_start(day).timestamp()
    lo = max(start, e.created.timestamp())
    frozen = world.frozen_at(e)
    hi = min(start + DAY, frozen.timestamp() if frozen else math.inf)
    if hi <= lo or e.kind not in ("subreddit", "query", "channel", "hashtag"):
        return []
    r = world.rng("day", e.key, day)
    mid = datetime.fromtimestamp((lo + hi) / 2, UTC)
    n = poisson(r, world.activity(e, mid) * (hi - lo) / DAY)
    n = min(n, int(hi - lo))
    seconds = sorted(r.sample(range(int(hi - lo)), n)) if n else []
    boost = e.extra.get("tool")
    items = []
    for seq, offset in enumerate(seconds):
        created = lo + offset + (r.randrange(1000) / 1000.0 if e.kind == "query" else 0.0)
        tools = pick_tools(r, created, boost)
        domain = pick_domain(world, r, created)
        size = max(1, world.members(e, datetime.fromtimestamp(created, UTC)))
        score = max(0, int(r.lognormvariate(math.log(2 + size**0.35), 1.0)))
        fate, fate_at = "visible", None
        x = r.random()
        if e.kind in ("subreddit", "channel") and x < 0.06:
            fate, fate_at = "removed", created + r.uniform(0.1, 3.0) * DAY
        elif e.kind in ("subreddit", "query") and x < 0.10:
            fate, fate_at = "deleted", created + r.uniform(0.2, 5.0) * DAY
        if e.kind == "query":
            id_num = (
                ((int(created * 1000) - TWITTER_EPOCH_MS) << 22) | ((e.index & 0x3FF) << 12) | (seq & 0xFFF)
            )
        elif e.kind == "channel":
            id_num = (day - world.day_of(e.created) + 1) * 1000 + seq + 1
        else:
            id_num = ((int(created) - REDDIT_ID_EPOCH) << 20) | (e.index & 0xFFFFF)
        title = title_for(r, tools)
        if world.migrations:  # after a ban, some posts say where people went (story.py)
            from crawler.sim.story import migration_note

            title += migration_note(world, e, created, seq)
        items.append(
            Item(
                entity=e.index,
                seq=seq,
                id_num=id_num,
                created=created,
                title=title,
                text=f"{title}. " + ("Details in the comments." if r.random() < 0.5 else "Thoughts?"),
                domain=domain,
                url=link_for(r, domain) if domain else None,
                tools=tools,
                author=f"sim_user_{r.randrange(max(10, int(size**0.5)))}_{e.index}",
                score=score,
                comments=int(score * r.uniform(0.05, 0.5)),
                views=int(size * r.uniform(0.1, 0.5)),
                flair=r.choice(FLAIRS),
                fate=fate,
                fate_at=fate_at,
            )
        )
    return items


def base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, d = divmod(n, 36)
        out = digits[d] + out
        if n == 0:
            return out


def releases(world: World, e: Entity) -> list[dict[str, float | int | str]]:
    """A repository's releases (oldest first): every few weeks from creation to its stop, or
    the ones a test pinned (`release_downloads`: one release per count, one asset each)."""
    pinned = e.extra.get("release_downloads")
    if pinned is not None:
        start = e.created.timestamp()
        return [
            {"published": start + DAY * (i + 1), "tag": f"v1.{i}", "downloads": n}
            for i, n in enumerate(pinned)
        ]
    r = world.rng("releases", e.key)
    gap = r.uniform(20, 60) * DAY
    stop = world.frozen_at(e)
    end = min(world.now().timestamp(), stop.timestamp() if stop else math.inf)
    out: list[dict[str, float | int | str]] = []
    t = e.created.timestamp() + r.uniform(3, 30) * DAY
    major, minor = 1, 0
    while t <= end and len(out) < 200:
        out.append({"published": t, "tag": f"v{major}.{minor}", "rate": r.uniform(5, 200)})
        minor += 1
        if r.random() < 0.2:
            major, minor = major + 1, 0
        t += gap * r.uniform(0.5, 1.5)
    return out
