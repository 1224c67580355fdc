"""The model hubs of the simulated world: models on Hugging Face and Civitai, and the 2025 chapter.

Since 2023 the tools of this field travel as models. The chapter replays the shape of what
happened (dates approximate, every name invented): Civitai's ban of real-person likeness
models takes effect on 23 May 2025 and takes its likeness models down (`TakenDown`, a few
deleted outright); copies of them are uploaded to Hugging Face within days to weeks, and some
of those are disabled by the Hub weeks later, after press contact. Nothing here names a person:
a likeness model is `sim-likeness-07`, its trigger word `sim7person`.

A model is a world `Entity` (platform huggingface or civitai, kind model or space) whose growth
curve is its all-time download count; an event turns it `blocked` (Hub: disabled; Civitai:
TakenDown), `archived` (Civitai: Archived) or `deleted` (both: 404). Statuses after a terminal
event freeze its downloads (world.TERMINAL).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from crawler.sim.world import Entity, Event, Growth

if TYPE_CHECKING:
    from crawler.sim.world import World


def _d(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=UTC)


CIVITAI_LIKENESS_BAN = _d("2025-05-23T08:00:00")  # Civitai's real-person likeness ban in force (approx.)
CHAPTER_START = _d("2025-05-16T12:00:00")  # a week before it: the demo's 2025 chapter opens here
HUB_EPOCH = _d("2023-01-01T00:00:00")  # generated models are uploaded from here on
TAKEN_DOWN = "TakenDown"  # Civitai's `mode` for a model its moderators removed
ARCHIVED = "Archived"
DISABLED = "Access to this resource is disabled."  # the Hub's X-Error-Message for a disabled repo
NSFW_TAG = "not-for-all-audiences"  # the Hub's tag for content not suitable for everyone

# The chapter's searches: what a researcher would type (the demo's watchlist uses these).
HF_SEARCHES = ("faceswap", "likeness", "deepfake")
CIVITAI_SEARCHES = ("face swap", "likeness", "deepfake")
WORDS = (
    "faceswap",
    "deepfake",
    "likeness",
    "portrait",
    "reactor",
    "inswapper",
    "anime",
    "photoreal",
    "style",
)


@dataclass(frozen=True)
class Hub:
    """Traits the platform modules read from a model entity's `extra` (see `model`)."""

    owner: str
    tags: tuple[str, ...]
    trigger: str
    likeness: bool
    gated: str | bool
    civitai_id: int | None


def hub_traits(e: Entity) -> Hub:
    x = e.extra
    return Hub(
        owner=str(x.get("owner") or e.name.partition("/")[0]),
        tags=tuple(x.get("tags", ())),
        trigger=str(x.get("trigger", "")),
        likeness=bool(x.get("likeness")),
        gated=x.get("gated", False),
        civitai_id=x.get("civitai_id"),
    )


def object_id(e: Entity) -> str:
    """A stable 24-hex `_id` (the Hub's MongoDB ObjectId) for an entity."""
    return hashlib.sha1(e.key.encode()).hexdigest()[:24]  # noqa: S324 - an id, not a secret


def model(
    platform: str,
    name: str,
    created: datetime,
    downloads: float,
    *,
    title: str,
    owner: str,
    words: tuple[str, ...],
    nsfw: bool = False,
    likeness: bool = False,
    events: tuple[Event, ...] = (),
    kind: str = "model",
    rate: float = 0.12,
    midpoint: float = 25,
    gated: str | bool = False,
    reupload_of: str | None = None,
    trigger: str = "",
) -> Entity:
    tags = [*words, "lora"]
    if nsfw:
        tags.append(NSFW_TAG if platform == "huggingface" else "nsfw")
    extra = {
        "owner": owner,
        "tags": tuple(tags),
        "trigger": trigger,
        "likeness": likeness,
        "gated": gated,
        "reupload_of": reupload_of,
        "civitai_id": int(name) if platform == "civitai" else None,
        "tail": downloads / 300,  # downloads a day once the first wave is over
    }
    return Entity(
        platform,
        kind,
        name,
        created,
        Growth(1, downloads, rate=rate, midpoint=midpoint, noise=0.0),
        nsfw=nsfw,
        events=events,
        title=title,
        extra=extra,
    )


