"""The two locks of an index directory.

``.build.lock`` is held by a full build for its whole run: one full build at a time, and a
second one fails fast with a clear message. ``.lock`` is held by whatever publishes a
generation — an update, an ingest over HTTP, a rollback, and a full build only for its last
step (catching up with what changed while it ran, then publishing) — so updates never wait
for a full build's minutes, and no change made meanwhile is lost.

Both are ``flock``s: the kernel releases them when their process dies, so a killed build never
leaves a stale lock. The holder writes its pid and start time into the file for the message
others see.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import time
from pathlib import Path

from searchsvc.errors import BuildError, LockedError

BUILD_LOCK = ".build.lock"
WRITE_LOCK = ".lock"

_HELD: set[int] = set()


def release_inherited() -> None:
    """In a forked worker: close its copies of the parent's locks, so they go with the
    parent (a forked child shares the open file, and would hold the flock after the parent
    died)."""
    for fd in list(_HELD):
        os.close(fd)
    _HELD.clear()


class Lock:
    def __init__(self, index_dir: Path | str, name: str = WRITE_LOCK, wait: float = 0.0,
                 what: str = "another build"):
        self.path = Path(index_dir) / name
        self.wait = wait
        self.what = what
        self.fd: int | None = None

    def __enter__(self) -> Lock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise BuildError(f"cannot use {self.path.parent} as an index directory: "
                             f"{exc.strerror or exc}") from None
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
                    os.close(fd)
                    raise LockedError(
                        f"{self.what} is running on {self.path.parent} "
                        f"({holder or 'unknown holder'}); try again when it has finished"
                    ) from None
                time.sleep(0.05)
        _HELD.add(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} since {dt.datetime.now():%Y-%m-%d %H:%M:%S}".encode(),
                  0)
        self.fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            _HELD.discard(self.fd)
            os.ftruncate(self.fd, 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    def held_by_other(self) -> bool:
        """Is the lock held right now (by anyone else)? Does not take it."""
        try:
            with Lock(self.path.parent, self.path.name):
                return False
        except LockedError:
            return True
