"""The pure matching engine: order books, matching, snapshots, and a file replay.

The core (`Matcher`) does no I/O and reads no clock; Kafka, files and CLIs import it,
never the reverse. See docs/engine.md for the semantics.

The hot modules run compiled (mypyc) when `make install` built them, as plain Python
otherwise or with OB_ENGINE_PURE=1: `engine.native.select()` decides, before they load.
"""

from engine import native

native.select()

from engine.config import EngineConfig  # noqa: E402
from engine.events import (  # noqa: E402
    BOOK,
    ORDER_EVENTS,
    PRICES,
    TOPICS,
    TRADES,
    Event,
    Message,
    key_of,
    topic_of,
)
from engine.matching import Matcher  # noqa: E402
from engine.ticks import TickSize  # noqa: E402

__all__ = [
    "BOOK",
    "ORDER_EVENTS",
    "PRICES",
    "TOPICS",
    "TRADES",
    "EngineConfig",
    "Event",
    "Matcher",
    "Message",
    "TickSize",
    "key_of",
    "topic_of",
]
