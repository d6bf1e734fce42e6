"""The pure matching engine: order books, matching, snapshots, and a file replay.

The core (`Matcher`) does no I/O and reads no clock; Kafka, files and CLIs import it,
never the reverse. See docs/engine.md for the semantics.
"""

from engine.config import EngineConfig
from engine.events import BOOK, ORDER_EVENTS, PRICES, TOPICS, TRADES, Event, Message
from engine.matching import Matcher
from engine.ticks import TickSize

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
]
