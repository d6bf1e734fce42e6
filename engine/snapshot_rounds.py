"""Which snapshot record a partition writes next, and the `floor` it carries. No I/O.

A round writes one record per symbol of a partition, one record per transaction, so a
round's pause is one book's serialization rather than all of them at once. Its records
are therefore at different offsets, and recovery (engine.recovery) replays a partition
from the lowest `offset` or `floor` among its latest records, applying each order only
to books that had not seen it.

That is exact as long as a symbol with no record at all first traded at or after that
start. The floor guarantees it: it is the start of the partition's last round that
wrote every symbol the partition had when the round began (a symbol missing from such
a round did not exist yet), or, before any such round, where this owner's recovery
replay began (which covered every symbol without a record then). A round that had to
skip a record (too large for the topic) does not move the floor, since the skipped
symbol may have no record.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class RoundSummary:
    start: int  # the partition's next offset when the round began
    records: int
    bytes: int
    largest: int
    complete: bool  # no record was skipped


class SnapshotRounds:
    """One partition's rounds: begin, take the symbols one by one, end."""

    __slots__ = ("_pending", "_summary", "floor")

    def __init__(self, floor: int) -> None:
        self.floor = floor  # stamped on every record this partition writes
        self._pending: list[str] = []
        self._summary: RoundSummary | None = None

    @property
    def in_progress(self) -> bool:
        return self._summary is not None

    def begin(self, symbols: list[str], offset: int) -> None:
        """Start a round over `symbols` at `offset`, replacing any round in progress."""
        self._pending = sorted(symbols, reverse=True)  # taken in symbol order
        self._summary = RoundSummary(offset, 0, 0, 0, True)

    def next_symbol(self) -> str | None:
        """The symbol to write now, or None when none is left (then call `end`)."""
        return self._pending.pop() if self._pending else None

    def written(self, size: int) -> None:
        summary = self._current()
        summary.records += 1
        summary.bytes += size
        summary.largest = max(summary.largest, size)

    def skipped(self) -> None:
        """The last symbol's record could not be written: the round will not move the floor."""
        self._current().complete = False

    @property
    def finished(self) -> bool:
        return self._summary is not None and not self._pending

    def end(self) -> RoundSummary:
        """Close the round; a complete one moves the floor to its start."""
        summary = self._current()
        if self._pending:
            raise RuntimeError("the round still has symbols to write")
        self._summary = None
        if summary.complete:
            self.floor = summary.start
        return summary

    def _current(self) -> RoundSummary:
        if self._summary is None:
            raise RuntimeError("no snapshot round in progress")
        return self._summary
