"""Cheap, byte-identical encoding of `book` (L2) messages.

`orderbook_platform.contracts.encode(depth)` formats every price of every level of
every BookDepth afresh, and float formatting dominates it. But from one L2 message of
a symbol to the next most levels are the very same `BookLevel` objects: the book
replaces an entry only when that level changes, and a side that did not change may be
the very same list. So `DepthEncoder` keeps, per symbol and side, the last list it
encoded, the JSON object of each of its levels, and their comma-joined bytes:

- a list holding the same level objects (`is`) in the same order reuses those bytes;
- otherwise they are joined from per-level fragments: a level that was in the
  last list is found by a forward walk over it (levels keep their relative order, so
  an insertion, a removal or a replacement costs one step) and its fragment reused;
  only a level object that was not in the last list is encoded by msgspec.

A line is then assembled from bytes rather than encoded as a whole: the symbol's
cached `{"symbol":…,"bids":[`, the bids' join, `],"asks":[`, the asks' join, then `]`,
the `time` and `sequence` fields (each int encoded by msgspec; a None left out, as
BookDepth's `omit_defaults` does) and `}`. `encode_lines` collects the pieces of all
its lines and joins them once. Anything else (not a BookDepth, a symbol that is not a
str, sides that are not lists, a time or sequence that is neither None nor an int) is
passed to msgspec as it is.

This relies on messages being read-only shared values (engine/events.py): nobody
mutates a BookDepth, its lists or its levels after the matcher returns them. The cache
holds one entry per symbol, whose last lists keep their levels alive (so an identity
test cannot match a new object at a reused address), and is cleared when a new symbol
would make it exceed `max_symbols`.

Why not a table keyed by `id(level)`: measured with callgrind, boxing the id and the
dict lookup (object addresses share their low bits, so the keys collide) cost ~400
instructions per level, a third of encoding the level outright; the walk costs ~20.

All this pays off compiled (engine.native.COMPILED_MODULES; keep this module
mypy-clean): measured with callgrind over a 60k-order replay, a compiled DepthEncoder
takes ~8.2k instructions per L2 message where msgspec takes ~21.4k (~10.7k when the
line was still a Struct of `msgspec.Raw` sides encoded by msgspec). As plain Python
its steps cost more than they save, so uncompiled (OB_ENGINE_PURE=1, or a stale
build) it is msgspec's encoder.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Final

import msgspec
from mypy_extensions import mypyc_attr

from engine import native
from orderbook_platform.contracts import BookDepth

# Far more symbols than any book set we run; an entry is a few KiB at most.
DEFAULT_MAX_SYMBOLS: Final = 4096

_BookDepth: Final = BookDepth
_astuple: Final[Callable[[Any], tuple[Any, ...]]] = msgspec.structs.astuple
_BETWEEN_SIDES: Final = b'],"asks":['
_TIME: Final = b'],"time":'
_SEQUENCE: Final = b',"sequence":'
_ONLY_SEQUENCE: Final = b'],"sequence":'
_CLOSE: Final = b"]}"
_CLOSE_LINE: Final = b"]}\n"
_BRACE: Final = b"}"
_BRACE_LINE: Final = b"}\n"
_NEWLINE: Final = b"\n"


@mypyc_attr(acyclic=True)
class _Side:
    """One side as last encoded: its list, each level's JSON object, and their join."""

    __slots__ = ("joined", "levels", "parts")

    def __init__(self) -> None:
        self.levels: list[Any] = []
        self.parts: list[bytes] = []
        self.joined = b""  # the level objects comma-joined, without the brackets


@mypyc_attr(acyclic=True)
class _Symbol:
    """One symbol's two sides as last encoded, and its lines' start up to the bids."""

    __slots__ = ("asks", "bids", "head")

    def __init__(self, head: bytes) -> None:
        self.head = head
        self.bids = _Side()
        self.asks = _Side()


def _same(levels: list[Any], last: list[Any]) -> bool:
    """Whether both lists hold the very same objects in the same order."""
    if levels is last:
        return True
    n = len(levels)
    if n != len(last):
        return False
    for i in range(n):  # noqa: SIM110 - compiled, a plain loop; all() makes a generator
        if levels[i] is not last[i]:
            return False
    return True


