"""A TCP proxy that can simulate a database server going away, for a moment, for everyone.

The real PostgreSQL server is shared with other people's tests, so it is never restarted;
instead the crawl talks to it through this proxy, and `outage()` does what a restart does
to a client: every open connection is cut (the client sees "server closed the connection
unexpectedly"), and new connections are refused (the listening socket is closed, so the
kernel answers "connection refused") until the outage ends and the proxy listens again on
the same port.

Plain threads: two copy loops per connection, bounded by the sockets' lifetimes.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Iterator
from types import TracebackType

log = logging.getLogger(__name__)

BUFFER = 64 * 1024


class TcpProxy:
    """127.0.0.1:0 -> `upstream`; `port` is the ephemeral port it listens on."""

    def __init__(self, upstream: tuple[str, int] = ("127.0.0.1", 5432)) -> None:
        self.upstream = upstream
        self.port = 0
        self.accepted = 0  # connections proxied since start
        self.cut = 0  # connections cut by outages
        self._listener: socket.socket | None = None
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._lock = threading.Lock()
        self._closed = threading.Event()

    # -- life cycle ------------------------------------------------------------------
    def start(self) -> TcpProxy:
        self._listen()
        return self

    def stop(self) -> None:
        self._closed.set()
        self._close_listener()
        self._cut_all()

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @contextlib.contextmanager
    def outage(self) -> Iterator[None]:
        """Inside the block: all connections cut, new ones refused. Afterwards: served again."""
        self._close_listener()
        self._cut_all()
        try:
            yield
        finally:
            self._listen()

    def down_for(self, seconds: float) -> None:
        with self.outage():
            time.sleep(seconds)

    # -- internals -------------------------------------------------------------------
    def _listen(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # rebind the same port at once
        sock.bind(("127.0.0.1", self.port))
        sock.listen(64)
        self.port = sock.getsockname()[1]
        with self._lock:
            self._listener = sock
        threading.Thread(target=self._accept, args=(sock,), name="tcpproxy-accept", daemon=True).start()

    def _close_listener(self) -> None:
        with self._lock:
            sock, self._listener = self._listener, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
            sock.close()

    def _cut_all(self) -> None:
        with self._lock:
            pairs, self._pairs = self._pairs, set()
        for pair in pairs:
            self.cut += 1
            for s in pair:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _addr = listener.accept()
            except OSError:
                return  # the listener was closed: an outage or the end
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError as exc:
                log.warning("tcpproxy: upstream %s unreachable: %s", self.upstream, exc)
                client.close()
                continue
            pair = (client, server)
            with self._lock:
                self._pairs.add(pair)
                self.accepted += 1
            for src, dst in ((client, server), (server, client)):
                threading.Thread(
                    target=self._pump, args=(src, dst, pair), name="tcpproxy-pump", daemon=True
                ).start()

    def _pump(
        self, src: socket.socket, dst: socket.socket, pair: tuple[socket.socket, socket.socket]
    ) -> None:
        try:
            while True:
                data = src.recv(BUFFER)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._pairs.discard(pair)
            for s in pair:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    s.close()
