"""Deadlines around the engine service's blocking Kafka calls, and a bound on a graceful stop.

librdkafka may ignore a call's own timeout (send_offsets_to_transaction waits for as long
as the transaction coordinator is unreachable: confluentinc/librdkafka#5456), and a
Python signal handler runs only once the main thread is back in Python, so neither a
stuck call nor a SIGTERM that arrives during one can be handled by the thread that is
stuck. The watchdog runs on a thread of its own and ends the process:

- when the main thread has been inside one watched phase (a transaction, an abort,
  connecting, polling, closing) for longer than its limit;
- when a graceful stop asked for by SIGTERM/SIGINT has not finished within its bound
  (the signal reaches it through `signal.set_wakeup_fd`, which the interpreter writes
  from the C-level handler, whatever the main thread is doing).

Exiting is the whole remedy: the orchestrator restarts the process, and recovery rebuilds
every book exactly from committed state (docs/engine-service.md).
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

_log = logging.getLogger("orderbook.engine.watchdog")

# The exit status of a process the watchdog ended (a stuck call, or a stop that could
# not finish); 1 stays the status of a fatal Kafka error or a user error.
EXIT_STUCK = 3
_STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})


@dataclass
class _Phase:
    what: str
    since: float
    watched: bool


def _exit_process(reason: str, fields: dict[str, object]) -> None:
    _log.critical(reason, extra=fields)
    for handler in logging.getLogger().handlers:
        with contextlib.suppress(Exception):
            handler.flush()
    # Not sys.exit: interpreter shutdown would join the thread stuck in librdkafka and
    # destroy clients whose calls are still in flight, which is exactly what hangs.
    os._exit(EXIT_STUCK)


class Watchdog:
    """Ends the process when a watched phase or a requested stop outlives its bound.

    `limit_s` bounds one phase of the main thread; `stop_limit_s` bounds a graceful stop
    from the signal that asked for it. `expire(reason, fields)` is called at most once,
    on the watchdog's thread; by default it logs one line and exits with EXIT_STUCK.
    """

    def __init__(
        self,
        limit_s: float,
        stop_limit_s: float,
        expire: Callable[[str, dict[str, object]], None] = _exit_process,
        clock: Callable[[], float] = time.monotonic,
        tick_s: float = 0.5,
    ) -> None:
        self.limit_s = limit_s
        self.stop_limit_s = stop_limit_s
        self._expire = expire
        self._clock = clock
        self._tick_s = tick_s
        self._phases: list[_Phase] = []
        self._lock = threading.Lock()
        self._stop_requested_at: float | None = None
        self._expired = False
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self._wakeup: tuple[socket.socket, socket.socket] | None = None
        self._previous_wakeup_fd = -1
        self.before_expiry: Callable[[], None] = lambda: None

    # ------------------------------------------------------------------ the main thread

    @contextlib.contextmanager
    def watch(self, what: str) -> Iterator[None]:
        """The main thread is in `what` until the block ends; bounded by `limit_s`.

        A phase nested in another has a bound of its own, and its time does not count
        towards the enclosing phase's.
        """
        with self._phase(what, watched=True):
            yield

    @contextlib.contextmanager
    def unwatched(self, what: str) -> Iterator[None]:
        """A phase with bounds of its own (a recovery's stall timeouts), nested in another."""
        with self._phase(what, watched=False):
            yield

    def relabel(self, what: str) -> None:
        """Name the step of the current phase (its clock keeps running)."""
        with self._lock:
            if self._phases:
                self._phases[-1].what = what

    @contextlib.contextmanager
    def _phase(self, what: str, watched: bool) -> Iterator[None]:
        phase = _Phase(what, self._clock(), watched)
        with self._lock:
            self._phases.append(phase)
        try:
            yield
        finally:
            with self._lock:
                index = next(i for i, p in enumerate(self._phases) if p is phase)
                del self._phases[index]
                if index > 0:  # a nested phase had its own bound (or none)
                    self._phases[index - 1].since += self._clock() - phase.since

    def stop_requested(self) -> None:
        """A graceful stop was asked for; from now on it has `stop_limit_s` to finish."""
        with self._lock:
            if self._stop_requested_at is None:
                self._stop_requested_at = self._clock()

    # ------------------------------------------------------------------ the check

    def overdue(self) -> tuple[str, dict[str, object]] | None:
        """What has outlived its bound, as (log line, fields); None while all is well."""
        now = self._clock()
        with self._lock:
            phase = self._phases[-1] if self._phases else None
            asked = self._stop_requested_at
        if asked is not None and now - asked > self.stop_limit_s:
            fields: dict[str, object] = {"stop_limit_s": self.stop_limit_s}
            if phase is not None:
                fields.update(stuck_in=phase.what, stuck_for_s=round(now - phase.since, 1))
            return "graceful stop did not finish in time; exiting", fields
        if phase is not None and phase.watched and now - phase.since > self.limit_s:
            return (
                f"stuck in {phase.what} for {now - phase.since:.0f} s; exiting",
                {
                    "stuck_in": phase.what,
                    "stuck_for_s": round(now - phase.since, 1),
                    "limit_s": self.limit_s,
                },
            )
        return None

    def check(self) -> bool:
        """Expire if something is overdue (once); True if it did."""
        if self._expired:
            return True
        found = self.overdue()
        if found is None:
            return False
        self._expired = True
        with contextlib.suppress(Exception):
            self.before_expiry()
        self._expire(*found)
        return True

    # ------------------------------------------------------------------ the thread

    def start(self, listen_for_signals: bool = False) -> Watchdog:
        """Start watching; with `listen_for_signals` (main thread only), also learn of
        SIGTERM/SIGINT at once, even while the main thread is stuck in C."""
        if listen_for_signals:
            reader, writer = socket.socketpair()
            reader.setblocking(False)
            writer.setblocking(False)
            self._previous_wakeup_fd = signal.set_wakeup_fd(
                writer.fileno(), warn_on_full_buffer=False
            )
            self._wakeup = (reader, writer)
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._closed.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._wakeup is not None:
            with contextlib.suppress(ValueError):  # not on the main thread
                signal.set_wakeup_fd(self._previous_wakeup_fd)
            for sock in self._wakeup:
                sock.close()
            self._wakeup = None

    def _run(self) -> None:
        while not self._closed.is_set():
            if self._wakeup is not None:
                reader = self._wakeup[0]
                readable, _, _ = select.select([reader], [], [], self._tick_s)
                if readable:
                    with contextlib.suppress(BlockingIOError, OSError):
                        if any(number in _STOP_SIGNALS for number in reader.recv(64)):
                            self.stop_requested()
            else:
                self._closed.wait(self._tick_s)
            if self.check():
                return


def exit_within(seconds: float) -> threading.Thread:
    """End the process (EXIT_STUCK) unless it has exited by itself within `seconds`."""

    def _deadline() -> None:
        time.sleep(seconds)
        _exit_process("process did not exit in time; exiting", {"limit_s": seconds})

    thread = threading.Thread(target=_deadline, name="exit-deadline", daemon=True)
    thread.start()
    return thread