class DepthEncoder:
    """Encodes BookDepth messages to the bytes of `contracts.encode`, with a cache.

    The cache makes the bytes cheaper, never different: any number of encoders, fed
    any of the messages in any order, agree with `contracts.encode`. With `cache`
    False (the default when this module is not compiled, where the cache's own Python
    steps cost more than they save) it is msgspec's encoder, nothing more.
    """

    __slots__ = ("_encode", "_encoder", "_symbols", "cache", "max_symbols")

    def __init__(self, max_symbols: int = DEFAULT_MAX_SYMBOLS, cache: bool | None = None) -> None:
        self.max_symbols = max_symbols
        self.cache = native.mode == native.COMPILED if cache is None else cache
        self._encoder = msgspec.json.Encoder()
        self._encode: Callable[[Any], bytes] = self._encoder.encode
        self._symbols: dict[str, _Symbol] = {}

    def cached_symbols(self) -> int:
        return len(self._symbols)

    def cached_levels(self) -> int:
        """How many level fragments the cache holds (at most 2 x depth per symbol)."""
        total = 0
        for entry in self._symbols.values():
            total += len(entry.bids.parts) + len(entry.asks.parts)
        return total

    def clear(self) -> None:
        self._symbols.clear()

    def _side(self, levels: list[Any], last: _Side) -> bytes:
        """`levels`' JSON objects comma-joined, reusing what `last` has; `last` becomes it."""
        if _same(levels, last.levels):  # also the very same list
            last.levels = levels
            return last.joined
        previous = last.levels
        fragments = last.parts
        n = len(previous)
        parts: list[bytes] = []
        j = 0  # previous[:j] were matched or passed over
        for level in levels:
            k = j
            while k < n and previous[k] is not level:
                k += 1
            if k < n:
                parts.append(fragments[k])
                j = k + 1
            else:
                parts.append(self._encode(level))
        joined = b",".join(parts)
        last.levels = levels
        last.parts = parts
        last.joined = joined
        return joined

    def _add_line(self, depth: Any, pieces: list[bytes], newline: bool) -> None:
        """Append the pieces of `depth`'s JSON, and a newline if asked, to `pieces`.

        `depth` is typed Any so that compiled code reads its fields unchecked.
        """
        if type(depth) is _BookDepth:  # a subclass may have more fields
            fields = _astuple(depth)  # one call rather than five attribute lookups
            symbol = fields[0]
            bids = fields[1]
            asks = fields[2]
            time = fields[3]
            sequence = fields[4]
            if (
                type(symbol) is str
                and type(bids) is list
                and type(asks) is list
                and (time is None or type(time) is int)
                and (sequence is None or type(sequence) is int)
            ):
                entry = self._symbols.get(symbol)
                if entry is None:
                    if len(self._symbols) >= self.max_symbols:
                        self._symbols.clear()
                    head = b'{"symbol":' + self._encode(symbol) + b',"bids":['
                    entry = self._symbols[symbol] = _Symbol(head)
                pieces.append(entry.head)
                pieces.append(self._side(bids, entry.bids))
                pieces.append(_BETWEEN_SIDES)
                pieces.append(self._side(asks, entry.asks))
                # As BookDepth's omit_defaults: a None is left out.
                if time is None and sequence is None:
                    pieces.append(_CLOSE_LINE if newline else _CLOSE)
                    return
                if time is not None:
                    pieces.append(_TIME)
                    pieces.append(self._encode(time))
                    if sequence is not None:
                        pieces.append(_SEQUENCE)
                        pieces.append(self._encode(sequence))
                else:
                    pieces.append(_ONLY_SEQUENCE)
                    pieces.append(self._encode(sequence))
                pieces.append(_BRACE_LINE if newline else _BRACE)
                return
        pieces.append(self._encode(depth))
        if newline:
            pieces.append(_NEWLINE)

    def encode(self, depth: BookDepth) -> bytes:
        """`contracts.encode(depth)`, byte for byte."""
        if not self.cache:
            return self._encode(depth)
        pieces: list[bytes] = []
        self._add_line(depth, pieces, False)
        return b"".join(pieces)

    def encode_lines(self, depths: list[BookDepth]) -> bytes:
        """The JSONL of `depths`: each `contracts.encode(depth)` and a newline.

        The pieces of all the lines are joined once, into the one bytes returned.
        """
        if not self.cache:
            lines: bytes = self._encoder.encode_lines(depths)
            return lines
        pieces: list[bytes] = []
        for depth in depths:
            self._add_line(depth, pieces, True)
        return b"".join(pieces)


_local: Final = threading.local()


def thread_encoder() -> DepthEncoder:
    """This thread's DepthEncoder, made on first use: a long-lived cache for a service.

    Per thread because an encoder's cache is updated in steps that must not interleave.
    """
    encoder: DepthEncoder | None = getattr(_local, "encoder", None)
    if encoder is None:
        encoder = _local.encoder = DepthEncoder()
    return encoder
