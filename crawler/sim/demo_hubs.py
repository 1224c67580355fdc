"""The demo's 2025 chapter: a hub bans likeness models, and copies appear on the other.

After the 2018 chapter (crawler.sim.demo) the simulated clock jumps to 16 May 2025, a week
before Civitai's ban of real-person likeness models takes effect, and `dfwatch crawl --only
huggingface,civitai` runs every other simulated day. The watchlist of the chapter lives in its own
file, `watchlist.d/hubs-2025.yaml`, tagged `hubs-2025`: Civitai's likeness and tool models and
three searches on each hub, the Hugging Face account that collects the copies, and (as a
researcher following the searches would add them) every Hugging Face copy once it is up. At the
end `dfwatch report --tag hubs-2025` writes `report-2025.html`: the takedowns on Civitai and,
weeks later, the Hub's own in the status timeline; the searches' model counts falling on one
hub and rising on the other in the growth table.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import yaml

from crawler.errors import DfwatchError
from crawler.sim import hubs_world as hw
from crawler.sim.server import Simulation

log = logging.getLogger("crawler.sim.demo")

CHAPTER_DAYS = 42  # 16 May to 26 June 2025: the ban, the copies, the Hub's late removals
CHAPTER_STEP = 2  # days between two crawls: model figures move slowly, and each crawl is a process
CHAPTER_SOURCES = ("huggingface", "civitai")
TAG = "hubs-2025"
WATCHLIST_FILE = "hubs-2025.yaml"
REPORT_NAME = "report-2025.html"


def chapter_watchlist(sim: Simulation) -> dict[str, Any]:
    """The chapter's watchlist as of the simulated now (copies join once they exist)."""
    world, now = sim.world, sim.clock.now()

    def tagged(name: str) -> dict[str, Any]:
        return {"name": name, "tags": [TAG]}

    cast = hw.chapter_2025()
    hf_models = [
        e.name
        for e in cast
        if e.platform == "huggingface"
        and e.kind == "model"
        and (not e.extra.get("reupload_of") or e.created <= now)
    ]
    return {
        "huggingface": {
            "models": [tagged(n) for n in hf_models if world.get("huggingface", "model", n) is not None],
            "spaces": [tagged(e.name) for e in cast if e.platform == "huggingface" and e.kind == "space"],
            "authors": [tagged("sim-archive")],
            "searches": [tagged(q) for q in hw.HF_SEARCHES],
        },
        "civitai": {
            "models": [tagged(e.name) for e in cast if e.platform == "civitai"],
            "searches": [tagged(q) for q in hw.CIVITAI_SEARCHES],
        },
    }


def write_chapter_watchlist(config_dir: Path, sim: Simulation) -> None:
    d = config_dir / "watchlist.d"
    d.mkdir(parents=True, exist_ok=True)
    (d / WATCHLIST_FILE).write_text(
        "# Written by `dfwatch demo` for its 2025 chapter (model hubs).\n"
        + yaml.safe_dump(chapter_watchlist(sim), sort_keys=False)
    )


def run_hub_chapter(
    sim: Simulation,
    config_dir: Path,
    db_url: str,
    out_dir: Path,
    *,
    days: int = CHAPTER_DAYS,
    run: Any,
    env_for: Any,
    cli: list[str],
) -> Path:
    """Crawl the chapter's days and write its report; `run`, `env_for` and `cli` are the demo's."""
    jump = (hw.CHAPTER_START - sim.clock.now()).total_seconds() / 86400
    if jump > 0:
        sim.advance(days=jump)  # every rate-limit window has passed in seven years
    for day in range(0, days, CHAPTER_STEP):
        write_chapter_watchlist(config_dir, sim)
        code = run(
            [*cli, "crawl", "--only", ",".join(CHAPTER_SOURCES), "--config", str(config_dir)],
            env_for(sim, config_dir, db_url),
            f"crawl of simulated {sim.clock.iso()}",
        )
        log.info("demo chapter=2025 day=%d sim_now=%s exit=%d", day + 1, sim.clock.iso(), code)
        if code not in (0, 4):
            raise DfwatchError(f"demo crawl of simulated {sim.clock.iso()} failed with exit code {code}")
        if day + CHAPTER_STEP < days:
            sim.advance(days=CHAPTER_STEP)
    report_path = out_dir / REPORT_NAME
    code = run(
        [
            *cli,
            "report",
            "--config",
            str(config_dir),
            "--tag",
            TAG,
            "--since",
            f"{days}d",
            "--format",
            "html",
            "--out",
            str(report_path),
        ],
        env_for(sim, config_dir, db_url),
        "report of the 2025 chapter",
    )
    if code != 0:
        raise DfwatchError(f"demo report of the 2025 chapter failed with exit code {code}")
    return report_path
