"""`simulate --to-kafka`: publish a simulation's JSONL files to their topics.

Each line is produced unchanged (the bytes are already the topic format), keyed by
its symbol, with the Kafka record timestamp set to its `time` (ns -> ms), so a
simulated day lands in the hourly windows the data platform reads by timestamp.
Topics are written one after another, each in file order, so per-symbol order holds.

Do not publish `orders` *and* the outputs while an engine consumes `orders` on the
same cluster: it would match the orders again. Publish everything to feed the data
platform without an engine, or only `orders` to let a live engine do the matching.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from orderbook_platform.config import Settings
from orderbook_platform.errors import PlatformError

TOPICS = ("orders", "trades", "prices", "book", "order_events")


class _Routing(msgspec.Struct):
    """The two fields publishing needs; everything else is passed through as bytes."""

    symbol: str | None = None
    time: int | None = None


def publish_directory(
    settings: Settings, directory: Path, topics: list[str] | None = None
) -> dict[str, int]:
    from orderbook_platform.kafka.clients import producer

    chosen = list(topics or TOPICS)
    unknown = [t for t in chosen if t not in TOPICS]
    if unknown:
        raise PlatformError(
            f"cannot publish {', '.join(unknown)}: known topics are {', '.join(TOPICS)}"
        )
    decode = msgspec.json.Decoder(_Routing).decode
    default_key = settings.default_symbol.encode()
    writer = producer(settings.kafka, **{"linger.ms": 20, "batch.size": 1_000_000})
    published: dict[str, int] = {}
    for topic in chosen:
        path = directory / f"{topic}.jsonl"
        if not path.exists():
            continue
        count = 0
        with open(path, "rb") as lines:
            for line in lines:
                line = line.rstrip(b"\n")
                if not line:
                    continue
                routing = decode(line)
                key = routing.symbol.encode() if routing.symbol else default_key
                timestamp = (routing.time or 0) // 1_000_000
                while True:
                    try:
                        writer.produce(topic, value=line, key=key, timestamp=timestamp)
                        break
                    except BufferError:
                        writer.poll(0.1)
                count += 1
                if count % 10_000 == 0:
                    writer.poll(0)
        published[topic] = count
    if writer.flush(120) != 0:
        raise PlatformError("some published messages were not acknowledged within 120 s")
    return published