def chapter_2025() -> list[Entity]:
    """The chapter's fixed cast: likeness models on Civitai, their copies on Hugging Face."""
    ban = CIVITAI_LIKENESS_BAN
    out: list[Entity] = []
    # Tool models that live on through the chapter.
    out.append(
        model(
            "huggingface",
            "sim-lab/inswapper-faceswap",
            _d("2023-06-01T00:00:00"),
            400_000,
            title="inswapper faceswap",
            owner="sim-lab",
            words=("faceswap", "inswapper"),
            midpoint=200,
            rate=0.02,
        )
    )
    out.append(
        model(
            "huggingface",
            "sim-lab/reactor-faceswap-gated",
            _d("2024-02-01T00:00:00"),
            90_000,
            title="reactor faceswap",
            owner="sim-lab",
            words=("faceswap", "reactor"),
            gated="manual",
            midpoint=150,
            rate=0.03,
        )
    )
    out.append(
        model(
            "huggingface",
            "sim-lab/faceswap-demo",
            _d("2024-03-01T00:00:00"),
            1,
            title="faceswap demo",
            owner="sim-lab",
            words=("faceswap",),
            kind="space",
        )
    )
    out.append(
        model(
            "civitai",
            "300001",
            _d("2023-08-20T00:00:00"),
            250_000,
            title="ReActor faceswap workflow",
            owner="simcreator0",
            words=("face", "swap", "reactor"),
            midpoint=120,
            rate=0.03,
        )
    )
    out.append(
        model(
            "civitai",
            "300002",
            _d("2023-10-01T00:00:00"),
            60_000,
            title="Old portrait style",
            owner="simcreator0",
            words=("portrait", "style"),
            events=(Event(_d("2025-05-12T10:00:00"), "archived", ARCHIVED),),
        )
    )
    # Twelve likeness models on Civitai: taken down when the ban takes effect (two deleted).
    for i in range(12):
        civ_id = 310_001 + i
        slug = f"sim-likeness-{i + 1:02d}"
        gone = Event(ban + timedelta(hours=2 + i), "deleted" if i in (3, 9) else "blocked", TAKEN_DOWN)
        out.append(
            model(
                "civitai",
                str(civ_id),
                _d("2024-01-10T00:00:00") + timedelta(days=23 * i),
                20_000 + 9_000 * (i % 5),
                title=f"{slug} likeness LoRA",
                owner=f"simcreator{1 + i % 4}",
                words=("likeness", "portrait"),
                nsfw=i % 3 != 0,
                likeness=True,
                events=(gone,),
                trigger=f"sim{i + 1}person",
            )
        )
        if i % 4 == 3:
            continue  # a quarter are not copied anywhere (yet)
        # The copy on Hugging Face, by an account that collects them, days to weeks later.
        copied = ban + timedelta(days=2 + (i * 5) % 19, hours=i)
        events: tuple[Event, ...] = ()
        if i in (0, 5, 10):  # removed by the Hub only after press contact
            events = (Event(copied + timedelta(days=18 + i % 4), "blocked", DISABLED),)
        out.append(
            model(
                "huggingface",
                f"sim-archive/{slug}",
                copied,
                6_000 + 2_000 * (i % 4),
                title=f"{slug} likeness LoRA",
                owner="sim-archive",
                words=("likeness", "portrait"),
                nsfw=i % 3 != 0,
                likeness=True,
                events=events,
                rate=0.3,
                midpoint=8,
                reupload_of=f"civitai:model:{civ_id}",
                trigger=f"sim{i + 1}person",
            )
        )
    return out


