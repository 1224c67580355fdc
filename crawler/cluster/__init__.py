"""Scale-out: the same crawl as shards on many workers (Dramatiq on Redis, one PostgreSQL).

    shards.py       the planner: one crawl cut into shards, their messages (nothing secret)
    broker.py       the Redis broker, pinged before anything is enqueued
    actors.py       `crawl_shard`: one shard run on a worker, idempotent on redelivery
    child.py        a spider shard in a process of its own (one reactor per process)
    coordinator.py  `dfwatch crawl --distributed`: enqueue, wait, sum the shards, close the run
    worker.py       `dfwatch worker`: take shards until SIGTERM
    budget.py       credential budgets shared by every worker, in Redis

docs/operations.md ("Distributed crawl") describes how to run it.
"""
