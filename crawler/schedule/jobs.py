"""The scheduler's jobs: which exist, how they are kept in the job store, how they run.

Jobs live in the project's database (`apscheduler_jobs`), so a run missed while the
scheduler was down is still there at the next start and runs once (coalesced) if it is
within the misfire grace. That only works if start-up never replaces a stored job:
`add_job(..., replace_existing=True)` would overwrite the stored next run time with the
next future one and silently lose the missed run (DESIGN.md). So `sync_jobs` adds a job
only when absent and otherwise modifies it in place, keeping a next run time that is
already due.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from apscheduler.job import Job
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.base import BaseTrigger
from sqlalchemy import Engine, inspect

from crawler.config import SOURCE_NAMES, Config
from crawler.cron import crontab_trigger, describe_trigger, same_trigger

log = logging.getLogger("dfwatch.schedule")

JOBS_TABLE = "apscheduler_jobs"
JOB_PREFIX = "crawl:"
DEFAULT_JOB = "crawl:default"
# Stored in every job by reference; renaming it makes stored jobs unloadable (APScheduler
# then deletes them and sync_jobs adds them anew, losing a pending missed run once).
JOB_FUNC = "crawler.schedule.jobs:run_scheduled_crawl"


def run_scheduled_crawl(config_dir: str, sources: list[str], trigger: str = "schedule") -> int | None:
    """The job function: one crawl child of `sources`. Plain arguments, as the store pickles them."""
    from crawler.schedule.child import active_supervisor

    return active_supervisor(config_dir).run_crawl(config_dir, sources, trigger)


@dataclass(frozen=True)
class JobSpec:
    """A job the settings ask for."""

    id: str
    sources: tuple[str, ...]
    trigger: BaseTrigger

    @property
    def name(self) -> str:
        return f"dfwatch crawl {self.id.removeprefix(JOB_PREFIX)}"


@dataclass(frozen=True)
class JobInfo:
    """A job as `dfwatch schedule --list` shows it."""

    id: str
    sources: list[str]
    cron: str
    next_run_time: datetime | None  # None: paused
    stored: bool = True  # False: planned by the settings, not yet in the job store


def plan_jobs(config: Config) -> list[JobSpec]:
    """The default job (every source without its own schedule) and one job per override."""
    s = config.settings.schedule
    specs = []
    rest = tuple(n for n in SOURCE_NAMES if n not in s.sources)
    if rest:
        specs.append(JobSpec(DEFAULT_JOB, rest, crontab_trigger(s.cron)))
    for name, expr in sorted(s.sources.items()):
        specs.append(JobSpec(f"{JOB_PREFIX}{name}", (name,), crontab_trigger(expr)))
    return specs


def job_defaults(config: Config) -> dict[str, Any]:
    """coalesce: several missed runs run once; a grace of hours; never two of one job."""
    grace = max(1, round(config.settings.schedule.misfire_grace_hours * 3600))
    return {"coalesce": True, "misfire_grace_time": grace, "max_instances": 1}


def sync_jobs(
    scheduler: BaseScheduler,
    config: Config,
    config_dir: str,
    triggers: Mapping[str, BaseTrigger] | None = None,
) -> list[Job]:
    """Make the job store match the settings without losing a due run; the jobs after.

    `triggers` replaces the trigger of a job by id (tests use seconds, not cron).
    """
    specs = plan_jobs(config)
    if triggers:
        specs = [JobSpec(s.id, s.sources, triggers.get(s.id, s.trigger)) for s in specs]
    wanted = {s.id for s in specs}
    for job in scheduler.get_jobs():
        if job.id.startswith(JOB_PREFIX) and job.id not in wanted:
            log.warning(
                "job=%s removed: no longer in the settings (next run was %s)", job.id, job.next_run_time
            )
            scheduler.remove_job(job.id)
    defaults = job_defaults(config)
    now = datetime.now(UTC)
    for spec in specs:
        args = [config_dir, list(spec.sources), "schedule"]
        job = scheduler.get_job(spec.id)
        if job is None:
            job = scheduler.add_job(
                JOB_FUNC, trigger=spec.trigger, id=spec.id, name=spec.name, args=args, **defaults
            )
            log.info("job=%s added: %s", spec.id, describe_trigger(spec.trigger))
            continue
        changes: dict[str, Any] = {k: v for k, v in defaults.items() if getattr(job, k) != v}
        if job.func_ref != JOB_FUNC:
            changes["func"] = JOB_FUNC
        if list(job.args) != args:
            changes["args"] = args
        if job.name != spec.name:
            changes["name"] = spec.name
        if not same_trigger(job.trigger, spec.trigger):
            changes["trigger"] = spec.trigger
            due = job.next_run_time is not None and job.next_run_time <= now
            if due:
                # Keep the missed run: it fires now (within the grace), then the new
                # trigger takes over from it.
                log.info(
                    "job=%s trigger changed to %s; keeping the missed run of %s",
                    spec.id,
                    describe_trigger(spec.trigger),
                    job.next_run_time,
                )
            elif job.next_run_time is not None:
                changes["next_run_time"] = spec.trigger.get_next_fire_time(None, now)
                log.info("job=%s rescheduled: %s", spec.id, describe_trigger(spec.trigger))
        if changes:
            scheduler.modify_job(spec.id, **changes)
    return scheduler.get_jobs()


def job_info(job: Job, stored: bool = True) -> JobInfo:
    sources = list(job.args[1]) if len(job.args) > 1 else []
    return JobInfo(job.id, sources, describe_trigger(job.trigger), job.next_run_time, stored)


def list_jobs(config: Config) -> list[JobInfo]:
    """The stored jobs and their next run times, without starting a scheduler.

    Jobs the settings ask for but the store does not hold yet (the scheduler has not
    started since) are listed with `stored=False` and the time they would first run.
    """
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    from crawler.db.engine import make_engine
    from crawler.errors import StoreError

    stored: list[JobInfo] = []
    try:
        engine: Engine | None = make_engine(config.database_url, read_only=True)
    except StoreError:  # no database yet: nothing stored
        engine = None
    if engine is not None:
        try:
            if inspect(engine).has_table(JOBS_TABLE):
                store = SQLAlchemyJobStore(engine=engine, tablename=JOBS_TABLE)
                stored = [job_info(j) for j in store.get_all_jobs()]
        finally:
            engine.dispose()
    have = {j.id for j in stored}
    now = datetime.now(UTC)
    planned = [
        JobInfo(
            s.id,
            list(s.sources),
            describe_trigger(s.trigger),
            s.trigger.get_next_fire_time(None, now),
            stored=False,
        )
        for s in plan_jobs(config)
        if s.id not in have
    ]
    return stored + planned
