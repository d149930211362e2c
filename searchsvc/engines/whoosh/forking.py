"""What a forked helper of a build does first: let go of what only its parent may hold, and
die with the parent.

A build's workers and a merge's helper are forked, so they inherit the build's locks (an
flock held through a shared open file would outlive a parent that died) and would run on,
unsupervised, if the parent were killed. :func:`detach_from_parent` closes the inherited
locks and asks the kernel to kill the process when its parent dies.
"""

from __future__ import annotations

import os


def detach_from_parent(parent: int) -> None:
    """In a forked process: let the build lock go with the parent, and die with it."""
    from searchsvc.ingest.locks import release_inherited

    release_inherited()
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: the kernel kills us with the parent
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)
    except (OSError, AttributeError):
        pass
