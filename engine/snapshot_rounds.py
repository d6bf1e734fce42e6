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

A round writes only the books that need it: a book whose sequence number is the one its
latest record was written at has not changed since, and that record is as good as a new
one, unless it is more than `max_lag` orders behind the round's start (recovery replays
from the oldest record, so this bounds the replay). Skipping such a book never costs
exactness: it has a record, and the floor only speaks for symbols that have none. A
book that was too large at its current sequence is not serialized again until it
changes; the round stays incomplete, as if it had been tried.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass
class RoundSummary:
    start: int  # the partition's next offset when the round began
    records: int
    bytes: int
    largest: int
    complete: bool  # no record was skipped
    unchanged: int = 0  # books left out: their records still hold them


class SnapshotRounds:
    """One partition's rounds: begin, take the symbols one by one, end."""

    __slots__ = ("_current", "_pending", "_summary", "floor", "max_lag", "recorded", "too_large")

    def __init__(
        self,
        floor: int,
        recorded: Mapping[str, tuple[int, int]] | None = None,
        max_lag: int | None = None,
    ) -> None:
        self.floor = floor  # stamped on every record this partition writes
        # symbol -> (its book's sequence, offset) as of its latest record on the topic
        self.recorded: dict[str, tuple[int, int]] = dict(recorded or {})
        self.max_lag = max_lag  # None: no book is left out for being unchanged
        self.too_large: dict[str, int] = {}  # symbol -> the sequence its record was too large at
        self._pending: list[str] = []
        self._current: str | None = None
        self._summary: RoundSummary | None = None

    @property
    def in_progress(self) -> bool:
        return self._summary is not None

    def begin(self, books: Mapping[str, int], offset: int) -> None:
        """Start a round at `offset` over `books` (symbol -> its book's sequence now),
        replacing any round in progress."""
        summary = RoundSummary(offset, 0, 0, 0, True)
        pending = []
        for symbol, sequence in books.items():
            if self.too_large.get(symbol) == sequence:
                summary.complete = False  # the same book again: too large again
            elif self._holds(symbol, sequence, offset):
                summary.unchanged += 1
            else:
                pending.append(symbol)
        self._pending = sorted(pending, reverse=True)  # taken in symbol order
        self._current = None
        self._summary = summary

    def _holds(self, symbol: str, sequence: int, offset: int) -> bool:
        """Whether `symbol`'s latest record still stands for its book in this round."""
        if self.max_lag is None or symbol not in self.recorded:
            return False
        recorded_sequence, recorded_offset = self.recorded[symbol]
        return recorded_sequence == sequence and offset - recorded_offset <= self.max_lag

    def next_symbol(self) -> str | None:
        """The symbol to write now, or None when none is left (then call `end`)."""
        self._current = self._pending.pop() if self._pending else None
        return self._current

    def written(self, size: int, sequence: int, offset: int) -> None:
        """The current symbol's record, of its book at `sequence`, went out at `offset`."""
        summary = self._current_summary()
        symbol = self._symbol()
        self.recorded[symbol] = (sequence, offset)
        self.too_large.pop(symbol, None)
        summary.records += 1
        summary.bytes += size
        summary.largest = max(summary.largest, size)

    def skipped(self, sequence: int) -> None:
        """The current symbol's record could not be written (too large at `sequence`):
        the round will not move the floor."""
        self._current_summary().complete = False
        self.too_large[self._symbol()] = sequence

    @property
    def finished(self) -> bool:
        return self._summary is not None and not self._pending

    def end(self) -> RoundSummary:
        """Close the round; a complete one moves the floor to its start."""
        summary = self._current_summary()
        if self._pending:
            raise RuntimeError("the round still has symbols to write")
        self._summary = None
        if summary.complete:
            self.floor = summary.start
        return summary

    def _current_summary(self) -> RoundSummary:
        if self._summary is None:
            raise RuntimeError("no snapshot round in progress")
        return self._summary

    def _symbol(self) -> str:
        if self._current is None:
            raise RuntimeError("no symbol taken: call next_symbol first")
        return self._current
