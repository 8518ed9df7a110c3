"""Stopping the servers and plugins the harness starts: by PID, politely first."""

from __future__ import annotations

import os
import signal
import subprocess
from typing import Optional


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
