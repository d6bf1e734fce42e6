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

The message itself is a private Struct with BookDepth's fields, order, defaults and
`omit_defaults`, each side a list of one `msgspec.Raw` of those bytes (an empty list
for an empty side): msgspec writes it with the brackets, so the result is exactly
`contracts.encode(depth)`. A message with a symbol that is not a
str or sides that are not lists (or anything but a BookDepth) is passed to msgspec as
it is.

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
takes ~10.7k instructions per L2 message where msgspec takes ~21.4k. As plain Python its steps cost more than they
save, so uncompiled (OB_ENGINE_PURE=1, or a stale build) it is msgspec's encoder.
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
_Raw: Final = msgspec.Raw
_astuple: Final[Callable[[Any], tuple[Any, ...]]] = msgspec.structs.astuple
_EMPTY: Final[list[msgspec.Raw]] = []  # shared, never mutated
_NEWLINE: Final = 10
_KEEP_BUFFER: Final = 1 << 22  # a larger encode_lines buffer is not kept


@mypyc_attr(acyclic=True)
class _Side:
    """One side as last encoded: its list, each level's JSON object, the `_Depth` side."""

    __slots__ = ("levels", "parts", "raw")

    def __init__(self) -> None:
        self.levels: list[Any] = []
        self.parts: list[bytes] = []
        self.raw: list[msgspec.Raw] = _EMPTY


@mypyc_attr(acyclic=True)
class _Symbol:
    """One symbol's two sides as last encoded."""

    __slots__ = ("asks", "bids")

    def __init__(self) -> None:
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


# BookDepth's fields in its order, with its defaults and omit_defaults; each side is
# [Raw(comma-joined level objects)] (msgspec copies a Raw as it is) or [].
_Depth: Final[Any] = msgspec.defstruct(
    "_Depth",
    [
        ("symbol", str),
        ("bids", list[msgspec.Raw]),
        ("asks", list[msgspec.Raw]),
        ("time", Any, None),
        ("sequence", Any, None),
    ],
    omit_defaults=True,
    gc=False,  # no cycle possible (str, ints, lists of Raw): untracked like BookDepth
)


class DepthEncoder:
    """Encodes BookDepth messages to the bytes of `contracts.encode`, with a cache.

    The cache makes the bytes cheaper, never different: any number of encoders, fed
    any of the messages in any order, agree with `contracts.encode`. With `cache`
    False (the default when this module is not compiled, where the cache's own Python
    steps cost more than they save) it is msgspec's encoder, nothing more.
    """

    __slots__ = ("_buffer", "_encode", "_encoder", "_symbols", "cache", "max_symbols")

    def __init__(self, max_symbols: int = DEFAULT_MAX_SYMBOLS, cache: bool | None = None) -> None:
        self.max_symbols = max_symbols
        self.cache = native.mode == native.COMPILED if cache is None else cache
        self._encoder = msgspec.json.Encoder()
        self._encode: Callable[[Any], bytes] = self._encoder.encode
        self._symbols: dict[str, _Symbol] = {}
        self._buffer = bytearray()  # encode_lines' output, its memory kept between calls

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

    def _side(self, levels: list[Any], last: _Side) -> list[msgspec.Raw]:
        """The JSON array of `levels`, reusing what `last` has; `last` becomes it."""
        if _same(levels, last.levels):  # also the very same list
            last.levels = levels
            return last.raw
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
        raw = [_Raw(b",".join(parts))] if parts else _EMPTY
        last.levels = levels
        last.parts = parts
        last.raw = raw
        return raw

    def prepare(self, depth: Any) -> Any:
        """A Struct that msgspec encodes exactly as the BookDepth `depth` (or `depth`).

        `depth` is typed Any so that compiled code reads its fields unchecked.
        """
        if type(depth) is not _BookDepth:  # a subclass may have more fields
            return depth
        fields = _astuple(depth)  # one call rather than five attribute lookups
        symbol = fields[0]
        bids = fields[1]
        asks = fields[2]
        if type(symbol) is not str or type(bids) is not list or type(asks) is not list:
            return depth
        entry = self._symbols.get(symbol)
        if entry is None:
            if len(self._symbols) >= self.max_symbols:
                self._symbols.clear()
            entry = self._symbols[symbol] = _Symbol()
        return _Depth(
            symbol,
            self._side(bids, entry.bids),
            self._side(asks, entry.asks),
            fields[3],
            fields[4],
        )

    def encode(self, depth: BookDepth) -> bytes:
        """`contracts.encode(depth)`, byte for byte."""
        if not self.cache:
            return self._encode(depth)
        return self._encode(self.prepare(depth))

    def encode_lines(self, depths: list[BookDepth]) -> bytes:
        """The JSONL of `depths`: each `contracts.encode(depth)` and a newline.

        Written into one buffer kept between calls (msgspec's encode_lines grows a new
        one by reallocation every call), then copied out once.
        """
        if not self.cache:
            lines: bytes = self._encoder.encode_lines(depths)
            return lines
        buffer = self._buffer
        encode_into = self._encoder.encode_into
        offset = 0
        for depth in depths:
            encode_into(self.prepare(depth), buffer, offset)
            buffer.append(_NEWLINE)
            offset = len(buffer)
        if offset == 0:
            return b""
        lines = bytes(buffer)
        if offset > _KEEP_BUFFER:
            self._buffer = bytearray()
        return lines


_local: Final = threading.local()


def thread_encoder() -> DepthEncoder:
    """This thread's DepthEncoder, made on first use: a long-lived cache for a service.

    Per thread because an encoder's cache is updated in steps that must not interleave.
    """
    encoder: DepthEncoder | None = getattr(_local, "encoder", None)
    if encoder is None:
        encoder = _local.encoder = DepthEncoder()
    return encoder
