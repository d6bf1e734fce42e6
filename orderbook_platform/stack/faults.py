"""Broker faults on demand, for tests: kill -9, freeze (SIGSTOP), thaw and restart.

They act on the broker of a `Stack` started by this package (its pid file), never on
any other process. A restart reuses the same ports and state directory, so clients
reconnect to the same address and find their topics, offsets and transactions there.
"""

from __future__ import annotations

import os
import signal
import time

from orderbook_platform.stack.errors import StackError
from orderbook_platform.stack.launcher import Stack
from orderbook_platform.stack.processes import port_is_open

# Only a guard against a broker that never dies or never comes back.
_PATIENCE_S = 60.0


def broker_pid(stack: Stack) -> int:
    """The pid of the stack's running broker (a StackError if it is not running)."""
    pid = stack.kafka.process.pid()
    if pid is None:
        raise StackError(f"the broker of {stack.state_dir} is not running")
    return pid


def kill_broker(stack: Stack) -> int:
    """kill -9 the broker and wait until it is gone; returns the pid it had."""
    pid = broker_pid(stack)
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + _PATIENCE_S
    # The JVM's main thread shows as a zombie while its other threads still exit and hold
    # the listening sockets, so wait for the ports too: a restart needs them free.
    host = stack.settings.stack.host
    while stack.kafka.process.is_running() or any(
        port_is_open(host, port) for port in stack.kafka.ports
    ):
        if time.monotonic() > deadline:
            raise StackError(f"broker {pid} still running {_PATIENCE_S:.0f} s after SIGKILL")
        time.sleep(0.05)
    return pid


def freeze_broker(stack: Stack) -> int:
    """SIGSTOP the broker: its sockets stay open and nothing answers; returns its pid."""
    pid = broker_pid(stack)
    os.kill(pid, signal.SIGSTOP)
    return pid


def thaw_broker(stack: Stack) -> None:
    """SIGCONT a broker that `freeze_broker` stopped."""
    os.kill(broker_pid(stack), signal.SIGCONT)


def restart_broker(stack: Stack) -> None:
    """Start the broker again on the same ports and state dir, and wait until it answers."""
    if stack.kafka.process.is_running():
        raise StackError("the broker is still running; kill_broker first")
    stack.up()
