"""Stopping the servers and plugins the harness starts: by PID, politely first; and, should pytest itself be
killed before it can do that, by the kernel (:func:`die_with_parent`)."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from typing import Optional

#: prctl(2) option: the signal the kernel sends this process when its parent dies.
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """A ``preexec_fn`` for the long-lived servers (moto, etcd, kube-apiserver, kube-controller-manager): the
    kernel SIGKILLs the child when the process that started it (pytest) dies, however it dies. Without it a
    pytest killed by a timeout or ``kill -9`` leaves them running, reparented to init, holding ports and CPU.
    They run in their own session (``start_new_session``), so a Ctrl-C still reaches only pytest, which then
    stops them politely (:func:`terminate`). Linux only; elsewhere nothing."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    # The parent may have died between fork and prctl: then it is already gone, and so should we be.
    if os.getppid() == 1:
        os._exit(1)


def terminate(proc: Optional[subprocess.Popen], timeout: float = 10.0) -> None:
    """SIGTERM ``proc``, then SIGKILL if it has not gone after ``timeout``; nothing if it already exited."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=timeout)
    except ProcessLookupError:
        pass