def generated_model(world: World, platform: str, i: int, owners: int) -> Entity:
    """The i-th generated model of a hub: traits and fate drawn from the world seed."""
    r = world.rng("hubgen", platform, i)
    words = tuple(r.sample(WORDS, 2))
    created = HUB_EPOCH + timedelta(days=r.uniform(0, 880))
    likeness = "likeness" in words or r.random() < 0.1
    nsfw = (likeness and r.random() < 0.6) or r.random() < 0.1
    events: tuple[Event, ...] = ()
    x = r.random()
    if platform == "civitai":
        name = str(400_000 + i)
        owner = f"simgen{r.randrange(owners)}"
        if likeness and created < CIVITAI_LIKENESS_BAN:
            events = (
                Event(CIVITAI_LIKENESS_BAN + timedelta(minutes=r.uniform(0, 600)), "blocked", TAKEN_DOWN),
            )
        elif x < 0.03:
            events = (Event(created + timedelta(days=r.uniform(20, 400)), "archived", ARCHIVED),)
    else:
        owner = f"sim-gen-{r.randrange(owners)}"
        name = f"{owner}/{words[0]}-{words[1]}-{i}"
        if x < 0.02:
            events = (Event(created + timedelta(days=r.uniform(10, 400)), "blocked", DISABLED),)
        elif x < 0.04:
            events = (Event(created + timedelta(days=r.uniform(10, 400)), "deleted", "deleted"),)
    return model(
        platform,
        name,
        created,
        r.lognormvariate(8.0, 1.4),
        title=f"{words[0]} {words[1]} {i}",
        owner=owner,
        words=words,
        nsfw=nsfw,
        likeness=likeness,
        events=events,
        rate=r.uniform(0.02, 0.3),
        midpoint=r.uniform(5, 200),
        gated="auto" if platform == "huggingface" and r.random() < 0.05 else False,
        trigger=f"simgen{i}tok" if likeness else "",
    )


def hub_entities(world: World, n_hf_models: int, n_civitai_models: int, preset: str | None) -> list[Entity]:
    """The chapter's cast (story preset), then generated models up to each hub's count."""
    out = chapter_2025() if preset == "story" else []
    for platform, n in (("huggingface", n_hf_models), ("civitai", n_civitai_models)):
        have = sum(1 for e in out if e.platform == platform and e.kind == "model")
        owners = max(1, n // 12)  # about a dozen models an owner
        out.extend(generated_model(world, platform, i, owners) for i in range(have, n))
    return out


def take_down(world: World, platform: str, name: str, at: datetime, status: str = "blocked") -> Entity:
    """Script a takedown on a given day (tests, benches): from `at` the model is `status`
    (`blocked`: the Hub's disabled / Civitai's TakenDown; `deleted`: 404; `archived`), with the
    platform's own words as the reason."""
    e = world.get(platform, "model", name)
    if e is None:
        raise KeyError(f"{platform}:model:{name}")
    words = {
        ("huggingface", "blocked"): DISABLED,
        ("civitai", "blocked"): TAKEN_DOWN,
        ("civitai", "archived"): ARCHIVED,
    }.get((platform, status), status)
    e.events = tuple(sorted((*e.events, Event(at, status, words)), key=lambda ev: ev.at))
    return e


# --------------------------------------------------------------------------- figures


def downloads_total(world: World, e: Entity, when: datetime | None = None) -> int:
    """All-time downloads: a first wave (the growth curve) and a steady tail; frozen by a takedown."""
    when = when or world.now()
    frozen = world.frozen_at(e)
    if frozen is not None and when > frozen:
        when = frozen
    age = (when - e.created).total_seconds() / 86400
    if age < 0:
        return 0
    return round(e.growth.value(age) + float(e.extra.get("tail", 0.0)) * age)


def downloads_30d(world: World, e: Entity) -> int:
    """The Hub's `downloads`: the count of the last 30 days."""
    now = world.now()
    return max(0, downloads_total(world, e, now) - downloads_total(world, e, now - timedelta(days=30)))


def likes(world: World, e: Entity) -> int:
    return int(downloads_total(world, e) ** 0.62 / 2)


def comments(world: World, e: Entity) -> int:
    return int(downloads_total(world, e) ** 0.5 / 3)


def hub_status(world: World, e: Entity) -> str:
    """active, blocked, archived, deleted, or not_found before the upload."""
    return world.status(e)


def listed(world: World, e: Entity) -> bool:
    """Whether a listing or search shows the model now: uploaded, not removed (archived ones stay)."""
    return hub_status(world, e) in ("active", "archived")


def matches(e: Entity, query: str) -> bool:
    """Search: every word of the query in the model's name, title or tags (case-insensitive)."""
    hay = " ".join((e.name, e.title, *hub_traits(e).tags)).lower().replace("-", " ")
    return all(word in hay for word in query.lower().replace("-", " ").split())
