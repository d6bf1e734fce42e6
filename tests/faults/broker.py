"""Broker kill -9 and restart for the fault suite and the soak.

Acts only on the broker of a `Stack` started by the project's launcher (its pid file
names it), never on any other process. A restart reuses the same ports and state
directory, so clients reconnect to the same address and find their topics there.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time

from orderbook_platform.stack import Stack
from orderbook_platform.stack.errors import StackError

# Only a guard against a broker that never dies.
PATIENCE_S = 60.0


def kill_broker(stack: Stack) -> int:
    """SIGKILL the stack's broker and wait until it is gone; returns the pid it had."""
    pid = stack.kafka.process.pid()
    if pid is None:
        raise StackError(f"the broker of {stack.state_dir} is not running")
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + PATIENCE_S
    while stack.kafka.process.is_running():
        if time.monotonic() > deadline:
            raise StackError(f"broker {pid} still running {PATIENCE_S:.0f} s after SIGKILL")
        time.sleep(0.05)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it was our child
    return pid


def restart_broker(stack: Stack) -> None:
    """Start the broker again on the same ports and state dir; returns once it answers."""
    if stack.kafka.process.is_running():
        raise StackError("the broker is still running; kill it first")
    stack.up()
