"""The HTTP server every local fake runs on: Python's ThreadingHTTPServer with a real backlog.

`socketserver` listens with a backlog of 5. Under a loaded 2-core machine, several crawl
processes opening connections at once overflow it (`nstat` counted ListenOverflows here), and
a connection dropped that way reaches the crawler as a reset: a "connection" retry, or a
failed target where retries are off. Platforms do not refuse connections like that, so the
simulation must not either.
"""

from __future__ import annotations

from http.server import ThreadingHTTPServer


class LocalHTTPServer(ThreadingHTTPServer):
    request_queue_size = 512
    daemon_threads = True
