"""A scheduler's child process dies with the scheduler, even one killed with SIGKILL.

A scheduler that is killed (kill -9, the OOM killer) cannot end its children; a crawl child
left running keeps its run lock and its run row, and the restarted scheduler's next crawl
would wait for that lock and fail. Two mechanisms, so that one failing is not enough:

* Linux: the child asks the kernel for SIGTERM when its parent dies
  (`prctl(PR_SET_PDEATHSIG)`, through ctypes), then checks that the parent is still the one
  that started it (it may have died before the request).
* Everywhere: the parent keeps the write end of a pipe whose read end the child inherits;
  a thread in the child blocks on it, and end-of-file means the parent is gone (the kernel
  closes a dead process's descriptors). The child then sends itself SIGTERM, and SIGKILL
  after `KILL_GRACE_SECONDS` if that did not end it (Scrapy takes a first SIGTERM as "finish
  gracefully").

The parent side is `watch_pipe()` (crawler.schedule.child uses it for every child); the
child side is `watch_parent()`, which `dfwatch` calls first thing when the environment says
so. A crawl ended this way leaves a run row the next crawl marks aborted and a lock whose
holder is dead, which the next crawl takes over: no later run is lost.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import stat
import sys
import threading
import time

log = logging.getLogger("dfwatch.schedule")

ENV = "DFWATCH_PARENT_WATCH"  # "<parent pid>:<read fd>"
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
KILL_GRACE_SECONDS = 10.0  # between our own SIGTERM and SIGKILL


def watch_pipe() -> tuple[dict[str, str], int, int]:
    """For the parent: (environment for the child, fd to pass to it, fd to keep open).

    Pass the first fd with `pass_fds` and close it in the parent after the spawn; close the
    second when the child has ended.
    """
    read_fd, write_fd = os.pipe()
    return {ENV: f"{os.getpid()}:{read_fd}"}, read_fd, write_fd


def _die(why: str) -> None:
    log.error("%s: this crawl ends too", why)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(KILL_GRACE_SECONDS)
    os.kill(os.getpid(), signal.SIGKILL)


def _watch(fd: int) -> None:
    try:
        while os.read(fd, 1):  # the parent never writes: only EOF (or an error) comes back
            pass
    except OSError:
        pass
    _die("the scheduler that started this process is gone")


def _request_parent_death_signal() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def watch_parent(*, prctl: bool = True) -> None:
    """For the child: end this process when the parent named in the environment dies.

    Does nothing when the environment names no parent (a crawl started by hand).
    `prctl=False` leaves only the pipe (tests of the portable path).
    """
    value = os.environ.pop(ENV, "")  # grandchildren have no such fd: do not pass it on
    try:
        parent, fd = (int(part) for part in value.split(":"))
    except ValueError:
        return
    try:
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            raise OSError("not a pipe")
    except OSError:
        log.warning("%s names fd %d, which is not a pipe here: not watching the parent", ENV, fd)
        return
    if prctl:
        _request_parent_death_signal()
    if os.getppid() != parent:  # died before we asked
        threading.Thread(
            target=_die, args=("the scheduler died before this process started",), daemon=True
        ).start()
        return
    threading.Thread(target=_watch, args=(fd,), name="dfwatch-parent-watch", daemon=True).start()
