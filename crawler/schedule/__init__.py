"""Daily scheduling that survives restarts, overlaps, hangs and crashes.

    cron.py       crontab expressions -> APScheduler triggers (crontab weekday numbers)
    jobs.py       which jobs exist, keeping them in the job store, the job function
    child.py      each crawl as a child process: timeout, kill, report, shutdown grace
    runs.py       closing the run row of a crawl the scheduler had to end
    scheduler.py  run_scheduler: the process, its signals and its shutdown

The CLI (`dfwatch schedule [--list]`) calls `run_scheduler` and `list_jobs`.
"""

from crawler.schedule.jobs import JobInfo, list_jobs, plan_jobs
from crawler.schedule.scheduler import run_scheduler

__all__ = ["JobInfo", "list_jobs", "plan_jobs", "run_scheduler"]
