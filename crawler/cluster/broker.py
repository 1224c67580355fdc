"""The shard queue: a Dramatiq `RedisBroker` on `[cluster] broker` (DFWATCH_BROKER_URL).

Dramatiq's Redis broker delivers reliably: a worker takes a message into its own "ack"
set and acknowledges it only after the actor returned; a worker whose heartbeat is older
than `heartbeat_timeout` is dead, and its unacknowledged messages go back on the queue
(maintenance, run on a fraction of the broker's calls: `MAINTENANCE_CHANCE`). So a worker
killed mid-shard loses nothing: another takes the shard again.

`connect` pings Redis first: an unreachable broker is one clear `BrokerUnreachable`
(exit 1) before anything is enqueued or written. The URL may hold a password: it is shown
only as host, port and database (`broker_label`).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import redis
from dramatiq.brokers.redis import RedisBroker

from crawler.errors import DfwatchError

__all__ = ["BrokerUnreachable", "broker_label", "connect", "namespace_of"]

CONNECT_TIMEOUT_SECONDS = 5.0
# Calls per million that run the broker's maintenance (requeue a dead worker's messages).
# Dramatiq's default (1,000) suits thousands of messages a second; a crawl sends a few
# hundred shards, so maintenance runs on one call in ten, which costs Redis nothing.
MAINTENANCE_CHANCE = 100_000
DEFAULT_NAMESPACE = "dfwatch"


class BrokerUnreachable(DfwatchError):
    """The shard queue's Redis did not answer: nothing was enqueued."""


def broker_label(url: str) -> str:
    """`redis://host:port/db`: the URL without user name, password or query."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def namespace_of(queue: str) -> str:
    """The Redis key namespace of a queue's broker: every queue apart from the others."""
    return f"{DEFAULT_NAMESPACE}:{queue}"


def connect(url: str, *, queue: str, heartbeat_seconds: float = 60.0) -> RedisBroker:
    """A RedisBroker on `url`, after a ping; raises BrokerUnreachable (exit 1) if none answers."""
    try:
        client = redis.Redis.from_url(
            url, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS, socket_timeout=30.0
        )
        client.ping()
    except (redis.RedisError, ValueError, OSError) as exc:
        raise BrokerUnreachable(
            f"the broker at {broker_label(url)} is not reachable ({type(exc).__name__}); nothing was enqueued"
        ) from None
    return RedisBroker(
        client=client,
        namespace=namespace_of(queue),
        maintenance_chance=MAINTENANCE_CHANCE,
        heartbeat_timeout=int(heartbeat_seconds * 1000),
    )
